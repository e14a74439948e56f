"""What the chaos suite (t/chaos/) adds to the harness: which snapshot a
front-end held at any moment of a run, read from its tune-status page;
the stack it runs (ChaosStack, started by t/chaos/conftest.py) with loads
on both front-ends at once; and the file its summary lines are collected
in."""

import bisect
import json
import os
import threading
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

from .client import Answer, Load, TuneInLoad
from .icecast import Listener
from .net import wait_until
from .nginx import proxy_location
from .paths import build_dir
from .process import ConfiguredServer


def report_path() -> Path:
    """$TUNESLOT_CHAOS_REPORT, default $TUNESLOT_BUILD/chaos.txt."""
    env = os.environ.get("TUNESLOT_CHAOS_REPORT")
    return Path(env) if env else build_dir() / "chaos.txt"


def report(line: str) -> str:
    """Prints a summary line and appends it, time-stamped, to report_path()."""
    print(line)
    path = report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
    return line


class SnapshotWatch:
    """Reads a front-end's tune-status JSON every period seconds, in a thread
    of the test, for at most max_seconds.

    Both modules report the generation they hold and its age_ms: how long
    ago, by the front-end's monotonic clock, they installed it.  A sample
    sent at t0 and answered at t1 (the test's time.monotonic()) thus places
    that installation between t0 - age and t1 - age; the samples of one
    generation narrow it down to the latest lower and the earliest upper
    bound.

    Generations only grow (redis/SCHEMA.md), so a sample taken after a
    moment settles what was held at that moment when its generation was
    installed by then: held_at().  Otherwise a generation the samples never
    saw may have come and gone in between (a status request held up, as
    Apache holds requests while it restarts gracefully), and the moment is
    left unjudged.
    """

    def __init__(self, front: ConfiguredServer, path: str, period: float = 0.05,
                 max_seconds: float = 120.0):
        self.front, self.path, self.period = front, path, period
        self.max_seconds = max_seconds
        self.samples = 0
        self.failed = 0                  # samples without an answer or a snapshot
        self._taken: list[tuple[float, int]] = []           # (t0, generation), in order
        self._bounds: dict[int, list[float]] = {}           # generation: [earliest, latest]
        self._written: dict[int, int] = {}                  # generation: written_ms (tuneslotd's wall clock)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch {front.name}", daemon=True)

    def start(self) -> "SnapshotWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                r = self.front.get(self.path, timeout=5.0)
                snap = json.loads(r.body).get("snapshot") if r.status == 200 else None
            except (OSError, ValueError):
                snap = None
            t1 = time.monotonic()
            with self._lock:
                self.samples += 1
                if snap is None:
                    self.failed += 1
                else:
                    g, age = snap["generation"], snap["age_ms"] / 1000
                    self._taken.append((t0, g))
                    self._written[g] = snap["written_ms"]
                    b = self._bounds.setdefault(g, [t0 - age, t1 - age])
                    b[0], b[1] = max(b[0], t0 - age), min(b[1], t1 - age)
            self._stop.wait(max(0.0, self.period - (time.monotonic() - t0)))

    def installs(self) -> list[tuple[float, int]]:
        """(installed at the latest, generation) of every generation seen, in time order."""
        with self._lock:
            return sorted((hi, g) for g, (_, hi) in self._bounds.items())

    def written_during(self, began_ms: float, until: float) -> list[tuple[float, int]]:
        """(installed at the latest, generation) of the rounds tuneslotd wrote
        after began_ms (unix ms, its clock and the test's time.time()) that
        were installed by until (the test's monotonic clock) at the latest.

        The latest bound of an installation may lie well after it (a status
        answer that took long), so "installed between two moments" would
        count a round installed just before the first; a round written
        after it cannot have been."""
        with self._lock:
            return sorted((hi, g) for g, (_, hi) in self._bounds.items()
                          if hi <= until and self._written[g] > began_ms)

    def held_at(self, moment: float) -> tuple[float, int] | None:
        """(installed at the latest, generation) of the snapshot held at
        moment, when the first sample sent after it settles that; else None."""
        with self._lock:
            i = bisect.bisect_left(self._taken, (moment, -1))
            if i == len(self._taken):
                return None
            g = self._taken[i][1]
            hi = self._bounds[g][1]
        return (hi, g) if hi <= moment else None

    def age_at(self, moment: float) -> float | None:
        """How long, at least, the snapshot held at moment had been held
        (seconds); None when held_at() cannot settle it."""
        held = self.held_at(moment)
        return None if held is None else moment - held[0]

    def wait_for_sample_after(self, moment: float, timeout: float) -> bool:
        """Waits until a sample sent after moment has come back; False after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._taken and self._taken[-1][0] > moment:
                    return True
            time.sleep(0.02)
        return False

    def wait_for_generation_after(self, moment: float, timeout: float) -> float:
        """Waits until a generation installed after moment is seen; when it
        was installed at the latest.  TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            later = [t for t, _ in self.installs() if t > moment]
            if later:
                return later[0]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.front.name}: no snapshot installed within {timeout}s "
                                   f"of {moment:.2f}; seen {self.installs()[-3:]}")
            time.sleep(0.05)


# ---- the stack ----------------------------------------------------------------------------

INTERVAL = 0.5              # tuneslotd's poll interval, seconds
REFRESH = 0.05              # both front-ends' refresh (tune_refresh, TuneRefresh)
CAPACITY = 100_000          # <max-listeners> of /demo on each Icecast: herd control never fills it
BACKENDS = ("ice-a", "ice-b")
FRONTS = ("nginx", "apache")
STATUS = "/tune-status"

#: both front-ends name the slot they streamed in proxy mode, and how it went
NGINX_PROXY = proxy_location("/listen/", "    add_header X-Tune-Backend $tune_backend always;\n"
                                         "    add_header X-Tune-Outcome $tune_outcome always;\n")
APACHE_PROXY = ('<Location "/listen/">\n'
                "    SetHandler tune\n"
                "    TuneMode proxy\n"
                "    Require all granted\n"
                '    Header always set X-Tune-Backend "%{TUNE_BACKEND}e"\n'
                '    Header always set X-Tune-Outcome "%{TUNE_OUTCOME}e"\n'
                "</Location>\n")


class Run:
    """A load and a SnapshotWatch on each front-end, while the with block of
    ChaosStack.running() lasts; loads[front] holds the Load afterwards."""

    def __init__(self, stack: "ChaosStack", clients: int, pause: float):
        self.stack = stack
        self.watches = {f: SnapshotWatch(stack.fronts[f], STATUS) for f in FRONTS}
        keep_alive = stack.mode == "redirect"
        self._loads = {f: TuneInLoad(stack.fronts[f].port, stack.path, stack.answered_right,
                                     clients=clients, pause=pause, keep_alive=keep_alive)
                       for f in FRONTS}
        self.loads: dict[str, Load] = {}

    def start(self) -> None:
        for w in self.watches.values():
            w.start()
        # the first samples place the snapshot held before any tune-in is judged
        wait_until(lambda: all(w.samples > w.failed for w in self.watches.values()), 5,
                   "a first tune-status sample holding a snapshot from each front-end")
        for load in self._loads.values():
            load.start()

    def stop(self) -> None:
        for f, load in self._loads.items():
            self.loads[f] = load.stop()
        # a sample sent after the last answer settles what it was answered from
        last = max((a.ended for load in self.loads.values() for a in load.answers),
                   default=time.monotonic())
        for w in self.watches.values():
            w.wait_for_sample_after(last, timeout=5.0)
        for w in self.watches.values():
            w.stop()

    def answers_so_far(self, front: str) -> list[Answer]:
        return self._loads[front].answers_so_far()


class ChaosStack:
    """What make_chaos() started.  mode "redirect" tunes in at /tune/demo
    (302), "proxy" at /listen/demo (the stream, its head read and the
    connection closed)."""

    def __init__(self, mode, redis, relay, ice, schedulers, nginx, apache):
        self.mode, self.redis, self.relay, self.ice = mode, redis, relay, ice
        self.schedulers, self.nginx, self.apache = schedulers, nginx, apache
        self.fronts = {"nginx": nginx, "apache": apache}
        self.path = "/tune/demo" if mode == "redirect" else "/listen/demo"
        self.urls = {ice[b].url("/demo"): b for b in BACKENDS}

    def backend(self, a: Answer) -> str | None:
        """The backend that answered: the Location's, or the proxied one's."""
        if self.mode == "redirect":
            return self.urls.get(a.location) if a.status == 302 else None
        return a.headers.get("x-tune-backend") if a.status == 200 else None

    def first_try(self, a: Answer) -> str | None:
        """The backend the front-end offered first: in proxy mode a tune-in
        that was tried on one slot and streamed from the next one says
        "proxy-retry" (with two backends, the other one was tried first)."""
        b = self.backend(a)
        if self.mode == "proxy" and a.headers.get("x-tune-outcome") == "proxy-retry":
            others = [x for x in BACKENDS if x != b]
            return others[0] if len(others) == 1 else None
        return b

    def answered_right(self, a: Answer) -> bool:
        return self.backend(a) in BACKENDS

    @contextmanager
    def running(self, clients: int | None = None, pause: float | None = None):
        """Loads on both front-ends at once (redirect: 3 keep-alive clients
        each, 2 ms apart; proxy: 2 clients, 20 ms apart) and a watch of
        each one's snapshot."""
        if clients is None:
            clients = 3 if self.mode == "redirect" else 2
        if pause is None:
            pause = 0.002 if self.mode == "redirect" else 0.02
        run = Run(self, clients, pause)
        run.start()
        try:
            yield run
        finally:
            run.stop()

    def listener(self, front: str) -> tuple[str, Listener]:
        """One listener as a player makes it: in redirect mode it follows the
        front-end's 302 to the backend; in proxy mode it streams through
        the front-end.  (its backend, the Listener)."""
        f = self.fronts[front]
        if self.mode == "redirect":
            location = f.get(self.path).header("location")
            u = urllib.parse.urlsplit(location)
            return self.urls[location], Listener(u.hostname, u.port, u.path)
        lst = Listener("127.0.0.1", f.port, self.path)
        status = lst.wait_for_head()
        assert " 200 " in status + " ", (front, status)
        return lst.header("x-tune-backend"), lst

    def leader(self, timeout: float = 10.0):
        """(the tuneslotd holding the writer's lease, the others)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            holding = [t for t in self.schedulers if "holds the lease" in t.log_text()]
            if len(holding) == 1:
                return holding[0], [t for t in self.schedulers if t is not holding[0]]
            time.sleep(0.05)
        raise AssertionError("no single tuneslotd holds the lease: " +
                             "; ".join(t.log_text()[-500:] for t in self.schedulers))
