"""pytest fixtures of tuneslot's integration tests (see t/harness/).

Every daemon a fixture starts is stopped by PID in teardown, and its logs are
checked: a crash, a sanitizer report, an [alert] or an [emerg] line fails the
test that left it (Process.allow() lets a test expect one).  Under a
sanitized build, a report file in the run directory (harness/sanitizer.py)
fails it too, whichever process of the test wrote it.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    Icecast, IcyServer, Listener, LogProblem, Redis, RunDir, SilentServer, Source, StatusServer,
    Tuneslotd, tuneslotd_binary,
)
from harness import sanitizer  # noqa: E402
from harness.net import wait_until  # noqa: E402
from harness.redis import TEST_PASSWORD  # noqa: E402
from harness.snapshot import settled  # noqa: E402
from harness.apache import APACHE, TUNE_LOCATIONS, Apache, module_path, tune_lines  # noqa: E402


def _teardown(processes, request):
    """Stops processes in reverse start order, then checks all their logs;
    reports every problem, not only the first."""
    problems = []
    for p in reversed(processes):
        try:
            p.stop()
        except Exception as e:  # keep stopping the others
            problems.append(f"{p.name}: stop failed: {e}")
    for p in processes:
        try:
            p.check()
        except LogProblem as e:
            problems.append(str(e))
    if problems:
        pytest.fail("teardown: " + "\n".join(problems), pytrace=False)


_kept_dirs = pytest.StashKey[list]()


@pytest.fixture
def run_dir(request):
    """A fresh directory under /tmp for this test (TUNESLOT_KEEP=1 keeps it)."""
    d = RunDir(request.node.name)
    yield d
    # after the processes fixture's teardown: every daemon is stopped
    try:
        sanitizer.check(d)
    except LogProblem as e:
        problem = str(e)
    else:
        problem = None
    if d.cleanup():
        request.config.stash.setdefault(_kept_dirs, []).append(f"{request.node.nodeid}: {d}")
    if problem:
        pytest.fail(f"teardown: {problem}", pytrace=False)


def pytest_terminal_summary(terminalreporter, config):
    kept = config.stash.get(_kept_dirs, [])
    if kept:
        terminalreporter.section("run directories kept (TUNESLOT_KEEP=1)")
        for line in kept:
            terminalreporter.write_line(line)


@pytest.fixture
def processes(run_dir, request):
    """Every Process started through the fixtures below, for teardown."""
    started = []
    yield started
    _teardown(started, request)


@pytest.fixture
def redis_server(run_dir, processes):
    """A running redis-server on a free port, without persistence."""
    r = Redis(run_dir)
    processes.append(r)
    return r.start()


@pytest.fixture
def redis_with_password(run_dir, processes):
    """requirepass for the default user, and an ACL user "tune" with its own password."""
    r = Redis(run_dir, password=TEST_PASSWORD,
              extra_args=["--user", "tune", "on", ">tune-" + TEST_PASSWORD, "~*", "&*", "+@all"])
    processes.append(r)
    return r.start()


@pytest.fixture
def make_icecast(run_dir, processes):
    """make_icecast(max_listeners={"/demo": 5}, start=True) -> a running Icecast."""
    def make(max_listeners=None, start=True, **kw):
        ice = Icecast(run_dir, max_listeners=max_listeners, **kw)
        processes.append(ice)
        return ice.start() if start else ice
    return make


@pytest.fixture
def make_source(run_dir, processes):
    """make_source(icecast, "/demo", frequency=440) -> an ffmpeg source whose
    mount Icecast already lists."""
    def make(icecast, mount, frequency=440):
        src = Source(run_dir, icecast, mount, frequency)
        processes.append(src)
        return src.start()
    return make


@pytest.fixture
def make_listener():
    """make_listener(icecast, "/demo") -> a Listener, closed in teardown."""
    listeners = []

    def make(icecast, mount):
        lst = Listener.to(icecast, mount)
        listeners.append(lst)
        return lst
    yield make
    for lst in listeners:
        lst.close()


@pytest.fixture
def make_tuneslotd(run_dir, processes):
    """make_tuneslotd(config_dict_or_toml) -> a Tuneslotd, not yet started
    (call .start() or .run_once())."""
    if not tuneslotd_binary().exists():
        pytest.fail(f"{tuneslotd_binary()} is not built; build it or set TUNESLOT_BUILD", pytrace=False)

    def make(config, name="tuneslotd"):
        t = Tuneslotd(run_dir, config, name=name)
        processes.append(t)
        return t
    return make


class Stack:
    """Two Icecast servers carrying /demo: A ("ice-a") with 5 listener slots
    and a 440 Hz tone, B ("ice-b") with 3 slots and an 880 Hz tone;
    tuneslotd polling A through our load.xsl and B through /admin/stats
    every interval seconds; front, the front end a test puts before them."""

    interval = 0.5
    tones = {"ice-a": 440, "ice-b": 880}

    def __init__(self, redis, ice_a, ice_b, tuneslotd):
        self.redis, self.ice_a, self.ice_b, self.tuneslotd = redis, ice_a, ice_b, tuneslotd
        self.front = None

    def url(self, backend: str) -> str:
        return {"ice-a": self.ice_a, "ice-b": self.ice_b}[backend].url("/demo")

    @staticmethod
    def settled(redis) -> bool:
        """Whether the newest round has both slots up, unused, at full weight."""
        return settled(redis.snapshot()[1], {("demo", "ice-a"): 5, ("demo", "ice-b"): 3})

    def urls(self) -> set[str]:
        return {self.url(b) for b in self.tones}

    def location(self) -> str | None:
        """Where a tune-in would go now: a HEAD, which the module answers
        like a GET but does not count as a listener (herd accounting)."""
        r = self.front.get("/tune/demo", method="HEAD")
        assert r.status == 302, r
        return r.header("location")


@pytest.fixture
def icecast_pair(redis_server, make_icecast, make_source, make_tuneslotd):
    """A Stack without its front end, both slots up in the newest round."""
    ice_a = make_icecast(name="ice-a", max_listeners={"/demo": 5})
    ice_b = make_icecast(name="ice-b", max_listeners={"/demo": 3})
    make_source(ice_a, "/demo", Stack.tones["ice-a"])
    make_source(ice_b, "/demo", Stack.tones["ice-b"])
    t = make_tuneslotd({
        "redis": redis_server.address,
        "interval": f"{int(Stack.interval * 1000)}ms",
        # no test of the pair is about slow start (test_scheduler_ops.py is):
        # a backend whose first poll failed is back at full weight as soon as
        # recover_after good polls say so
        "slow_start": "0s",
        "backend": [
            {"name": "ice-a", "format": "load-xsl", "status": ice_a.url("/load.xsl"),
             "public": ice_a.base_url},
            {"name": "ice-b", "format": "icecast-admin", "status": ice_b.url("/admin/stats"),
             "public": ice_b.base_url, "username": ice_b.admin_user,
             "password": ice_b.admin_password},
        ],
        "stream": [{"name": "demo", "mount": "/demo"}],
    }).start()
    # Not merely the first round: the tests take both slots as up at their
    # full weight with all their slots free.  A first poll that failed (a
    # status page slow to answer on a loaded machine) writes a round with
    # that backend down, up again after recover_after good polls.
    wait_until(lambda: Stack.settled(redis_server), 15,
               "a round with A (5 free) and B (3 free) both up at full weight")
    return Stack(redis_server, ice_a, ice_b, t)


@pytest.fixture
def status_server():
    """A fake status page server in the test process."""
    s = StatusServer()
    yield s
    s.stop()


@pytest.fixture
def silent_server():
    """A TCP server that accepts and never answers (a hung Redis or backend)."""
    s = SilentServer()
    yield s
    s.stop()


@pytest.fixture
def icy_server():
    """A SHOUTcast v1 look-alike streaming in the test process
    (metaint 8192, 16 KiB/s); change .mode to "refuse" or "error"."""
    s = IcyServer()
    yield s
    s.stop()


@pytest.fixture
def icy():
    """The proxy tests' SHOUTcast v1 backend: metaint 4096, 32 KiB/s, title
    "Proxy Title"."""
    s = IcyServer(metaint=4096, title="Proxy Title", rate=32768)
    yield s
    s.stop()


@pytest.fixture
def make_apache(run_dir, processes):
    """make_apache(mpm="event", modules=("proxy", "proxy_http"), conf="...")
    -> a running Apache (t/harness/apache.py)."""
    if not Path(APACHE).exists():
        pytest.skip(f"{APACHE} is not installed (scripts/install-deps.sh installs it)")

    def make(start=True, **kw):
        a = Apache(run_dir, **kw)
        processes.append(a)
        return a.start() if start else a
    return make


@pytest.fixture
def make_tune_apache(make_apache):
    """make_tune_apache(redis_address, mpm="event", locations=TUNE_LOCATIONS,
    server_conf="", refresh="50ms", herd_window="0") -> a running Apache
    with mod_tune (start=False: configured only).

    Herd control is off unless herd_window says otherwise (None: the
    module's default): most tests probe with tune-ins whose players never
    connect, which herd control would count against their slots."""
    if not module_path().exists():
        pytest.fail(f"{module_path()} is not built; build it or set TUNESLOT_BUILD", pytrace=False)

    def make(redis_address, *, locations=TUNE_LOCATIONS, server_conf="", refresh="50ms",
             herd_window="0", **kw):
        conf = tune_lines(redis_address, refresh, herd_window) + server_conf + locations
        return make_apache(tune=True, conf=conf, **kw)
    return make
