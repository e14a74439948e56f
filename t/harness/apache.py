"""Debian's Apache 2.4 (/usr/sbin/apache2) on a free port, configured from
scratch in the run directory: nothing of /etc/apache2 is read, modules are
loaded from /usr/lib/apache2/modules by name, and mod_tune from the build."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .net import free_port, wait_for_port
from .paths import build_dir
from . import sanitizer
from .process import BAD_PATTERNS, ConfiguredServer
from .rundir import RunDir

APACHE = "/usr/sbin/apache2"
MODULES_DIR = Path("/usr/lib/apache2/modules")

#: the locations of apache_module/README.md's example (access granted: the
#: server config denies everything else)
TUNE_LOCATION = ('<Location "/tune/">\n    SetHandler tune\n    Require all granted\n'
                 '</Location>\n')
STATUS_LOCATION = ('<Location "/tune-status">\n    SetHandler tune-status\n'
                   '    Require all granted\n</Location>\n')
TUNE_LOCATIONS = TUNE_LOCATION + STATUS_LOCATION

#: Apache writes its levels as [module:level]; a child's crash as a notice
#: of the parent ("child pid 123 exit signal Segmentation fault (11)")
APACHE_BAD_PATTERNS = dict(BAD_PATTERNS, **{
    "apache alert/emerg": re.compile(r"\[[\w.]*:(alert|emerg)\]"),
    "child crash": re.compile(r"exit signal (Segmentation|Aborted|Bus|Illegal|Floating)"),
})


def httpd_stop_crash(report: str) -> bool:
    """Whether a sanitizer report is httpd's own crash of an event child
    being stopped (Apache.problems()): a SEGV in apr_os_sock_get() called
    from mod_mpm_event, with no frame of mod_tune."""
    return ("ERROR: AddressSanitizer: SEGV" in report
            and re.search(r"#0 0x[0-9a-f]+ in apr_os_sock_get ", report) is not None
            and "mod_mpm_event.so" in report and "mod_tune" not in report)


def module_path() -> Path:
    """mod_tune as CMake builds it."""
    return build_dir() / "apache_module" / "mod_tune.so"


def tune_lines(redis_address: str, refresh: str | None = "50ms",
               herd_window: str | None = None) -> str:
    """mod_tune's server-wide directives (None: the module's default)."""
    return (f"TuneRedis {redis_address}\n"
            + (f"TuneRefresh {refresh}\n" if refresh is not None else "")
            + (f"TuneHerdWindow {herd_window}\n" if herd_window is not None else ""))


def mpm_lines(mpm: str, workers: int, start: int | None = None) -> str:
    """MPM directives sized for `workers` simultaneous requests.

    prefork starts `start` children (default 5) and forks the rest on
    demand, as it would in production; event runs 64 threads per child and
    starts ceil(start / 64) children (default 2).
    """
    if mpm == "prefork":
        return (f"StartServers {start or 5}\n"
                "MinSpareServers 5\n"
                f"MaxSpareServers {max(10, workers)}\n"
                f"ServerLimit {workers}\n"
                f"MaxRequestWorkers {workers}\n"
                "MaxConnectionsPerChild 0\n")
    if mpm in ("event", "worker"):
        per_child = 64
        # two children at least: MinSpareThreads (a child's worth) below
        # MaxRequestWorkers, or httpd logs an [mpm_event:error] about it
        children = max(2, -(-workers // per_child))
        return (f"StartServers {-(-(start or per_child * 2) // per_child)}\n"
                f"ServerLimit {children}\n"
                f"ThreadLimit {per_child}\n"
                f"ThreadsPerChild {per_child}\n"
                f"MaxRequestWorkers {children * per_child}\n"
                f"MinSpareThreads {per_child}\n"
                f"MaxSpareThreads {children * per_child}\n"
                "MaxConnectionsPerChild 0\n")
    raise ValueError(f"unknown MPM {mpm!r}")


class Apache(ConfiguredServer):
    """An Apache parent (-DFOREGROUND) with its children.

    mpm is "prefork", "event" or "worker"; modules are names as in
    mod_<name>.so ("proxy", "proxy_http"), loaded after the MPM and
    authz_core; extra_modules are (module symbol, .so path) pairs of our own;
    tune=True loads mod_tune from the build after them.  conf goes at the
    end of the server config (tune_lines() and TUNE_LOCATIONS for mod_tune);
    mpm_conf, when given, replaces mpm_lines(mpm, workers).
    """

    stop_timeout = 30.0      # a parent with a thousand children takes a while
    bad_patterns = APACHE_BAD_PATTERNS

    def __init__(self, run_dir: RunDir, *, name: str = "apache", mpm: str = "event",
                 modules: tuple[str, ...] = (), extra_modules: tuple[tuple[str, str], ...] = (),
                 conf: str = "", workers: int = 150, mpm_conf: str | None = None,
                 log_level: str = "warn", access_log: bool = False, tune: bool = False):
        super().__init__(run_dir, name)
        self.port = free_port()
        self.mpm = mpm
        self.modules = tuple(modules)
        self.extra_modules = tuple(extra_modules) + ((("tune_module", str(module_path())),)
                                                     if tune else ())
        self.tune = tune
        self.conf = conf
        self.workers = workers
        self.mpm_conf = mpm_conf
        self.log_level = log_level
        self.access_log = access_log
        self.dir = run_dir.subdir(self.name)
        self.logs = self.dir / "logs"
        self.runtime = self.dir / "run"
        for d in (self.logs, self.runtime):
            d.mkdir()
        self.conf_path = self.dir / "apache2.conf"
        self.error_log = self.logs / "error.log"
        self.pid_file = self.runtime / "apache2.pid"
        self.as_root = os.geteuid() == 0
        # where the error log ended and when, as the harness began to stop it
        self._stop_offset: int | None = None
        self._stop_time: float | None = None
        if self.as_root:
            # children (nobody) create their mutex and scoreboard files here
            shutil.chown(self.runtime, "nobody", "nogroup")

    # ---- configuration ----------------------------------------------------

    def load_line(self, module: str) -> str:
        return f"LoadModule {module}_module {MODULES_DIR / f'mod_{module}.so'}\n"

    def config_text(self) -> str:
        user = "User nobody\nGroup nogroup\n" if self.as_root else ""
        loads = "".join(self.load_line(m) for m in ("mpm_" + self.mpm, "authz_core") + self.modules)
        loads += "".join(f"LoadModule {sym} {path}\n" for sym, path in self.extra_modules)
        access = (f'LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" timed\n'
                  f"CustomLog {self.logs}/access.log timed\n") if self.access_log else ""
        return (
            f'ServerRoot "{self.dir}"\n'
            "ServerName 127.0.0.1\n"
            f"Listen 127.0.0.1:{self.port}\n"
            f"PidFile {self.pid_file}\n"
            f"DefaultRuntimeDir {self.runtime}\n"
            f"ErrorLog {self.error_log}\n"
            f"LogLevel {self.log_level}\n"
            f"{user}"
            f"{loads}"
            f"{self.mpm_conf if self.mpm_conf is not None else mpm_lines(self.mpm, self.workers)}"
            "Timeout 3600\n"
            "KeepAlive On\n"
            f"{access}"
            "<Directory />\n"
            "    AllowOverride None\n"
            "    Require all denied\n"
            "</Directory>\n"
            f"{self.conf}")

    def config_test_argv(self) -> list[str]:
        return [APACHE, "-t", "-d", str(self.dir), "-f", str(self.conf_path)]

    # ---- life -------------------------------------------------------------

    def env(self) -> dict:
        base = {"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"}
        return sanitizer.env(self.run_dir, base, host=True) if self.tune else base

    def start(self, timeout: float = 20.0) -> "Apache":
        if self.tune and not module_path().exists():
            raise FileNotFoundError(f"{module_path()} is not built; build it or set TUNESLOT_BUILD")
        self.write_config()
        super().start([APACHE, "-d", str(self.dir), "-f", str(self.conf_path), "-DFOREGROUND"],
                      env=self.env())
        wait_for_port("127.0.0.1", self.port, timeout, alive=self.running)
        return self

    def children(self) -> set[int]:
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True)
        return {int(x) for x in out.stdout.split()}

    def _restarts(self) -> int:
        return len(re.findall(r"resuming normal operations", self.error_log_text()))

    def graceful(self, timeout: float = 20.0) -> None:
        """SIGUSR1 (graceful restart: re-reads the config, lets requests in
        flight finish); waits until the parent says it resumed."""
        before = self._restarts()
        self.signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while self._restarts() <= before:
            if not self.running() or time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name}: no restart after SIGUSR1; log:\n"
                                   f"{self.error_log_text()[-2000:]}")
            time.sleep(0.05)

    def _stopping(self) -> None:
        if self._stop_time is None and self.running():
            self._stop_offset = len(self.error_log_text())
            self._stop_time = time.time()

    def stop(self) -> int | None:
        self._stopping()
        return super().stop()

    def problems(self) -> list[str]:
        """As Process.problems(), except for one crash that is httpd's own:
        with the event MPM, a child may die of SIGSEGV while the parent
        stops it (after "caught SIGTERM", or after the harness sent it:
        the parent logs the crash before that line when the child dies
        before it reaps it, as under ASan's slowdown).  A core dump of it (httpd
        2.4.71, Debian) shows the child's main thread faulting in
        apr_os_sock_get() inside mod_mpm_event, every other thread idle,
        mod_tune's refresher asleep in its wait; Debian has reports of
        mod_mpm_event segfaults of this kind.  Such a line is printed, not
        failed on; a crash at any other time, or with another MPM, fails
        the test as before.

        Under a sanitized build ASan, not httpd, handles the SIGSEGV
        (harness/sanitizer.py): the same crash is then a report, set aside
        here when httpd_stop_crash() recognises it and it was written after
        the stop began, with the "AddressSanitizer:DEADLYSIGNAL" line the
        child wrote to the error log; any other report still fails."""
        found = super().problems()
        if self.mpm != "event":
            return found
        text = self.error_log_text()
        stops = [i for i in (text.rfind("AH00491: caught SIGTERM, shutting down"), self._stop_offset)
                 if i is not None and i >= 0]
        if not stops:
            return found
        after_stop = text[min(stops):]
        aside = (sanitizer.set_aside(self.run_dir, self._stop_time, httpd_stop_crash)
                 if self._stop_time is not None else [])
        for name in aside:
            print(f"{self.name}: httpd's event MPM crashed a child while stopping "
                  f"(not counted): sanitizer report {name}", file=sys.stderr)
        deadly = len(aside)
        kept = []
        for p in found:
            line = p.split(": ", 2)[-1]
            if "exit signal Segmentation fault" in line and line in after_stop:
                print(f"{self.name}: httpd's event MPM crashed a child while stopping "
                      f"(not counted): {line}", file=sys.stderr)
                continue
            if deadly and line.endswith("AddressSanitizer:DEADLYSIGNAL") and line in after_stop:
                deadly -= 1
                continue
            kept.append(p)
        return kept

    def graceful_stop(self, timeout: float = 60.0) -> int:
        """SIGWINCH: stops accepting, lets requests in flight finish."""
        self._stopping()
        self.signal(signal.SIGWINCH)
        return self.wait(timeout)


    # ---- mod_tune ---------------------------------------------------------

    def tune_status(self, path: str = "/tune-status") -> dict | None:
        """The tune-status JSON (TUNE_LOCATIONS has it), or None when the
        answer is not a 200."""
        r = self.get(path)
        return json.loads(r.body) if r.status == 200 else None

    def wait_for_generation(self, generation: int, timeout: float = 5.0) -> dict:
        """Waits until the snapshot of that generation is installed; the status."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.tune_status()
            if st and (st.get("snapshot") or {}).get("generation") == generation:
                return st
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name}: generation {generation} not installed within "
                                   f"{timeout}s; status {st}; log:\n{self.error_log_text()[-2000:]}")
            time.sleep(0.05)
