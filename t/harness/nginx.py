"""nginx with ngx_http_tune_module, as Debian ships nginx, on a free port."""

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .net import free_port, wait_for_port
from .paths import build_dir
from .process import ConfiguredServer
from .rundir import RunDir

NGINX = "/usr/sbin/nginx"


def module_path() -> Path:
    return build_dir() / "nginx" / "objs" / "ngx_http_tune_module.so"


def _as_root_lines() -> str:
    # a root master starts its workers as "nobody" unless told otherwise
    return "user nobody nogroup;\n" if os.geteuid() == 0 else ""


class Response:
    """What one request got back: status, headers (lower-case names, every
    value of a repeated header) and the raw header block."""

    def __init__(self, status: int, headers: list[tuple[str, str]], raw: bytes, body: bytes = b""):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.body = body

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers}>"


class Nginx(ConfiguredServer):
    """An nginx master (daemon off) with its workers, configured in its own
    prefix directory of the run directory.

    http_conf and server_conf are extra lines for the http and server blocks;
    the server has `location /tune/ { tune; }` and answers 404 elsewhere
    unless locations replaces that.  module=False leaves the module out
    (a plain nginx to compare with); worker_connections also sets each
    worker's open-file limit (twice as many: a proxied request holds two).
    """

    def __init__(self, run_dir: RunDir, redis_address: str | None, *, name: str = "nginx",
                 workers: int = 2, refresh: str = "100ms", herd_window: str | None = None,
                 http_conf: str = "",
                 server_conf: str = "", locations: str | None = None, module: bool = True,
                 worker_connections: int = 1024):
        super().__init__(run_dir, name)
        self.module = module
        self.worker_connections = worker_connections
        self.port = free_port()
        self.prefix = run_dir.subdir(self.name)
        for d in ("tmp", "logs"):
            (self.prefix / d).mkdir()
        self.conf_path = self.prefix / "nginx.conf"
        self.error_log = self.prefix / "logs" / "error.log"
        self.redis_address = redis_address
        self.workers = workers
        self.refresh = refresh
        self.herd_window = herd_window
        self.http_conf = http_conf
        self.server_conf = server_conf
        self.locations = locations if locations is not None else (
            "location /tune/ { tune; }\n"
            "location / { return 404; }\n")

    # ---- configuration ----------------------------------------------------

    def config_text(self) -> str:
        p = self.prefix
        redis = (f"tune_redis {self.redis_address};\n"
                 f"tune_refresh {self.refresh};\n") if self.redis_address else ""
        if self.herd_window is not None:
            redis += f"tune_herd_window {self.herd_window};\n"
        load = f"load_module {module_path()};\n" if self.module else ""
        nofile = (f"worker_rlimit_nofile {2 * self.worker_connections};\n"
                  if self.worker_connections > 1024 else "")
        return (
            f"{load}"
            f"{_as_root_lines()}"
            "daemon off;\n"
            "master_process on;\n"
            f"worker_processes {self.workers};\n"
            f"pid {p}/nginx.pid;\n"
            f"error_log {self.error_log} info;\n"
            f"{nofile}"
            f"events {{ worker_connections {self.worker_connections}; }}\n"
            "http {\n"
            f"access_log {p}/logs/access.log;\n"
            f"client_body_temp_path {p}/tmp/body;\n"
            f"proxy_temp_path {p}/tmp/proxy;\n"
            f"fastcgi_temp_path {p}/tmp/fastcgi;\n"
            f"uwsgi_temp_path {p}/tmp/uwsgi;\n"
            f"scgi_temp_path {p}/tmp/scgi;\n"
            f"{redis}"
            f"{self.http_conf}"
            "server {\n"
            f"listen 127.0.0.1:{self.port};\n"
            f"{self.server_conf}"
            f"{self.locations}"
            "}\n"
            "}\n")

    def config_test_argv(self) -> list[str]:
        return [NGINX, "-t", "-p", str(self.prefix), "-c", str(self.conf_path)]

    # ---- life -------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> "Nginx":
        if self.module and not module_path().exists():
            raise FileNotFoundError(f"{module_path()} is not built; build it or set TUNESLOT_BUILD")
        self.write_config()
        super().start([NGINX, "-p", str(self.prefix), "-c", str(self.conf_path)])
        wait_for_port("127.0.0.1", self.port, timeout, alive=self.running)
        return self

    def worker_pids(self) -> set[int]:
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True)
        return {int(x) for x in out.stdout.split()}

    def reload(self, timeout: float = 15.0) -> None:
        """SIGHUP, and waits until the old workers are replaced."""
        old = self.worker_pids()
        self.signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.worker_pids()
            if len(now - old) >= self.workers:
                return
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: workers not replaced after SIGHUP")

    # ---- requests ---------------------------------------------------------

    def get(self, path: str, method: str = "GET", timeout: float = 5.0) -> Response:
        """One request, redirects not followed."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path)
            r = conn.getresponse()
            body = r.read()
            headers = [(k.lower(), v) for k, v in r.getheaders()]
            return Response(r.status, headers, b"", body)
        finally:
            conn.close()

    def raw(self, request_target: bytes, timeout: float = 5.0) -> Response:
        """A request line sent byte for byte (no client-side normalising of
        the path), with the whole header block kept for inspection."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(b"GET " + request_target + b" HTTP/1.1\r\nHost: test\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = []
        for line in lines[1:]:
            k, _, v = line.decode("latin-1").partition(":")
            headers.append((k.strip().lower(), v.strip()))
        return Response(status, headers, head, body)
