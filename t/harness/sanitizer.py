"""Running a sanitized build (cmake -DTUNESLOT_SANITIZE=ON): the environment
its processes get, and the reports they leave behind.

tuneslotd is linked with ASan and UBSan; Debian's nginx and apache2 are not,
so they load the sanitized modules only with the ASan runtime preloaded (a
dlopen()ed libasan refuses to start).  Every sanitized process writes its
reports into <run dir>/sanitizer/ (log_path), one file per process and
report kind, so that a report of an nginx worker or an httpd child, whose
stderr nobody reads, is never lost; reports(run_dir) lists them and the
run_dir fixture fails the test when there is one.
"""

import functools
import os
import re
import subprocess
from pathlib import Path

from .paths import build_dir
from .process import LogProblem

#: the directory of the run directory the reports go to
REPORT_DIR = "sanitizer"

#: report files: ASan's (LeakSanitizer's too) and UBSan's, with ".<pid>"
REPORT_FILE = re.compile(r"^(asan|ubsan)\.\d+$")

#: what set_aside() adds to the name of a report it sets aside
SET_ASIDE = ".set-aside"


def _cache(build: Path) -> dict[str, str]:
    """CMakeCache.txt of a build directory as name -> value."""
    values = {}
    try:
        text = (build / "CMakeCache.txt").read_text(errors="replace")
    except FileNotFoundError:
        return values
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z_][\w.-]*):[A-Z]+=(.*)$", line)
        if m:
            values[m.group(1)] = m.group(2)
    return values


@functools.cache
def _sanitized(build: Path) -> bool:
    return _cache(build).get("TUNESLOT_SANITIZE", "").upper() in ("ON", "1", "TRUE", "YES")


def enabled() -> bool:
    """Whether the build under test (TUNESLOT_BUILD) is a sanitized one."""
    return _sanitized(build_dir())


@functools.cache
def _runtime(build: Path) -> tuple[str, ...]:
    compiler = _cache(build).get("CMAKE_C_COMPILER") or "cc"
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        out = subprocess.run([compiler, f"-print-file-name={name}"], capture_output=True,
                             text=True, check=True, timeout=30).stdout.strip()
        # a compiler without that runtime prints the bare name back
        if not os.path.isabs(out) or not os.path.exists(out):
            raise FileNotFoundError(f"{compiler} has no {name} (the sanitized build's runtime)")
        libs.append(os.path.realpath(out))
    return tuple(libs)


def runtime() -> tuple[str, ...]:
    """The ASan and UBSan runtimes of the compiler the build used, to
    preload into a host that is not sanitized itself."""
    return _runtime(build_dir())


def report_dir(run_dir) -> Path:
    return Path(str(run_dir)) / REPORT_DIR


def env(run_dir, base: dict | None = None, *, host: bool = False) -> dict:
    """base (default: this process's environment) with what a process of
    the build needs under a sanitized build; base unchanged otherwise.

    host=True is for Debian's nginx and apache2 loading our module: the
    runtimes are preloaded, and leak detection is off, because what those
    servers leave allocated at exit is theirs, not ours (tuneslotd and
    the unit tests keep it on).  UBSan halts at its first report, as the
    build's -fno-sanitize-recover asks; the preload comes first in
    LD_PRELOAD, where ASan's link order check wants it, so that check stays
    on.
    """
    out = dict(os.environ if base is None else base)
    if not enabled():
        return out
    d = report_dir(run_dir)
    # nginx workers and httpd children run as nobody when the tests are root
    d.mkdir(mode=0o777, exist_ok=True)
    os.chmod(d, 0o777)
    asan = [f"log_path={d / 'asan'}", f"detect_leaks={0 if host else 1}"]
    if host:
        # httpd's children install a SIGSEGV handler that only dumps core;
        # ASan's own handler reports the crash with its stack instead
        asan.append("allow_user_segv_handler=0")
    ubsan = [f"log_path={d / 'ubsan'}", "print_stacktrace=1", "halt_on_error=1"]
    out["ASAN_OPTIONS"] = ":".join(asan)
    out["UBSAN_OPTIONS"] = ":".join(ubsan)
    if host:
        out["LD_PRELOAD"] = " ".join([*runtime(), *filter(None, [out.get("LD_PRELOAD")])])
    return out


def reports(run_dir) -> list[str]:
    """Every sanitizer report file of the run directory, each as its name
    and first lines (the whole report is in the file; TUNESLOT_KEEP=1 keeps
    it)."""
    d = report_dir(run_dir)
    if not d.is_dir():
        return []
    found = []
    for path in sorted(d.iterdir()):
        if not path.is_file() or path.name.endswith(SET_ASIDE):
            continue
        text = path.read_text(errors="replace")
        if not REPORT_FILE.match(path.name) and not text.strip():
            continue
        head = "\n    ".join(text.splitlines()[:30])
        found.append(f"{path}:\n    {head}")
    return found


def check(run_dir) -> None:
    """Raises LogProblem when the run directory holds a sanitizer report."""
    found = reports(run_dir)
    if found:
        raise LogProblem("sanitizer reports:\n" + "\n".join(found))


def set_aside(run_dir, since: float, foreign) -> list[str]:
    """Renames the reports written at or after since (time.time(); the
    file system's clock lags by a tick, hence a margin of 0.1 s) for which
    foreign(text) is true, so that check() passes them over (a crash that
    is a server's own, see Apache.problems()); their new names."""
    d = report_dir(run_dir)
    if not d.is_dir():
        return []
    names = []
    for path in sorted(d.iterdir()):
        if not REPORT_FILE.match(path.name) or path.stat().st_mtime < since - 0.1:
            continue
        if foreign(path.read_text(errors="replace")):
            path.rename(path.with_name(path.name + SET_ASIDE))
            names.append(path.name + SET_ASIDE)
    return names
