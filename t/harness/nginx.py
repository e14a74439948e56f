"""nginx with ngx_http_tune_module, as Debian ships nginx, on a free port."""

import os
import signal
import subprocess
import time
from pathlib import Path

from .net import free_port, wait_for_port
from .paths import build_dir
from . import sanitizer
from .process import ConfiguredServer
from .rundir import RunDir

NGINX = "/usr/sbin/nginx"


#: Debian's stream module (libnginx-mod-stream), which ngx_stream_tune_module needs
STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")


def module_path() -> Path:
    return build_dir() / "nginx" / "objs" / "ngx_http_tune_module.so"


def stream_module_path() -> Path:
    return build_dir() / "nginx" / "objs" / "ngx_stream_tune_module.so"


def proxy_location(prefix: str = "/listen/", extra: str = "") -> str:
    """The recommended proxy-mode location of ngx_module/README.md, word for
    word, with extra lines at its end."""
    return f"""
location {prefix} {{
    tune;
    tune_mode proxy;

    proxy_pass $tune_url;
    proxy_buffering off;
    proxy_request_buffering off;
    proxy_read_timeout 1h;
    proxy_send_timeout 1h;
    proxy_connect_timeout 2s;
    proxy_intercept_errors on;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    chunked_transfer_encoding off;

    add_header Access-Control-Allow-Origin * always;
    add_header Access-Control-Expose-Headers "icy-br, icy-description, icy-genre, icy-metaint, icy-name, icy-pub, icy-url" always;
{extra}}}
"""


def _as_root_lines() -> str:
    # a root master starts its workers as "nobody" unless told otherwise
    return "user nobody nogroup;\n" if os.geteuid() == 0 else ""


class Nginx(ConfiguredServer):
    """An nginx master (daemon off) with its workers, configured in its own
    prefix directory of the run directory.

    http_conf and server_conf are extra lines for the http and server blocks;
    the server has `location /tune/ { tune; }` and answers 404 elsewhere
    unless locations replaces that.  stream_conf, when given, is the inside
    of a stream block, with nginx's stream module and ngx_stream_tune_module
    loaded (after ngx_http_tune_module, as its README says; with
    module=False main_conf loads them), after the http block unless
    stream_first.  module=False leaves the module out
    (a plain nginx to compare with, or one given main_conf lines that load
    an installed module); worker_connections also sets each worker's
    open-file limit (twice as many: a proxied request holds two).
    """

    def __init__(self, run_dir: RunDir, redis_address: str | None, *, name: str = "nginx",
                 workers: int = 2, refresh: str = "100ms", herd_window: str | None = None,
                 http_conf: str = "", main_conf: str = "",
                 server_conf: str = "", locations: str | None = None, module: bool = True,
                 worker_connections: int = 1024, stream_conf: str = "",
                 stream_first: bool = False):
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
        self.main_conf = main_conf
        self.server_conf = server_conf
        self.stream_conf = stream_conf
        self.stream_first = stream_first
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
        stream = ""
        if self.stream_conf and self.module:
            load = (f"load_module {STREAM_MODULE};\n{load}"
                    f"load_module {stream_module_path()};\n")
        if self.stream_conf:
            stream = f"stream {{\n{self.stream_conf}}}\n"
        nofile = (f"worker_rlimit_nofile {2 * self.worker_connections};\n"
                  if self.worker_connections > 1024 else "")
        return (
            f"{load}"
            f"{self.main_conf}"
            f"{stream if self.stream_first else ''}"
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
            "}\n"
            f"{'' if self.stream_first else stream}")

    def config_test_argv(self) -> list[str]:
        return [NGINX, "-t", "-p", str(self.prefix), "-c", str(self.conf_path)]

    # ---- life -------------------------------------------------------------

    def env(self) -> dict | None:
        return sanitizer.env(self.run_dir, host=True) if self.module else None

    def start(self, timeout: float = 15.0) -> "Nginx":
        if self.module and not module_path().exists():
            raise FileNotFoundError(f"{module_path()} is not built; build it or set TUNESLOT_BUILD")
        self.write_config()
        super().start([NGINX, "-p", str(self.prefix), "-c", str(self.conf_path)], env=self.env())
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
