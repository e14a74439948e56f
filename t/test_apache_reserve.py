"""mod_tune's TuneProxyReserve (apache_module/README.md, "Proxy mode"): a proxied listener
holds one of Apache's workers for as long as it listens, so a small Apache filled with
listeners answers nothing else.  With the reserve, the tune-in that would take one of the
last N workers is answered without one (302 to the slot, or 503 with Retry-After) and
counted as "reserve", and the site behind the same Apache keeps answering.  Debian's Apache
with MaxRequestWorkers 8 (event: one process of 8 threads; prefork: 8 children at most),
real Redis, and a SHOUTcast v1 look-alike streaming to every listener.  Across a graceful
restart the listeners of the old generation still hold their workers (event, worker: two
processes of 4 threads, so that the old process keeps one of the two scoreboard slots)."""

import re
import socket
import time

import pytest

from harness import slot, snapshot_text
from harness.apache import STATUS_LOCATION
from harness.icecast import play
from harness.icy_server import read_response

WORKERS = 8
INTERVAL_MS = 3000              # the snapshot's interval: Retry-After 3

MPM_CONF = {
    "event": ("StartServers 1\nServerLimit 1\nThreadLimit 8\nThreadsPerChild 8\n"
              "MaxRequestWorkers 8\nMinSpareThreads 1\nMaxSpareThreads 16\n"
              "MaxConnectionsPerChild 0\n"),
    "prefork": ("StartServers 2\nMinSpareServers 1\nMaxSpareServers 8\nServerLimit 8\n"
                "MaxRequestWorkers 8\nMaxConnectionsPerChild 0\n"),
}
MPMS = list(MPM_CONF)

#: two processes of 4 threads at the most, one started: the listeners tuned in before a
#: graceful restart all stream from the first process (slot 0), which the old generation keeps
TWO_PROCESSES = ("StartServers 1\nServerLimit 2\nThreadLimit 4\nThreadsPerChild 4\n"
                 "MaxRequestWorkers 8\nMinSpareThreads 1\nMaxSpareThreads 8\n"
                 "MaxConnectionsPerChild 0\n")
GRACEFUL_CONF = {"prefork": MPM_CONF["prefork"], "event": TWO_PROCESSES,
                 "worker": TWO_PROCESSES}

OUTCOME_LOG = 'LogFormat "%U %>s %{TUNE_OUTCOME}e" outcome\nCustomLog logs/outcome.log outcome\n'


def proxy_location(*lines: str) -> str:
    body = "".join(f"    {line}\n" for line in ("SetHandler tune", "TuneMode proxy",
                                                   "Require all granted") + lines)
    return f'<Location "/listen/">\n{body}</Location>\n' + STATUS_LOCATION


@pytest.fixture
def small_apache(redis_server, make_tune_apache, icy):
    """small_apache(mpm, *location lines, url=the ICY server's, mpm_conf=MPM_CONF[mpm]) -> an
    Apache of 8 workers in proxy mode for the stream "demo" of one slot, its outcomes in
    logs/outcome.log."""
    def make(mpm, *lines, url=None, mpm_conf=None):
        redis_server.put_snapshot(snapshot_text(slot("ice", url or icy.url("/demo"), 1000),
                                                interval_ms=INTERVAL_MS), 1)
        a = make_tune_apache(redis_server.address, mpm=mpm, mpm_conf=mpm_conf or MPM_CONF[mpm],
                             modules=("proxy", "proxy_http"), log_level="warn tune:info",
                             server_conf=OUTCOME_LOG, locations=proxy_location(*lines))
        a.wait_for_generation(1)
        return a
    return make


class Listeners:
    """Listeners of /listen/demo that keep their connection (and so their worker) open
    until close_all()."""

    def __init__(self, port: int):
        self.port = port
        self.socks: list[socket.socket] = []

    def tune_in(self, timeout: float = 15.0):
        """One tune-in on a new connection; its answer's head and first bytes (the
        connection stays open when it streams)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.sendall(b"GET /listen/demo HTTP/1.1\r\nHost: radio.test\r\nConnection: close\r\n\r\n")
        try:
            r = read_response(s, body_bytes=1024, timeout=timeout)
        except BaseException:
            s.close()
            raise
        if r.status == 200:
            self.socks.append(s)
        else:
            s.close()
        return r

    def fill(self, most: int) -> tuple[int, object]:
        """Tunes in until an answer is not a stream, `most` times at the most; how many
        streams it holds, and the first other answer (None: all streamed)."""
        for _ in range(most):
            r = self.tune_in()
            if r.status != 200:
                return len(self.socks), r
        return len(self.socks), None

    def fill_bounded(self, most: int, timeout: float) -> tuple[int, object]:
        """As fill(), but a tune-in not answered within timeout (the listen queue of an
        Apache without a free worker) ends it too, with the TimeoutError as its answer."""
        start = len(self.socks)
        for _ in range(most):
            try:
                r = self.tune_in(timeout=timeout)
            except TimeoutError as e:
                return len(self.socks) - start, e
            if r.status != 200:
                return len(self.socks) - start, r
        return len(self.socks) - start, None

    def close_all(self) -> None:
        for s in self.socks:
            s.close()
        self.socks.clear()


@pytest.fixture
def listeners():
    made = []

    def make(port):
        made.append(Listeners(port))
        return made[-1]
    yield make
    for m in made:
        m.close_all()


def outcomes(apache) -> list[str]:
    path = apache.logs / "outcome.log"
    return path.read_text().splitlines() if path.exists() else []


def wait_for_outcomes(apache, count: int, outcome: str, timeout: float = 5.0) -> list[str]:
    """The access log's lines of that outcome, once it has count of them (logged when a
    request ends)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in outcomes(apache) if line.endswith(" " + outcome)]
        if len(found) >= count:
            return found
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{len(found)} of {count} {outcome!r} lines in "
                               f"{outcomes(apache)}")
        time.sleep(0.05)


def timed_get(apache, path: str, timeout: float):
    t0 = time.monotonic()
    r = apache.get(path, timeout=timeout)
    return r, time.monotonic() - t0


# ---- the reserve kept ---------------------------------------------------------------------

@pytest.mark.parametrize("mpm", MPMS)
def test_reserve_redirects_the_tune_in_that_would_take_a_reserved_worker(small_apache,
                                                                         listeners, icy, mpm):
    """TuneProxyReserve 3 of 8 workers: 5 listeners are proxied, the next tune-ins get a 302
    to the slot (outcome "reserve"), and another request to the same Apache is answered at
    once while every listener still holds its worker."""
    a = small_apache(mpm, "TuneProxyReserve 3")
    crowd = listeners(a.port)
    held, other = crowd.fill(WORKERS)
    assert held == WORKERS - 3, f"{held} listeners proxied; then {other}"
    assert other is not None and other.status == 302, other
    assert other.headers.get("location") == icy.url("/demo")
    assert other.headers.get("cache-control") == "no-store"

    for _ in range(3):
        r = a.get("/listen/demo", timeout=5)
        assert r.status == 302 and r.header("location") == icy.url("/demo"), r

    r, took = timed_get(a, "/tune-status", timeout=5)
    assert r.status == 200 and took < 3, (r, took)

    # every listener still streams: nothing was taken from them
    assert len(icy.requests) == held
    wait_for_outcomes(a, 4, "reserve")
    assert not [line for line in outcomes(a) if line.endswith(" proxy")]
    said = a.error_log_text()
    assert re.search(r'\[tune:info\].*"demo": \d+ \(or more\) of 8 workers busy, '
                     r"TuneProxyReserve keeps 3 free: answered with a redirect", said), said
    assert not re.search(r"\[tune:(error|crit)\]", said), said

    # a listener leaves: its worker serves the next tune-in as a stream again
    crowd.socks.pop().close()
    deadline = time.monotonic() + 10
    while True:
        r = crowd.tune_in()
        if r.status == 200 or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    assert r.status == 200, r.status_line


@pytest.mark.parametrize("mpm", MPMS)
def test_reserve_503_answers_with_retry_after_and_counts_nothing(small_apache, listeners, icy,
                                                                 mpm):
    """TuneProxyReserve 3 503: past the fifth listener a tune-in is a 503 with the
    snapshot's interval as Retry-After (outcome "reserve"), and no backend is asked."""
    a = small_apache(mpm, "TuneProxyReserve 3 503")
    crowd = listeners(a.port)
    held, other = crowd.fill(WORKERS)
    assert held == WORKERS - 3, f"{held} listeners proxied; then {other}"
    assert other is not None and other.status == 503, other
    assert other.headers.get("retry-after") == str(INTERVAL_MS // 1000)
    assert other.headers.get("cache-control") == "no-store"
    assert "location" not in other.headers

    r = a.get("/listen/demo", timeout=5)
    assert r.status == 503 and r.header("retry-after") == "3", r

    r, took = timed_get(a, "/tune-status", timeout=5)
    assert r.status == 200 and took < 3, (r, took)
    # a 503 for the reserve is not a tune-in of the slot's
    assert len(icy.requests) == held
    wait_for_outcomes(a, 2, "reserve")
    assert not re.search(r"\[tune:(error|crit)\]", a.error_log_text())


def test_reserve_in_percent_of_max_request_workers(small_apache, listeners):
    """TuneProxyReserve 25% of 8 workers keeps 2 free: 6 listeners are proxied."""
    a = small_apache("event", "TuneProxyReserve 25%")
    crowd = listeners(a.port)
    held, other = crowd.fill(WORKERS)
    assert held == 6 and other is not None and other.status == 302, (held, other)


def test_default_reserve_keeps_five_workers(small_apache, listeners):
    """Without TuneProxyReserve, 5 workers are kept free: 3 listeners of 8 workers."""
    a = small_apache("event")
    crowd = listeners(a.port)
    held, other = crowd.fill(WORKERS)
    assert held == 3 and other is not None and other.status == 302, (held, other)


def test_player_redirected_by_the_reserve_hears_icecast(make_icecast, make_source,
                                                        small_apache, listeners):
    """Real Icecast behind the reserve: 5 listeners stream through Apache, and a real player
    tuning in past the reserve follows the 302 and decodes the tone from Icecast itself."""
    ice = make_icecast(name="ice", max_listeners={"/demo": 50})
    make_source(ice, "/demo", 440)
    a = small_apache("event", "TuneProxyReserve 3", url=ice.url("/demo"))
    crowd = listeners(a.port)
    held, other = crowd.fill(WORKERS)
    assert held == 5 and other is not None and other.status == 302, (held, other)
    ice.wait_for_listeners("/demo", 5)
    heard = play(a.url("/listen/demo"))
    assert heard.returncode == 0, heard.stderr
    assert heard.seconds >= 1.98 and abs(heard.frequency - 440) < 22, heard
    wait_for_outcomes(a, 2, "reserve")
    r, took = timed_get(a, "/tune-status", timeout=5)
    assert r.status == 200 and took < 3, (r, took)


# ---- across a graceful restart ------------------------------------------------------------

def wait_for(what: str, cond, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout}s: {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("mpm", ("prefork", "event", "worker"))
def test_reserve_counts_the_listeners_of_the_old_generation(small_apache, listeners, icy,
                                                            mpm):
    """Listeners still streaming from the generation before a graceful restart (Debian's
    daily logrotate) hold their workers: prefork's busy children show SERVER_GRACEFUL and
    keep their slots, worker's quiescing process keeps its busy threads' entries, and event's
    keeps a scoreboard slot the new generation cannot start a process in.  TuneProxyReserve 3
    of 8: the old and the new proxied listeners together never pass 5, the tune-ins past
    them are redirected, and a plain request is still answered at once."""
    a = small_apache(mpm, "TuneProxyReserve 3", mpm_conf=GRACEFUL_CONF[mpm])
    # event and worker: 3 listeners and a free thread in the one process started, so that
    # httpd starts no second one; prefork: as many as the reserve lets in
    old_most = WORKERS - 3 if mpm == "prefork" else 3
    old = listeners(a.port)
    held, other = old.fill(old_most)
    assert held == old_most and other is None, (held, other)
    before = a.children()

    a.allow(r"scoreboard is full|server reached MaxRequestWorkers")
    a.graceful()
    # the new generation answers (the old one closed its listening sockets)
    wait_for("a child of the new generation", lambda: a.children() - before)
    a.wait_for_generation(1, timeout=10)
    assert len(icy.requests) == old_most
    for s in old.socks:             # the old listeners still stream
        s.settimeout(5)
        assert s.recv(4096)

    new = listeners(a.port)
    added, other = new.fill_bounded(WORKERS, timeout=5)
    assert old_most + added <= WORKERS - 3, (
        f"{old_most} old + {added} new listeners proxied, then "
        f"{getattr(other, 'status_line', other)!r}")
    assert other is not None and getattr(other, "status", None) == 302, other
    assert other.headers.get("location") == icy.url("/demo")

    r, took = timed_get(a, "/tune-status", timeout=5)
    assert r.status == 200 and took < 3, (r, took)
    assert len(icy.requests) == old_most + added
    said = a.error_log_text()
    assert re.search(r"\[tune:info\].*TuneProxyReserve keeps 3 free: answered with a redirect",
                     said), said
    assert not re.search(r"\[tune:(error|crit)\]", said), said


# ---- without the reserve ------------------------------------------------------------------

@pytest.mark.parametrize("mpm", MPMS)
def test_without_reserve_listeners_starve_every_other_request(small_apache, listeners, mpm):
    """TuneProxyReserve 0 (the old behaviour): 8 listeners take all 8 workers, and a plain
    request to the same Apache gets no answer at all while they listen."""
    a = small_apache(mpm, "TuneProxyReserve 0")
    crowd = listeners(a.port)
    held, other = crowd.fill(WORKERS)
    assert held == WORKERS and other is None
    a.allow(r"server reached MaxRequestWorkers")
    with pytest.raises((socket.timeout, TimeoutError)):
        a.get("/tune-status", timeout=2)
    assert not [line for line in outcomes(a) if line.endswith(" reserve")]
