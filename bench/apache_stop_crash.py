#!/usr/bin/python3
"""How often does an event-MPM Apache crash a child when it is stopped under
load, with mod_tune loaded and without it?  (issue 13; t/README.md, the
crash Apache.problems() sets aside)

Each cycle starts Debian's Apache through the harness (t/harness/apache.py:
event MPM, the harness's mpm_lines() for workers=20, as
t/test_apache_proxy.py runs it), puts it under load, sends it SIGTERM while
the load runs, waits for it to exit and reads its error log.  Two arms,
alternating cycle by cycle (tune, plain, tune, plain, ...) so that the
machine's load falls on both alike:

  tune   mod_proxy, mod_proxy_http, mod_alias and mod_tune (TuneRedis, a
         snapshot put straight into Redis, refresher every 50 ms, herd
         window 0): streams through `/listen/` (SetHandler tune, TuneMode
         proxy), keep-alive tune-ins on `/tune/demo` (302 by mod_tune)
  plain  the same modules without mod_tune: streams through
         `ProxyPass /listen/demo`, keep-alive requests on `/go/demo`
         (`Redirect 302`, mod_alias)

Load of a cycle, the same in both arms: `--streams` long-lived proxied
streams from a small streaming HTTP backend in this process (HTTP/1.0 200
audio/mpeg, 16 KB/s each), read by clients until the end; `--clients`
keep-alive clients sending redirect requests back to back (reconnecting
when Apache closes); `--load-seconds MIN MAX` of that (drawn uniformly,
the same for both cycles of a pair), then SIGTERM.

A crash is the parent's "child pid N exit signal ..." line (what the
harness's "child crash" pattern matches).  Each is recorded with whether it
came after the stop began, whether Apache.problems() would set it aside,
and, when --cores is on (CoreDumpDirectory, RLIMIT_CORE), gdb's backtrace
of all threads of the first few cores of each arm.  Results go to
--out (cycles.jsonl, one line a cycle; crashes/ with the error logs and
backtraces; summary.json), and the summary with Wilson 95% intervals and
Fisher's exact test is printed.

Bounded: at most --cycles per arm, and no new pair of cycles once
--max-seconds have passed (or would pass, at the mean pair time so far).

    TUNESLOT_BUILD=$PWD/build bench/apache_stop_crash.py --cycles 5 --max-seconds 60   # a slice
    TUNESLOT_BUILD=$PWD/build bench/apache_stop_crash.py --cycles 2000 --max-seconds 2880
"""

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "t"))

from harness import Redis, RunDir  # noqa: E402
from harness.apache import (APACHE, STATUS_LOCATION, TUNE_LOCATION, Apache,  # noqa: E402
                            module_path, tune_lines)
from harness.snapshot import slot, snapshot_text  # noqa: E402

MODULES = ("proxy", "proxy_http", "alias")
CRASH = re.compile(r"child pid (\d+) exit signal ([A-Za-z ]+?) \((\d+)\)")
STREAM_RATE = 16384
CHUNK = 1024


# ---- the backend ------------------------------------------------------------------------------

class StreamBackend:
    """HTTP/1.0 200 audio/mpeg, CHUNK bytes at a time at STREAM_RATE bytes/s,
    until the client goes away; a thread per stream."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(5.0)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk or len(data) > 65536:
                    return
                data += chunk
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n"
                         b"icy-name: crash bench\r\n\r\n")
            block = bytes(range(256)) * (CHUNK // 256)
            start, sent = time.monotonic(), 0
            while not self._stop.is_set() and time.monotonic() - start < 600:
                conn.sendall(block)
                sent += CHUNK
                ahead = sent / STREAM_RATE - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self._stop.set()
        self.sock.close()


# ---- the load ---------------------------------------------------------------------------------

class Load:
    """Streams and keep-alive clients against one Apache, until stop()."""

    def __init__(self, port: int, stream_path: str, redirect_path: str, streams: int, clients: int):
        self.port = port
        self.stop_event = threading.Event()
        self.stream_bytes = [0] * streams
        self.requests = [0] * clients
        self.reconnects = [0] * clients
        self.statuses: dict[str, int] = {}
        self.socks: list[socket.socket] = []
        self.lock = threading.Lock()
        self.threads = ([threading.Thread(target=self._stream, args=(i, stream_path), daemon=True)
                         for i in range(streams)]
                        + [threading.Thread(target=self._client, args=(i, redirect_path),
                                            daemon=True) for i in range(clients)])

    def _connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        with self.lock:
            self.socks.append(s)
        return s

    def _stream(self, i: int, path: str):
        try:
            s = self._connect()
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: radio.test\r\n\r\n".encode())
            while not self.stop_event.is_set():
                data = s.recv(65536)
                if not data:
                    return
                self.stream_bytes[i] += len(data)
        except OSError:
            return

    def _client(self, i: int, path: str):
        request = f"GET {path} HTTP/1.1\r\nHost: radio.test\r\n\r\n".encode()
        s, buf = None, b""
        while not self.stop_event.is_set():
            try:
                if s is None:
                    s, buf = self._connect(), b""
                s.sendall(request)
                while b"\r\n\r\n" not in buf:
                    data = s.recv(65536)
                    if not data:
                        raise ConnectionError("closed")
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                status = head.split(b"\r\n", 1)[0].decode("latin-1")
                self.statuses[status] = self.statuses.get(status, 0) + 1
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                need = int(m.group(1)) if m else 0
                while len(buf) < need:
                    data = s.recv(65536)
                    if not data:
                        raise ConnectionError("closed")
                    buf += data
                buf = buf[need:]
                self.requests[i] += 1
                if re.search(rb"(?im)^connection:\s*close", head):
                    raise ConnectionError("close")
            except (OSError, ConnectionError):
                if s is not None:
                    s.close()
                s = None
                self.reconnects[i] += 1
                time.sleep(0.01)     # Apache is gone or going: no busy loop
        if s is not None:
            s.close()

    def start(self, stream_wait: float = 5.0) -> float:
        """Starts the streams, waits until each has had some audio (or
        stream_wait), then the clients; the seconds the streams took."""
        t0 = time.monotonic()
        n = len(self.stream_bytes)
        for t in self.threads[:n]:
            t.start()
        while min(self.stream_bytes, default=CHUNK) < CHUNK and time.monotonic() - t0 < stream_wait:
            time.sleep(0.01)
        for t in self.threads[n:]:
            t.start()
        return time.monotonic() - t0

    def stop(self):
        self.stop_event.set()
        with self.lock:
            for s in self.socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in self.threads:
            t.join(timeout=5)
        with self.lock:
            for s in self.socks:
                s.close()


# ---- one cycle --------------------------------------------------------------------------------

def arm_conf(arm: str, backend: StreamBackend, redis: Redis | None, cores: Path | None) -> str:
    core = f'CoreDumpDirectory "{cores}"\n' if cores else ""
    if arm == "tune":
        return (core + tune_lines(redis.address, "50ms", "0")
                + '<Location "/listen/">\n    SetHandler tune\n    TuneMode proxy\n'
                  '    Require all granted\n</Location>\n'
                + TUNE_LOCATION + STATUS_LOCATION)
    return (core
            + f'ProxyPass "/listen/demo" "{backend.url("/demo")}"\n'
            + f'Redirect 302 "/go/" "{backend.url("/")}"\n'
            + '<Location "/listen/">\n    Require all granted\n</Location>\n'
            + '<Location "/go/">\n    Require all granted\n</Location>\n')


def backtrace(core: Path) -> str:
    out = subprocess.run(["gdb", "-batch", "-nx", "-ex", "info sharedlibrary",
                          "-ex", "thread apply all bt", APACHE, str(core)],
                         capture_output=True, text=True, timeout=120)
    return out.stdout + out.stderr


def faulting_thread(bt: str) -> list[str]:
    """The frames of the thread that faulted, from gdb's `thread apply all
    bt`: the one with "<signal handler called>" (httpd's handler re-raises
    the signal, so gdb's current thread may be another), frames after it;
    else the current thread."""
    blocks = re.split(r"\n(?=Thread \d+ )", bt)
    for b in blocks:
        if "<signal handler called>" in b:
            frames = [x for x in b.splitlines() if x.startswith("#")]
            i = next(i for i, x in enumerate(frames) if "<signal handler called>" in x)
            return frames[i + 1:]
    m = re.search(r"Current thread is (\d+) ", bt)
    for b in blocks:
        if m and b.startswith(f"Thread {m.group(1)} "):
            return [x for x in b.splitlines() if x.startswith("#")]
    return []


def stack_summary(frames: list[str]) -> str:
    """"apr_os_sock_get <- mod_mpm_event.so <- ..." from gdb frames."""
    out = []
    for f in frames:
        m = re.search(r" in (\S+) .*?(?:from \S*/([^/\s]+))?$", f)
        if m:
            out.append(m.group(1) if m.group(1) != "??" else (m.group(2) or "??"))
    return " <- ".join(out)


def cycle(n: int, arm: str, args, backend: StreamBackend, redis: Redis | None, out: Path,
          bt_left: dict, load_seconds: float) -> dict:
    rd = RunDir(f"stopcrash-{arm}-{n}")
    cores = None
    if args.cores:
        cores = rd.subdir("cores", 0o777)
        os.chmod(cores, 0o777)
    rec = {"cycle": n, "arm": arm}
    t0 = time.monotonic()
    a = Apache(rd, mpm="event", modules=MODULES, tune=(arm == "tune"), workers=20,
               conf=arm_conf(arm, backend, redis, cores))
    load = None
    try:
        if arm == "tune":
            redis.put_snapshot(snapshot_text(slot("bench", backend.url("/demo"), 100000),
                                             interval_ms=60000), n)
        a.start()
        if arm == "tune":
            a.wait_for_generation(n, timeout=10)
        rec["children"] = len(a.children())
        load = Load(a.port, "/listen/demo", "/tune/demo" if arm == "tune" else "/go/demo",
                    args.streams, args.clients)
        rec["stream_wait"] = round(load.start(), 3)
        rec["load_seconds"] = load_seconds
        time.sleep(load_seconds)
        rec["streams_flowing"] = sum(b > 0 for b in load.stream_bytes)
        rec["requests_before_stop"] = sum(load.requests)
        ts = time.monotonic()
        rc = a.stop()                 # SIGTERM, 30 s, then SIGKILL
        rec["stop_seconds"] = round(time.monotonic() - ts, 3)
        rec["rc"], rec["killed"] = rc, a.killed
    except Exception as e:            # a failed start is counted, not fatal
        rec["error"] = f"{type(e).__name__}: {e}"
        try:
            a.stop()
        except Exception:
            pass
    finally:
        if load is not None:
            load.stop()
            rec["requests"] = sum(load.requests)
            rec["stream_bytes"] = sum(load.stream_bytes)
            rec["statuses"] = load.statuses
    text = a.error_log_text()
    stop_at = [i for i in (text.rfind("AH00491: caught SIGTERM, shutting down"), a._stop_offset)
               if i is not None and i >= 0]
    first_stop = min(stop_at) if stop_at else None
    problems = a.problems()
    crashes = []
    for m in CRASH.finditer(text):
        line = text[text.rfind("\n", 0, m.start()) + 1:text.find("\n", m.end())]
        crashes.append({"line": line, "signal": m.group(2),
                        "after_stop": first_stop is not None and m.start() >= first_stop,
                        "counted_by_harness": any(line in p for p in problems)})
    rec["crashes"] = crashes
    rec["problems"] = problems
    rec["seconds"] = round(time.monotonic() - t0, 3)
    if crashes or problems or "error" in rec:
        d = out / "crashes" / f"{n:05d}-{arm}"
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(a.error_log, d / "error.log")
        (d / "apache2.conf").write_text(a.config_text())
        if cores:
            for core in sorted(cores.iterdir()):
                if bt_left[arm] > 0 and shutil.which("gdb"):
                    bt_left[arm] -= 1
                    bt = backtrace(core)
                    (d / f"bt-{core.name}.txt").write_text(bt)
                    frames = faulting_thread(bt)
                    rec.setdefault("stacks", []).append({
                        "faulting": stack_summary(frames),
                        "mod_tune_frame": any("mtune" in f or "mod_tune" in f for f in frames),
                        "threads_in_mod_tune": len([b for b in re.split(r"\n(?=Thread \d+ )", bt)
                                                    if "mtune_" in b])})
                rec.setdefault("cores", []).append(core.name)
    rd.cleanup()
    return rec


# ---- figures ----------------------------------------------------------------------------------

def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def fisher_two_sided(a: int, b: int, c: int, d: int) -> float:
    """Fisher's exact test of the 2x2 table [[a, b], [c, d]], two-sided."""
    r1, c1, n = a + b, a + c, a + b + c + d

    def p(x):
        return math.comb(c1, x) * math.comb(n - c1, r1 - x) / math.comb(n, r1)
    obs = p(a)
    lo, hi = max(0, r1 + c1 - n), min(r1, c1)
    return min(1.0, sum(p(x) for x in range(lo, hi + 1) if p(x) <= obs * (1 + 1e-9)))


def summarize(records: list[dict]) -> dict:
    arms = {}
    for arm in ("tune", "plain"):
        rs = [r for r in records if r["arm"] == arm and "error" not in r]
        crashed = [r for r in rs if r["crashes"]]
        lo, hi = wilson(len(crashed), len(rs))
        arms[arm] = {
            "cycles": len(rs),
            "failed_cycles": sum(1 for r in records if r["arm"] == arm and "error" in r),
            "cycles_with_crash": len(crashed),
            "crash_lines": sum(len(r["crashes"]) for r in rs),
            "crashes_before_stop": sum(1 for r in rs for c in r["crashes"] if not c["after_stop"]),
            "crashes_counted_by_harness": sum(1 for r in rs for c in r["crashes"]
                                              if c["counted_by_harness"]),
            "other_problems": sum(1 for r in rs for p in r["problems"] if "exit signal" not in p),
            "killed_after_timeout": sum(1 for r in rs if r.get("killed")),
            "rate": len(crashed) / len(rs) if rs else None,
            "wilson95": [lo, hi],
            "mean_cycle_seconds": (sum(r["seconds"] for r in rs) / len(rs)) if rs else None,
            "mean_stop_seconds": ((sum(r.get("stop_seconds", 0) for r in rs) / len(rs))
                                  if rs else None),
            "streams_flowing_min": min((r.get("streams_flowing", 0) for r in rs), default=0),
            "mean_requests": (sum(r.get("requests", 0) for r in rs) / len(rs)) if rs else None,
        }
    t, p = arms["tune"], arms["plain"]
    arms["fisher_p_two_sided"] = fisher_two_sided(
        t["cycles_with_crash"], t["cycles"] - t["cycles_with_crash"],
        p["cycles_with_crash"], p["cycles"] - p["cycles_with_crash"])
    return arms


def httpd_version() -> str:
    return subprocess.run([APACHE, "-v"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=700, help="at most this many cycles per arm")
    ap.add_argument("--max-seconds", type=float, default=3000,
                    help="no new pair of cycles after this (the run ends within about one pair)")
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--load-seconds", type=float, nargs=2, default=[0.3, 1.5],
                    metavar=("MIN", "MAX"),
                    help="seconds of load before SIGTERM, drawn uniformly, the same for both "
                         "cycles of a pair")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--cores", action=argparse.BooleanOptionalAction, default=True,
                    help="core dumps of crashed children, backtraces of the first few (gdb)")
    ap.add_argument("--backtraces", type=int, default=5, help="per arm, with --cores")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    if not module_path().exists():
        print(f"{module_path()} is not built; build it or set TUNESLOT_BUILD", file=sys.stderr)
        return 2
    out = args.out or Path(f"/tmp/apache_stop_crash-{time.strftime('%Y%m%dT%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    if args.cores:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    meta = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "httpd": httpd_version(), "module": str(module_path()),
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    print(json.dumps(meta), flush=True)

    base = RunDir("stopcrash-base")
    backend = StreamBackend()
    redis = Redis(base).start()
    records: list[dict] = []
    bt_left = {"tune": args.backtraces, "plain": args.backtraces}
    rng = random.Random(args.seed)
    t_start = time.monotonic()
    stopping = False

    def on_signal(*_):
        nonlocal stopping
        stopping = True
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with open(out / "cycles.jsonl", "a") as log:
            pairs = 0
            while pairs < args.cycles and not stopping:
                elapsed = time.monotonic() - t_start
                pair = elapsed / pairs if pairs else 0
                if elapsed + pair > args.max_seconds:
                    break
                load_seconds = round(rng.uniform(*args.load_seconds), 3)
                for arm in ("tune", "plain"):
                    r = cycle(len(records) + 1, arm, args, backend, redis, out, bt_left,
                              load_seconds)
                    records.append(r)
                    log.write(json.dumps(r) + "\n")
                    log.flush()
                    if r["crashes"] or r["problems"] or "error" in r:
                        lines = [c["line"] for c in r["crashes"]]
                        print(f"cycle {r['cycle']} {arm}: crashes {lines} problems {r['problems']} "
                              f"{r.get('error', '')}", flush=True)
                pairs += 1
                if pairs % 25 == 0:
                    s = summarize(records)
                    print(f"{pairs} pairs, {time.monotonic() - t_start:.0f} s: "
                          f"tune {s['tune']['cycles_with_crash']}/{s['tune']['cycles']}, "
                          f"plain {s['plain']['cycles_with_crash']}/{s['plain']['cycles']}",
                          flush=True)
    finally:
        redis.stop()
        backend.stop()
        base.cleanup()
    summary = summarize(records)
    summary["meta"] = meta
    summary["seconds"] = round(time.monotonic() - t_start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    for arm in ("tune", "plain"):
        s = summary[arm]
        if s["cycles"]:
            print(f"{arm}: {s['cycles_with_crash']}/{s['cycles']} cycles crashed a child = "
                  f"{100 * s['rate']:.2f}% (95% {100 * s['wilson95'][0]:.2f}-"
                  f"{100 * s['wilson95'][1]:.2f}%)")
    print(f"Fisher's exact, two-sided: p = {summary['fisher_p_two_sided']:.3g}; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
