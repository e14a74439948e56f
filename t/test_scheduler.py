"""tuneslotd against real Redis, real Icecast 2.4 and real ffmpeg sources
(and a fake status server for failures Icecast cannot be made to produce)."""

import re
import signal
import socket
import threading
import time

import pytest

from harness import decode_snapshot, free_port, wait_until
from harness.redis import GENERATION_KEY, TEST_PASSWORD, Redis
from harness.relay import Relay

UNLIMITED = "unlimited"


# ---- helpers ----------------------------------------------------------------------

def icecast_backend(name, ice, fmt="load-xsl", **extra):
    """A [[backend]] table for a harness Icecast."""
    b = {"name": name, "format": fmt,
         "status": ice.url("/load.xsl" if fmt == "load-xsl" else "/admin/stats"),
         "public": ice.base_url}
    if fmt == "icecast-admin":
        b["username"] = ice.admin_user
        b["password"] = ice.admin_password
    b.update(extra)
    return b


def config(redis, backends, streams, interval="300ms", timeout="250ms"):
    return {"redis": redis.address, "interval": interval, "timeout": timeout,
            "backend": backends,
            "stream": [{"name": n, "mount": m} for n, m in streams.items()]}


def read_snapshot(redis):
    g, text = redis.snapshot()
    return g, (decode_snapshot(text) if text is not None else None)


def wait_for_snapshot(redis, predicate, timeout=10.0, after=0):
    """The first snapshot with a generation > after that satisfies predicate."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        g, snap = read_snapshot(redis)
        if snap is not None and g > after:
            last = (g, snap)
            if predicate(snap):
                return g, snap
        if time.monotonic() >= deadline:
            raise AssertionError(f"no snapshot after generation {after} matched within {timeout}s; last: {last}")
        time.sleep(0.05)


def counts(slot):
    return slot.health, slot.listeners, slot.capacity, slot.free


def assert_log_clean(daemon, warnings_ok=False):
    """No [error] (and, unless allowed, no [warn]) line in tuneslotd's log."""
    levels = r"\[(error|warn)\]" if not warnings_ok else r"\[error\]"
    bad = [line for line in daemon.log_text().splitlines() if re.search(levels, line)]
    assert not bad, "unexpected log lines:\n" + "\n".join(bad)


LOAD_OK = '<load><mount name="/demo" listeners="1" max="10">9</mount></load>'


def one_backend(redis_address, status_server, interval="300ms"):
    """A configuration with one backend, the status server's LOAD_OK."""
    return {"redis": redis_address, "interval": interval,
            "backend": [{"name": "fake", "status": status_server.route("/load.xsl", body=LOAD_OK),
                         "public": "http://radio.example.net"}],
            "stream": [{"name": "demo", "mount": "/demo"}]}


# ---- real Icecast --------------------------------------------------------------------

def test_load_xsl_counts_match_icecast(redis_server, make_icecast, make_source, make_listener, make_tuneslotd):
    """load-xsl through our load.xsl on a real Icecast gives its listeners, capacity and free slots."""
    ice = make_icecast(max_listeners={"/lim": 5})
    make_source(ice, "/lim", 440)
    make_source(ice, "/unl", 660)
    make_listener(ice, "/lim")
    make_listener(ice, "/lim")
    ice.wait_for_listeners("/lim", 2)

    t = make_tuneslotd(config(redis_server, [icecast_backend("ice-a", ice, region="eu", weight=70)],
                              {"lim": "/lim", "unl": "/unl"}))
    assert t.run_once() == 0

    g, snap = read_snapshot(redis_server)
    assert g == snap.written_ms         # an empty Redis: the generation floor is written_ms
    assert snap.interval_ms == 300
    assert snap.backends["ice-a"].health == "up" and snap.backends["ice-a"].reason == ""
    lim = snap.slot("lim", "ice-a")
    assert counts(lim) == ("up", 2, 5, 3)
    assert (lim.weight, lim.region, lim.url) == (70, "eu", ice.url("/lim"))
    assert counts(snap.slot("unl", "ice-a")) == ("up", 0, UNLIMITED, UNLIMITED)
    assert f"round written: generation {g}" in t.log_text()
    assert_log_clean(t)


def test_icecast_admin_counts_match_icecast_and_load_xsl(redis_server, make_icecast, make_source, make_listener,
                                                         make_tuneslotd):
    """icecast-admin (/admin/stats, basic auth) reports the same counts as load-xsl for the same Icecast."""
    ice = make_icecast(max_listeners={"/lim": 4})
    make_source(ice, "/lim")
    make_source(ice, "/unl", 550)
    for _ in range(3):
        make_listener(ice, "/lim")
    make_listener(ice, "/unl")
    ice.wait_for_listeners("/lim", 3)
    ice.wait_for_listeners("/unl", 1)

    t = make_tuneslotd(config(redis_server,
                              [icecast_backend("admin", ice, "icecast-admin"), icecast_backend("xsl", ice)],
                              {"lim": "/lim", "unl": "/unl"}))
    assert t.run_once() == 0

    _, snap = read_snapshot(redis_server)
    assert counts(snap.slot("lim", "admin")) == ("up", 3, 4, 1)
    assert counts(snap.slot("unl", "admin")) == ("up", 1, UNLIMITED, UNLIMITED)
    for stream in ("lim", "unl"):
        assert counts(snap.slot(stream, "admin")) == counts(snap.slot(stream, "xsl"))
    assert_log_clean(t)


def test_listeners_change_free_slots_next_round(redis_server, make_icecast, make_source, make_listener,
                                                make_tuneslotd):
    """Listeners joining and leaving show in the free slots of the next round."""
    ice = make_icecast(max_listeners={"/demo": 5})
    make_source(ice, "/demo")
    t = make_tuneslotd(config(redis_server, [icecast_backend("ice-a", ice)], {"demo": "/demo"}))
    t.start()
    wait_for_snapshot(redis_server, lambda s: counts(s.slot("demo", "ice-a")) == ("up", 0, 5, 5))

    with redis_server.rounds() as rounds:
        listeners = [make_listener(ice, "/demo") for _ in range(3)]
        ice.wait_for_listeners("/demo", 3)
        # the second round published from now on surely polled after this point
        rounds.drain()
        rounds.next(timeout=5)
        rounds.next(timeout=5)
        _, snap = read_snapshot(redis_server)
        assert counts(snap.slot("demo", "ice-a")) == ("up", 3, 5, 2)

        listeners[0].close()
        ice.wait_for_listeners("/demo", 2)
        rounds.drain()
        rounds.next(timeout=5)
        rounds.next(timeout=5)
        _, snap = read_snapshot(redis_server)
        assert counts(snap.slot("demo", "ice-a")) == ("up", 2, 5, 3)
    assert_log_clean(t)


def test_stopped_icecast_is_down_with_reason_and_comes_back(redis_server, make_icecast, make_source,
                                                            make_tuneslotd):
    """A stopped Icecast is down with reason 'connect: ...' (logged once), and up again when restarted."""
    ice = make_icecast()
    make_source(ice, "/demo")
    t = make_tuneslotd(config(redis_server, [icecast_backend("ice-a", ice)], {"demo": "/demo"}))
    t.start()
    wait_for_snapshot(redis_server, lambda s: s.slot("demo", "ice-a").health == "up")

    # tuneslotd is held still while Icecast stops and starts: a poll
    # answered just before the SIGTERM, or one connecting before Icecast's
    # stats thread has run, would crash Icecast 2.4.4 itself (both races are
    # described in t/harness/icecast.py)
    t.signal(signal.SIGSTOP)
    ice.stop()
    t.signal(signal.SIGCONT)
    _, snap = wait_for_snapshot(redis_server, lambda s: s.backends["ice-a"].health == "down", timeout=5)
    b = snap.backends["ice-a"]
    assert b.reason == "connect: Connection refused"
    assert counts(snap.slot("demo", "ice-a")) == ("down", 0, 0, 0)
    assert b.polled_ms > 0
    with redis_server.rounds() as rounds:
        for _ in range(3):
            rounds.next(timeout=5)
    assert t.log_text().count("backend ice-a: up -> down: connect: Connection refused") == 1

    t.signal(signal.SIGSTOP)
    ice.restart()        # same port, no source yet
    t.signal(signal.SIGCONT)
    _, snap = wait_for_snapshot(redis_server, lambda s: s.backends["ice-a"].health == "up", timeout=10)
    assert snap.slot("demo", "ice-a").health == "nosource"
    t.wait_for_log(r"\[notice\] backend ice-a: down -> up", timeout=2)
    assert_log_clean(t, warnings_ok=True)


def test_mount_without_source_is_nosource(redis_server, make_icecast, make_source, make_tuneslotd):
    """A configured mount that has no source is 'nosource' on an up backend, in both formats."""
    ice = make_icecast(max_listeners={"/ghost": 10})
    make_source(ice, "/live")
    t = make_tuneslotd(config(redis_server,
                              [icecast_backend("xsl", ice), icecast_backend("admin", ice, "icecast-admin")],
                              {"live": "/live", "ghost": "/ghost"}))
    assert t.run_once() == 0

    _, snap = read_snapshot(redis_server)
    for backend in ("xsl", "admin"):
        assert snap.backends[backend].health == "up"
        assert snap.slot("live", backend).health == "up"
        assert counts(snap.slot("ghost", backend)) == ("nosource", 0, 0, 0)
        assert f"stream ghost on {backend}: no source on mount /ghost" in t.log_text()
    assert "[error]" not in t.log_text()


# ---- --once, config, signals -------------------------------------------------------------

def test_once_writes_exactly_one_generation(redis_server, status_server, make_tuneslotd):
    """--once polls one round, writes exactly one generation and exits 0."""
    cfg = {"redis": redis_server.address, "interval": "200ms",
           "backend": [{"name": "fake", "status": status_server.route("/load.xsl", body=LOAD_OK),
                        "public": "http://radio.example.net"}],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    t = make_tuneslotd(cfg)
    assert redis_server.generation() is None
    with redis_server.rounds() as rounds:
        assert t.run_once() == 0
        # the --once process has exited: every round it published is queued before the PING's answer
        published = rounds.drain()
    g, snap = read_snapshot(redis_server)
    assert published == [g]
    assert counts(snap.slot("demo", "fake")) == ("up", 1, 10, 9)
    assert len(status_server.requests) == 1
    assert_log_clean(t)


def test_once_fails_when_redis_is_down(status_server, make_tuneslotd):
    """--once exits 1 when the round cannot be written to Redis, and says why."""
    cfg = {"redis": f"127.0.0.1:{free_port()}",
           "backend": [{"name": "fake", "status": status_server.route("/load.xsl", body=LOAD_OK),
                        "public": "http://radio.example.net"}],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    t = make_tuneslotd(cfg)
    assert t.run_once() == 1
    assert re.search(r"\[warn\] redis 127\.0\.0\.1:\d+: connect: Connection refused", t.log_text())


def test_bad_config_is_rejected_with_key_and_line(redis_server, make_tuneslotd):
    """A config with mistakes is refused before anything runs; each error names file:line and key."""
    text = "\n".join([
        f'redis = "{redis_server.address}"',      # 1
        'interval = "1s"',                        # 2
        'timeout = "2s"',                         # 3
        '',                                       # 4
        '[[backend]]',                            # 5
        'name = "ice-a"',                         # 6
        'status = "http://127.0.0.1:1/load.xsl"',  # 7
        'public = "http://a.example.net"',        # 8
        'wieght = 5',                             # 9
        '',                                       # 10
        '[[backend]]',                            # 11
        'name = "ice-a"',                         # 12
        'status = "http://127.0.0.1:2/load.xsl"',  # 13
        'public = "http://b.example.net"',        # 14
        '',                                       # 15
        '[[stream]]',                             # 16
        'name = "demo"',                          # 17
        'mount = "/demo"',                        # 18
    ]) + "\n"
    t = make_tuneslotd(text)
    t.allow(r"\[emerg\]")
    assert t.run_once(timeout=10) == 1
    log = t.log_text()
    path = t.config_path
    assert f"[emerg] {path}:3: timeout: 2000ms is longer than interval (1000ms)" in log
    assert f"[emerg] {path}:9: backend[1].wieght: unknown key" in log
    assert f'[emerg] {path}:12: backend[2].name: duplicate backend name "ice-a" (first at line 6)' in log
    assert f"invalid configuration in {path}, not started" in log
    assert redis_server.generation() is None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_exits_zero(redis_server, status_server, make_tuneslotd, sig):
    """SIGTERM and SIGINT stop the daemon with status 0; SIGHUP does not stop it."""
    cfg = {"redis": redis_server.address, "interval": "200ms",
           "backend": [{"name": "fake", "status": status_server.route("/load.xsl", body=LOAD_OK),
                        "public": "http://radio.example.net"}],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    t = make_tuneslotd(cfg)
    with redis_server.rounds() as rounds:
        t.start()
        rounds.next()

        t.signal(signal.SIGHUP)
        t.wait_for_log(r"\[notice\] SIGHUP received", timeout=5)
        rounds.drain()
        rounds.next(timeout=5)
        rounds.next(timeout=5)
        assert t.running()

    started = time.monotonic()
    t.signal(sig)
    assert t.wait(timeout=5) == 0
    assert time.monotonic() - started < 1.0
    assert f"[notice] {signal.Signals(sig).name} received, exiting" in t.log_text()
    assert "tuneslotd exits with status 0" in t.log_text()
    assert_log_clean(t)


# ---- failures a real Icecast does not produce on demand ----------------------------------

def test_hung_backend_does_not_delay_others(redis_server, status_server, make_tuneslotd):
    """A backend that never answers is down with 'timeout' while the others are polled on time."""
    cfg = {"redis": redis_server.address, "interval": "1s", "timeout": "500ms",
           "backend": [
               {"name": "hung", "status": status_server.hang("/hang.xsl"), "public": "http://h.example.net"},
               {"name": "fast", "status": status_server.route("/load.xsl", body=LOAD_OK),
                "public": "http://f.example.net"}],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    t = make_tuneslotd(cfg)
    with redis_server.rounds() as rounds:
        started = time.monotonic()
        t.start()
        for _ in range(3):
            rounds.next(timeout=5)
        elapsed = time.monotonic() - started
    _, snap = read_snapshot(redis_server)

    assert snap.backends["hung"].health == "down" and snap.backends["hung"].reason == "timeout"
    assert counts(snap.slot("demo", "fast")) == ("up", 1, 10, 9)
    # the fast poll ended long before the hung one timed out
    assert snap.backends["hung"].polled_ms - snap.backends["fast"].polled_ms >= 400
    # three rounds at a 1 s interval: about 2.5 s, not delayed by the hung backend
    assert elapsed < 4.0
    assert t.log_text().count("backend hung: down: timeout") == 1
    assert_log_clean(t, warnings_ok=True)


def test_bad_answers_mark_backends_down_with_reasons(redis_server, status_server, make_tuneslotd):
    """HTTP errors, redirects, oversized bodies and bad XML each make a backend down with a clear reason."""
    s = status_server
    good = s.route("/good.xsl", body=LOAD_OK)
    cases = {
        "e500": (s.route("/e500", status=500, body="oops"), "HTTP 500"),
        "redirect": (s.route("/moved", status=302, headers={"Location": good}), "HTTP 302"),
        "big": (s.route("/big", body=b"<load>" + b" " * (2 * 1024 * 1024) + b"</load>"),
                "body larger than 1048576 bytes"),
        "bigstream": (s.route("/bigstream", body=b"<load>" + b" " * (2 * 1024 * 1024) + b"</load>", length=False),
                      "body larger than 1048576 bytes"),
        "malformed": (s.route("/malformed", body='<load><mount name="/demo">5</load>'), "parse: line 1: "),
        "entity": (s.route("/entity", body='<!DOCTYPE load [<!ENTITY n "5">]><load><mount name="/demo">&n;</mount>'
                                          '</load>'),
                   "parse: <!DOCTYPE> is not allowed in a status document"),
        "negative": (s.route("/negative", body='<load><mount name="/demo">-1</mount></load>'),
                     'parse: mount "/demo": free slots: "-1" is not a whole number >= 0'),
        "wrongroot": (s.route("/wrongroot", body="<html><body>hello</body></html>"),
                      "parse: root element is <html>, expected <load>"),
    }
    backends = [{"name": n, "status": url, "public": f"http://{n}.example.net"} for n, (url, _) in cases.items()]
    cfg = {"redis": redis_server.address, "interval": "3s", "timeout": "3s", "backend": backends,
           "stream": [{"name": "demo", "mount": "/demo"}]}
    t = make_tuneslotd(cfg)
    assert t.run_once() == 0

    _, snap = read_snapshot(redis_server)
    for name, (_, reason) in cases.items():
        b = snap.backends[name]
        assert b.health == "down", name
        assert b.reason.startswith(reason), (name, b.reason)
        assert counts(snap.slot("demo", name)) == ("down", 0, 0, 0)
        assert f"backend {name}: down: {b.reason}" in t.log_text()
    assert "/good.xsl" not in [path for path, _ in s.requests], "a redirect was followed"
    assert "[error]" not in t.log_text()


def test_icecast_admin_sends_basic_auth(redis_server, status_server, make_tuneslotd):
    """icecast-admin polls with HTTP basic auth, and a 401 is a down backend."""
    stats = ('<icestats><source mount="/demo"><listeners>2</listeners>'
             '<max_listeners>8</max_listeners></source></icestats>')
    cfg = {"redis": redis_server.address,
           "backend": [
               {"name": "ok", "status": status_server.route("/admin/stats", body=stats), "format": "icecast-admin",
                "public": "http://ok.example.net", "username": "ops", "password": "pa ss"},
               {"name": "denied", "status": status_server.route("/denied", status=401), "format": "icecast-admin",
                "public": "http://denied.example.net", "password": "x"}],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    t = make_tuneslotd(cfg)
    assert t.run_once() == 0

    _, snap = read_snapshot(redis_server)
    assert counts(snap.slot("demo", "ok")) == ("up", 2, 8, 6)
    assert snap.backends["denied"].reason == "HTTP 401"
    auth = {path: headers.get("Authorization") for path, headers in status_server.requests}
    assert auth["/admin/stats"] == "Basic b3BzOnBhIHNz"      # ops:pa ss
    assert "pa ss" not in t.log_text() and "b3BzOnBhIHNz" not in t.log_text()


def test_redis_restart_is_logged_once_each_way(redis_server, status_server, make_tuneslotd):
    """Redis going away and coming back is logged once each way, and writing resumes (EVAL after NOSCRIPT)."""
    cfg = {"redis": redis_server.address, "interval": "200ms",
           "backend": [{"name": "fake", "status": status_server.route("/load.xsl", body=LOAD_OK),
                        "public": "http://radio.example.net"}],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    t = make_tuneslotd(cfg)
    t.start()
    before, _ = redis_server.wait_for_generation(1)

    redis_server.stop()
    t.wait_for_log(r"rounds are not written until it is back", timeout=3)
    polled = len(status_server.requests)  # several rounds without Redis: polls go on, unwritten
    wait_until(lambda: len(status_server.requests) >= polled + 4, 5, "four rounds without Redis")
    redis_server.restart()               # empty: no script cached, no generation key
    with redis_server.rounds() as rounds:
        after = rounds.next(timeout=5)
    assert after > before                # a generation is never reused
    _, snap = read_snapshot(redis_server)
    assert counts(snap.slot("demo", "fake")) == ("up", 1, 10, 9)

    t.wait_for_log(r"\[notice\] redis [\d.:]+: back", timeout=5)   # logged after the round's PUBLISH
    log = t.log_text()
    assert log.count("rounds are not written until it is back") == 1
    backs = re.findall(r"\[notice\] redis [\d.:]+: back \(Redis [\d.]+\) after (\d+) rounds not written", log)
    assert len(backs) == 1, log
    assert int(backs[0]) >= 3, log           # of the four rounds above, the first may precede the failure
    assert "[error]" not in log


def test_redis_over_a_unix_socket(run_dir, processes, status_server, make_tuneslotd):
    """redis = "unix:/path": the hello (AUTH, SELECT) and the rounds go over the socket, and a connection Redis closes is replaced at once, without a warning."""
    sock = run_dir / "redis.sock"
    redis = Redis(run_dir, password=TEST_PASSWORD, extra_args=["--unixsocket", str(sock), "--unixsocketperm", "700"])
    processes.append(redis)
    redis.start()
    cfg = {"redis": f"unix:{sock}", "redis_password": TEST_PASSWORD, "redis_db": 3, "interval": "200ms",
           "backend": [{"name": "fake", "status": status_server.route("/load.xsl", body=LOAD_OK),
                        "public": "http://radio.example.net"}],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    t = make_tuneslotd(cfg).start()

    def generation():
        with redis.client(3) as c:
            g = c.command("GET", GENERATION_KEY)
        return None if g is None else int(g)

    def wait_for_generation(above):
        deadline = time.monotonic() + 10
        while (g := generation()) is None or g <= above:
            assert time.monotonic() < deadline, t.log_text()
            time.sleep(0.05)
        return g

    first = wait_for_generation(0)
    t.wait_for_log(rf"\[info\] redis unix:{re.escape(str(sock))}: connected \(Redis [\d.]+\), writing rounds")
    clients = redis.command("CLIENT", "LIST").decode()
    assert re.search(r"\bflags=U\b.*\bdb=3\b", clients), clients
    assert redis.command("GET", GENERATION_KEY) is None          # db 0 untouched

    assert redis.command("CLIENT", "KILL", "TYPE", "normal") >= 1
    wait_for_generation(first)
    assert_log_clean(t)


def test_hung_redis_cannot_wedge_the_loop(silent_server, status_server, make_tuneslotd):
    """A Redis that accepts but never answers costs a call one budget (1 s), and the calls after it fail at once until the backoff's next try: rounds go on at their interval, Redis is tried far less often than once a round, and SIGTERM works."""
    cfg = {"redis": silent_server.address, "interval": "200ms",
           "backend": [{"name": "fake", "status": status_server.route("/load.xsl", body=LOAD_OK),
                        "public": "http://radio.example.net"}],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    once = make_tuneslotd(cfg, name="once")
    started = time.monotonic()
    assert once.run_once(timeout=10) == 1
    assert time.monotonic() - started < 4.0
    assert re.search(r"\[warn\] redis 127\.0\.0\.1:\d+: INFO: .*; rounds are not written", once.log_text())

    def polls():
        return sum(1 for path, _ in status_server.requests if path == "/load.xsl")

    first = polls()
    tries = len(silent_server.accept_times)
    t = make_tuneslotd(cfg)
    t.start()
    # Blocking on every call, a round would take a budget or more (five
    # rounds in 5 s at best, each trying Redis); with the backoff (250 ms,
    # doubling up to 4 s) 15 rounds take about 6 s and try Redis about 5 times.
    wait_until(lambda: polls() >= first + 15, 12, "15 rounds while Redis hangs")
    assert len(silent_server.accept_times) - tries <= 15 // 2, silent_server.accept_times
    assert t.log_text().count("rounds are not written until it is back") == 1
    started = time.monotonic()
    t.signal(signal.SIGTERM)
    assert t.wait(timeout=5) == 0
    assert time.monotonic() - started < 2.5


def test_one_budget_for_a_whole_call(redis_server, status_server, make_tuneslotd):
    """A Redis answering each command 0.7 s late (each under the 1 s budget) cannot hold the loop 1.4 s for a call on a new connection (INFO, then the lease script): the call fails at its budget, no round is written that way, and rounds are written once Redis is quick again."""
    relay = Relay(redis_server.host, redis_server.port)
    try:
        relay.slow(0.7)
        t = make_tuneslotd(one_backend(relay.address, status_server)).start()
        t.wait_for_log(r"\[warn\] redis 127\.0\.0\.1:\d+: (INFO|lease): timeout; rounds are not written",
                       timeout=10)
        # A hello answered does not end the backoff, only the call's own
        # command does: 15 rounds (about 8 s) see 4 or 5 tries, where a
        # backoff started again at every connection would make one every
        # 1.25 s (8 tries) and the rounds as slow.
        polls = sum(1 for path, _ in status_server.requests if path == "/load.xsl")
        tries = relay.accepted
        wait_until(lambda: sum(1 for path, _ in status_server.requests if path == "/load.xsl") >= polls + 15, 15,
                   "15 more rounds")
        assert relay.accepted - tries <= 6, relay.accepted - tries     # 4 here; 8 when it started again
        assert redis_server.generation() is None
        relay.slow(0)
        redis_server.wait_for_generation(1, timeout=15)
        t.wait_for_log(r"\[notice\] redis .*: back", timeout=5)
    finally:
        relay.stop()


class FakeRedis:
    """A loopback server in the test process standing in for Redis, each
    connection served by serve(conn) in a thread of its own; stop() ends it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        raise NotImplementedError

    def stop(self):
        self._stop.set()
        self.sock.close()
        self.thread.join(timeout=5)


class TrickleRedis(FakeRedis):
    """A Redis that answers every command with a 100-byte bulk string, one
    byte every 0.1 s: a reply that comes piecemeal, each piece well within
    any per-read timeout.  Counts the bytes it sent before the client hung
    up."""

    def __init__(self):
        self.sent_before_close: list[int] = []
        super().__init__()

    def serve(self, conn):
        with conn:
            conn.settimeout(0.1)
            reply = b"$100\r\n" + b"x" * 100 + b"\r\n"
            sent = 0
            # bounded: one reply's bytes, 11 s at most
            while sent < len(reply) and not self._stop.is_set():
                try:
                    conn.sendall(reply[sent:sent + 1])
                except OSError:
                    break               # the client hung up
                sent += 1
                self._stop.wait(0.1)
            self.sent_before_close.append(sent)


def test_a_reply_in_pieces_cannot_outlast_the_budget(status_server, make_tuneslotd):
    """A reply that comes a byte at a time (each read well within any per-read timeout) still ends the call at its 1 s budget: tuneslotd hangs up after about 10 of the 108 bytes."""
    fake = TrickleRedis()
    try:
        t = make_tuneslotd(one_backend(fake.address, status_server)).start()
        t.wait_for_log(r"\[warn\] redis 127\.0\.0\.1:\d+: INFO: timeout; rounds are not written", timeout=12)
        wait_until(lambda: fake.sent_before_close, 5, "tuneslotd hanging up")
        # 1 s of 0.1 s bytes, with room for a slow machine; the whole reply is 108
        assert fake.sent_before_close[0] < 40, fake.sent_before_close
    finally:
        fake.stop()


class ScriptedRedis(FakeRedis):
    """Enough of Redis for one tuneslotd --once: INFO, the lease script
    (taken, or given back with ttl 0, each recorded) and HGETALL answered as
    Redis would; the round's script (three keys) never answered, as a Redis
    that hangs mid-round."""

    def __init__(self, taken_over_by: bytes = b""):
        self.commands: list[list[bytes]] = []
        # the lease's value lease.lua answers a give-back with: "" (gone),
        # or another instance's that took it over meanwhile
        self.taken_over_by = taken_over_by
        super().__init__()

    @staticmethod
    def _read_command(f) -> list[bytes] | None:
        line = f.readline()
        if not line.startswith(b"*"):
            return None
        args = []
        for _ in range(int(line[1:])):
            n = int(f.readline()[1:])
            args.append(f.read(n + 2)[:-2])
        return args

    def _reply(self, args: list[bytes]) -> bytes | None:
        cmd = args[0].upper()
        if cmd == b"INFO":
            body = b"redis_version:7.0.15\r\n"
            return b"$%d\r\n%s\r\n" % (len(body), body)
        if cmd == b"HGETALL":
            return b"*0\r\n"
        if cmd == b"EVALSHA" and args[2] == b"2":            # lease.lua
            holder, ttl = args[5], args[6]
            if ttl == b"0":
                v = self.taken_over_by
                return b"*2\r\n:0\r\n$%d\r\n%s\r\n" % (len(v), v)
            lease = holder + b" 7"
            return b"*2\r\n:7\r\n$%d\r\n%s\r\n" % (len(lease), lease)
        if cmd == b"EVALSHA":                                # the round: never
            return None
        return b"+OK\r\n"

    def serve(self, conn):
        conn.settimeout(10)
        with conn, conn.makefile("rb") as f:
            while not self._stop.is_set():
                try:
                    args = self._read_command(f)
                except (OSError, ValueError):
                    return
                if args is None:
                    return
                self.commands.append(args)
                reply = self._reply(args)
                if reply is not None:
                    conn.sendall(reply)

    def releases(self) -> int:
        return sum(1 for a in self.commands if a[0].upper() == b"EVALSHA" and a[2] == b"2" and a[6] == b"0")


@pytest.mark.parametrize("taken_over_by", [b"", b"other#0123456789abcdef 9"], ids=["gone", "taken-over"])
def test_a_leader_gives_its_lease_back_even_after_a_failed_call(status_server, make_tuneslotd, taken_over_by):
    """A round that Redis did not answer leaves the connection backing off; the lease is still given back on exit (one try, then), and the line says it was only when Redis says it is gone, not when another instance holds it."""
    fake = ScriptedRedis(taken_over_by)
    try:
        once = make_tuneslotd(one_backend(fake.address, status_server), name="once")
        assert once.run_once(timeout=10) == 1
        log = once.log_text()
        assert re.search(r"\[warn\] redis .*: write: timeout; rounds are not written", log), log
        assert fake.releases() == 1, fake.commands
        if taken_over_by:
            assert "lease given back" not in log, log
            assert "leader: lease already held by other#0123456789abcdef 9; nothing to give back" in log, log
        else:
            assert "leader: lease given back" in log, log
    finally:
        fake.stop()
