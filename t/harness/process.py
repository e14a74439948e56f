"""A daemon under test: started with an argv, logging to a file in the run
directory, stopped by its PID, and checked for signs of trouble."""

import http.client
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from .rundir import RunDir


class LogProblem(AssertionError):
    """A log shows something no test may leave behind."""


# Lines that fail a test wherever they appear, unless the test allows them.
BAD_PATTERNS = {
    "alert": re.compile(r"\[alert\]"),
    "emerg": re.compile(r"\[emerg\]"),
    "AddressSanitizer": re.compile(r"AddressSanitizer|LeakSanitizer"),
    "UBSan": re.compile(r"runtime error:"),
    "crash": re.compile(r"Segmentation fault|core dumped|terminate called|Aborted \(core"),
}

# Exit signals that mean the process crashed rather than was stopped.
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}


class Process:
    """One daemon process.

    The process gets its own session, so a signal meant for the test runner
    (Ctrl-C) does not reach it; it is only ever signalled by its own PID.
    stdout and stderr go to <run dir>/<name>.log.
    """

    #: seconds stop() waits after SIGTERM before SIGKILL
    stop_timeout = 10.0

    #: what problems() looks for in the logs; a subclass may add its own
    bad_patterns = BAD_PATTERNS

    def __init__(self, run_dir: RunDir, name: str):
        self.run_dir = run_dir
        self.name = run_dir.unique(name)
        self.log_path: Path = run_dir / f"{self.name}.log"
        self.popen: subprocess.Popen | None = None
        self.argv: list[str] = []
        self.returncode: int | None = None
        self.killed = False
        self._allowed: list[re.Pattern] = []

    # ---- life -------------------------------------------------------------

    def start(self, argv, env=None, cwd=None) -> "Process":
        if self.popen is not None:
            raise RuntimeError(f"{self.name}: already started")
        self.argv = [str(a) for a in argv]
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=cwd, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name}: not started")
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.running():
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int:
        """Waits for the process to exit; its exit status (negative: the
        signal that ended it).  Raises subprocess.TimeoutExpired."""
        self.returncode = self.popen.wait(timeout=timeout)
        return self.returncode

    def kill(self, timeout: float = 10.0) -> int:
        """SIGKILL (a crash, a power cut), and waits for the exit; the exit
        status.  stop() afterwards does nothing; start() may follow once
        popen is cleared (Redis.start_again())."""
        os.kill(self.pid, signal.SIGKILL)
        return self.wait(timeout)

    def stop(self) -> int | None:
        """SIGTERM, wait up to stop_timeout, then SIGKILL.  Idempotent;
        returns the exit status (None if never started)."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait()
        self.returncode = self.popen.returncode
        return self.returncode

    def env(self) -> dict | None:
        """The environment of the process and of the server's own checks
        (`nginx -t`); None: the test runner's.  A server loading our module
        from a sanitized build gets the sanitizer's (harness/sanitizer.py)."""
        return None

    # ---- logs -------------------------------------------------------------

    def log_paths(self) -> list[Path]:
        """Every log file of the process; subclasses add their own."""
        return [self.log_path]

    def log_text(self) -> str:
        """The process's main log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """Waits until the main log matches the regular expression."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text())
            if m:
                return m
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name}: no log line matching {pattern!r} within {timeout}s; "
                                   f"log:\n{self.log_text()}")
            time.sleep(0.05)

    def allow(self, pattern: str) -> None:
        """Lets lines matching pattern pass the teardown check (a test that
        provokes an [emerg] on purpose)."""
        self._allowed.append(re.compile(pattern))

    def problems(self) -> list[str]:
        """What the teardown check objects to."""
        found = []
        for path in self.log_paths():
            try:
                text = path.read_text(errors="replace")
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                if any(a.search(line) for a in self._allowed):
                    continue
                for what, rx in self.bad_patterns.items():
                    if rx.search(line):
                        found.append(f"{path.name}: {what}: {line.strip()}")
                        break
        rc = self.popen.returncode if self.popen is not None else None
        if rc is not None and rc < 0 and -rc in {int(s) for s in CRASH_SIGNALS}:
            found.append(f"{self.name}: crashed with {signal.Signals(-rc).name}")
        if self.killed:
            found.append(f"{self.name}: did not stop within {self.stop_timeout}s of SIGTERM, killed")
        return found

    def check(self) -> None:
        """Raises LogProblem when problems() finds anything."""
        found = self.problems()
        if found:
            raise LogProblem(f"{self.name} (log {self.log_path}):\n  " + "\n  ".join(found))

    def __repr__(self) -> str:
        state = "running" if self.running() else f"exited {self.returncode}"
        return f"<{type(self).__name__} {self.name} pid={self.popen.pid if self.popen else None} {state}>"


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


class ConfiguredServer(Process):
    """A server started from a configuration file of the test's making
    (conf_path): config_text() makes it, config_test_argv() is the
    server's own check of it (`nginx -t`, `apache2 -t`)."""

    conf_path: Path
    error_log: Path                 # the server's own error log
    port: int                       # its loopback port

    def config_text(self) -> str:
        raise NotImplementedError

    def config_test_argv(self) -> list[str]:
        raise NotImplementedError

    def write_config(self, text: str | None = None) -> Path:
        self.conf_path.write_text(text if text is not None else self.config_text())
        return self.conf_path

    def test_config(self, text: str | None = None) -> subprocess.CompletedProcess:
        """The server's check of this configuration (or of text); never raises."""
        self.write_config(text)
        return subprocess.run(self.config_test_argv(), capture_output=True, text=True, timeout=30,
                              env=self.env())

    def log_paths(self) -> list[Path]:
        return [self.log_path, self.error_log]

    def error_log_text(self) -> str:
        try:
            return self.error_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, *levels: str) -> list[str]:
        """The error log's lines of those levels, as nginx ("[error]") and
        Apache ("[proxy:error]") write them."""
        rx = re.compile(r"\[(?:[\w.]*:)?(?:" + "|".join(levels) + r")\]")
        return [line for line in self.error_log_text().splitlines() if rx.search(line)]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # ---- requests ---------------------------------------------------------

    def get(self, path: str, method: str = "GET", headers: dict[str, str] | None = None,
            timeout: float = 5.0) -> Response:
        """One request, redirects not followed."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            body = r.read()
            return Response(r.status, [(k.lower(), v) for k, v in r.getheaders()], b"", body)
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
