"""ngx_http_tune_module when things around it fail, with real processes:
Redis stopped, restarted empty or blackholed in place (it accepts TCP and
never answers), a scheduler that stopped writing, `nginx -s reload` under
load, and an Icecast killed under a real tuneslotd.  Tune-ins are answered
from the last snapshot for tune_stale, then with 503; no worker stalls; the
outage is logged once; reconnects back off."""

import re
import signal
import time

import pytest

from harness import SilentServer, decode_snapshot
from harness.client import tune_ins_during
from harness.nginx import Nginx

A = "http://127.0.0.1:8001/demo"
B = "http://127.0.0.1:8002/demo"
INTERVAL_MS = 2000          # the snapshots' interval_ms: Retry-After 2
REFRESH = "50ms"            # tune_refresh of these tests
STALE = 3.0                 # tune_stale of the staleness tests, seconds
#: no answer may take this long: a request that waited for Redis would (tune_redis_timeout 200ms)
NO_STALL = 0.3

#: every tune-in's answer and $tune_outcome, in the order they were answered
LOG_FORMAT = "log_format tune '$status $tune_outcome $sent_http_location';\n"


def now_ms() -> int:
    return int(time.time() * 1000)


def snapshot(*urls, written_ms=None, free=100000) -> str:
    """Stream demo on one backend per URL, each up with free slots, written
    at written_ms (default: now)."""
    written = now_ms() if written_ms is None else written_ms
    lines = ["tuneslot-snapshot\t1", f"written_ms\t{written}", f"interval_ms\t{INTERVAL_MS}"]
    for i, url in enumerate(urls):
        lines.append("\t".join(["slot", "demo", f"b{i}", "up", "0", str(free), str(free), "100", "",
                                str(written), url]))
    lines.append("end")
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_nginx(run_dir, processes):
    """make_nginx(redis_address, http_conf="...") -> a running nginx whose
    tune-ins are logged to logs/tune.log in LOG_FORMAT."""
    def make(redis_address, http_conf="", herd_window="0", refresh=REFRESH, **kw):
        n = Nginx(run_dir, redis_address, refresh=refresh, herd_window=herd_window,
                  http_conf=LOG_FORMAT + http_conf,
                  server_conf="access_log logs/tune.log tune;\n", **kw)
        processes.append(n)
        return n.start()
    return make


@pytest.fixture
def stand_in():
    """stand_in(port=..., hang_up=...) -> a SilentServer, stopped in teardown."""
    servers = []

    def make(**kw):
        s = SilentServer(**kw)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()


def wait_for_location(nginx, expected, timeout=5.0, path="/tune/demo"):
    """Polls until a tune-in is sent to expected; the time it was first seen."""
    deadline = time.monotonic() + timeout
    while True:
        r = nginx.get(path)
        if r.header("location") == expected:
            return time.monotonic()
        if time.monotonic() >= deadline:
            raise AssertionError(f"{path}: {r}, expected Location {expected} within {timeout}s")
        time.sleep(0.02)


def probe_until(nginx, until, path="/tune/demo"):
    """GETs one after another until time.monotonic() reaches until (at most
    2,000); every (status, Location, Retry-After) and the slowest answer."""
    answers, worst = [], 0.0
    while time.monotonic() < until and len(answers) < 2000:
        t0 = time.monotonic()
        r = nginx.get(path)
        worst = max(worst, time.monotonic() - t0)
        answers.append((r.status, r.header("location"), r.header("retry-after")))
        time.sleep(0.01)
    return answers, worst


def sleep_until(moment):
    time.sleep(max(0.0, moment - time.monotonic()))


def outcomes(nginx, since: int = 0) -> list[tuple[str, str]]:
    """(status, $tune_outcome) of every tune-in logged so far, from the
    since-th on (before the first snapshot, 503s are "unavailable")."""
    path = nginx.prefix / "logs" / "tune.log"
    return [tuple(line.split()[:2]) for line in path.read_text().splitlines()[since:]]


def stale_503s_only(nginx, since: int) -> bool:
    """Some tune-ins since the since-th got 503 "stale", and no other 503."""
    return {o for o in outcomes(nginx, since) if o[0] == "503"} == {("503", "stale")}


def tune_log(nginx, level, text) -> list[str]:
    """The error log lines of the given level that hold text."""
    return re.findall(rf"\[{level}\].*{text}.*", nginx.error_log_text())


def assert_no_errors(nginx):
    """Beyond the teardown check: no [error] or [crit] line either."""
    bad = [line for line in nginx.error_log_text().splitlines()
           if re.search(r"\[(error|crit)\]", line)]
    assert not bad, "\n".join(bad)


def assert_stale_503(nginx, path="/tune/demo", count=20):
    """count tune-ins in a row get 503 with the snapshot's Retry-After, no Location."""
    for _ in range(count):
        t0 = time.monotonic()
        r = nginx.get(path)
        assert time.monotonic() - t0 < NO_STALL
        assert (r.status, r.header("retry-after"), r.header("location")) == \
            (503, str(INTERVAL_MS // 1000), None), r


# ---- Redis blackholed, restarted empty ------------------------------------------------

def test_redis_blackholed_after_a_snapshot(redis_server, make_nginx, stand_in):
    """Redis replaced by a server that accepts and never answers: the last snapshot is served,
    at once, until tune_stale (one warning), then 503 "stale"; Redis back, 302 and "answers again"."""
    redis_server.put_snapshot(snapshot(A), 1)
    n = make_nginx(redis_server.address,
                   http_conf=f"tune_stale {int(STALE)}s;\ntune_redis_timeout 200ms;\n")
    wait_for_location(n, A)
    written = time.monotonic()
    redis_server.put_snapshot(snapshot(B), 2)
    installed = wait_for_location(n, B)     # staleness counts from here (or a little before)

    mark = len(outcomes(n))
    redis_server.stop()
    hole = stand_in(port=redis_server.port)
    answers, worst = probe_until(n, written + STALE - 0.5)
    print(f"blackholed: {len(answers)} tune-ins, slowest {worst:.3f}s, "
          f"{len(hole.accept_times)} connections to the blackhole")
    assert len(answers) > 50
    assert set(answers) == {(302, B, None)}
    assert worst < NO_STALL, f"slowest tune-in took {worst:.3f}s: a request waited for Redis"
    assert len(hole.accept_times) >= 2, "nginx never (re)connected to the blackhole"

    sleep_until(installed + STALE + 0.3)
    assert_stale_503(n)
    assert stale_503s_only(n, mark)
    assert len(tune_log(n, "warn", "tune: redis at")) == 1, n.error_log_text()

    hole.stop()
    redis_server.restart()
    redis_server.put_snapshot(snapshot(A), 3)
    # the next attempt comes after the backoff reached so far (at most 5 s) and the timeout
    back = time.monotonic()
    wait_for_location(n, A, timeout=8.0)
    print(f"Redis back: answered from it after {time.monotonic() - back:.2f}s")
    assert len(tune_log(n, "notice", "tune: redis at .* answers again")) == 1, n.error_log_text()
    # (a reconnect before the snapshot was written may add "holds no snapshot yet")
    assert len(tune_log(n, "warn", "tune: redis at .*; tune-ins are answered")) == 1, \
        n.error_log_text()
    assert_no_errors(n)


def test_redis_restarted_empty(redis_server, make_nginx):
    """Redis restarted without data: the snapshot held is served until tune_stale, then 503; the
    next write, even of a lower generation (a counter that started again), is served at once."""
    redis_server.put_snapshot(snapshot(A), 1)
    n = make_nginx(redis_server.address, http_conf=f"tune_stale {int(STALE)}s;\n")
    wait_for_location(n, A)
    written = time.monotonic()
    redis_server.put_snapshot(snapshot(B), 2)
    installed = wait_for_location(n, B)

    mark = len(outcomes(n))
    redis_server.restart()
    answers, worst = probe_until(n, written + STALE - 0.5)
    assert len(answers) > 50
    assert set(answers) == {(302, B, None)}
    assert worst < NO_STALL, f"slowest tune-in took {worst:.3f}s"
    assert len(tune_log(n, "warn", "tune: redis at .* holds no snapshot yet")) == 1, \
        n.error_log_text()

    sleep_until(installed + STALE + 0.3)
    assert_stale_503(n)
    assert stale_503s_only(n, mark)

    redis_server.put_snapshot(snapshot(A), 1)
    wait_for_location(n, A, timeout=2.0)
    # still one warning each, however many refresh ticks saw the empty Redis
    assert len(tune_log(n, "warn", "tune: redis at .* holds no snapshot yet")) == 1
    assert len(tune_log(n, "warn", "tune: redis at .*; tune-ins are answered")) == 1
    assert_no_errors(n)


# ---- a scheduler that stopped writing ---------------------------------------------------

#: /tune/ with the http-level tune_stale, /always/ with tune_stale off
TWO_LOCATIONS = ("location /tune/ { tune; }\n"
                 "location /always/ { tune; tune_stale off; }\n"
                 "location / { return 404; }\n")


def test_silent_scheduler_goes_stale_with_redis_answering(redis_server, make_nginx):
    """Rounds stop while Redis answers: 302 for tune_stale after the last new generation (not
    after the first), then 503 "stale"; a location with `tune_stale off` keeps serving."""
    redis_server.put_snapshot(snapshot(A), 1)
    n = make_nginx(redis_server.address, http_conf=f"tune_stale {int(STALE)}s;\n",
                   locations=TWO_LOCATIONS)
    wait_for_location(n, A)
    # a scheduler writing a round every 0.4 s for 2.4 s, then silent
    for generation in range(2, 8):
        time.sleep(0.4)
        written = time.monotonic()
        redis_server.put_snapshot(snapshot(B if generation % 2 else A), generation)
    installed = wait_for_location(n, B)          # generation 7
    mark = len(outcomes(n))

    answers, worst = probe_until(n, written + STALE - 0.5)
    assert set(answers) == {(302, B, None)}
    assert worst < NO_STALL
    sleep_until(installed + STALE + 0.3)
    assert_stale_503(n)
    r = n.get("/always/demo")
    assert (r.status, r.header("location")) == (302, B)
    assert stale_503s_only(n, mark)
    # Redis answered all along: nothing to warn about
    assert not tune_log(n, "warn", "tune:"), n.error_log_text()
    assert_no_errors(n)


def test_snapshot_already_old_at_start_is_stale(redis_server, make_nginx):
    """A snapshot written an hour ago (a scheduler dead since) is not taken as fresh when nginx
    starts: 503 "stale" with the default tune_stale (1m), served by `tune_stale off`; a new round
    is served again."""
    redis_server.put_snapshot(snapshot(A, written_ms=now_ms() - 3600 * 1000), 1)
    n = make_nginx(redis_server.address, locations=TWO_LOCATIONS)
    wait_for_location(n, A, path="/always/demo")     # installed
    mark = len(outcomes(n))
    assert_stale_503(n)
    assert stale_503s_only(n, mark)
    redis_server.put_snapshot(snapshot(B), 2)
    wait_for_location(n, B, timeout=2.0)
    assert_no_errors(n)


# ---- reconnects back off -----------------------------------------------------------------

def test_reconnects_back_off(redis_server, make_nginx, stand_in):
    """With Redis gone for 3 s (a stand-in that hangs up on every connection), nginx reconnects
    at growing intervals from tune_refresh (50 ms) on: a handful of attempts, not one per tick (60),
    one warning; tune-ins are served from the snapshot meanwhile."""
    redis_server.put_snapshot(snapshot(A), 1)
    n = make_nginx(redis_server.address)
    wait_for_location(n, A)
    redis_server.stop()
    gone = stand_in(port=redis_server.port, hang_up=True)
    start = time.monotonic()
    answers, worst = probe_until(n, start + 3.0)
    attempts = [t - start for t in gone.accept_times if t - start < 3.0]
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    print(f"{len(attempts)} connection attempts in 3 s, at " +
          ", ".join(f"{t:.2f}" for t in attempts) + " s")
    assert set(answers) == {(302, A, None)}
    assert worst < NO_STALL
    assert 3 <= len(attempts) < 15, attempts
    # each wait at least as long as the one before, give or take a refresh tick
    assert all(b >= a - 0.06 for a, b in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] >= 0.7, gaps
    assert len(tune_log(n, "warn", "tune: redis at")) == 1, n.error_log_text()
    assert_no_errors(n)


# ---- nginx -s reload under load ----------------------------------------------------------

@pytest.mark.parametrize("refresh", [REFRESH, "250ms"])     # 250ms: tune_refresh's default
def test_reload_under_load_fails_no_tune_in(redis_server, make_nginx, refresh):
    """Four keep-alive clients tuning in (GET) without pause while nginx is reloaded 3 times:
    every tune-in is answered 302 (a request on an idle connection the old worker closed is
    sent again once, as real clients do), none slowly.  With the default tune_refresh, the
    lease must change hands at once: credits in stock last about 200 ms of the demand."""
    # a snapshot never polled again (no tuneslotd): herd control reconciles nothing during the
    # test, so the slot must have room for every tune-in of it and the credits left to expire
    redis_server.put_snapshot(snapshot(A, free=1_000_000), 1)
    # herd control on, as by default: credits stay spendable while a claim is away
    n = make_nginx(redis_server.address, herd_window=None, refresh=refresh)
    wait_for_location(n, A)

    def reload_three_times():
        for _ in range(3):
            n.reload()
            time.sleep(0.5)

    load = tune_ins_during(n.port, "/tune/demo", (302, A), reload_three_times)
    print(f"reload x3 under load (tune_refresh {refresh}): {load.summary()}")
    assert load.requests > 500
    assert load.failures == [], (load.failures[:10], [
        line for line in n.error_log.read_text(errors="replace").splitlines()
        if "not answered" in line or "tune:" in line][:20])
    assert load.worst < 0.5
    assert_no_errors(n)


# ---- a backend that dies -------------------------------------------------------------------

POLL = 0.5                  # tuneslotd's interval in the test below, seconds


def test_dead_backend_is_not_offered_once_reported(redis_server, make_icecast, make_source,
                                                   make_tuneslotd, make_nginx):
    """An Icecast killed (SIGKILL) under a real tuneslotd (fail_after 1): once a round reports it
    down, nginx sends every tune-in to the other, within two poll intervals and a refresh."""
    ice_a = make_icecast(name="ice-a", max_listeners={"/demo": 5})
    ice_b = make_icecast(name="ice-b", max_listeners={"/demo": 5})
    make_source(ice_a, "/demo", 440)
    make_source(ice_b, "/demo", 880)
    make_tuneslotd({
        "redis": redis_server.address,
        "interval": f"{int(POLL * 1000)}ms",
        "fail_after": 1,
        "backend": [
            {"name": name, "format": "load-xsl", "status": ice.url("/load.xsl"),
             "public": ice.base_url}
            for name, ice in (("ice-a", ice_a), ("ice-b", ice_b))],
        "stream": [{"name": "demo", "mount": "/demo"}],
    }).start()
    redis_server.wait_for_generation(1)
    n = make_nginx(redis_server.address)
    a, b = ice_a.url("/demo"), ice_b.url("/demo")

    def where() -> str | None:
        # HEAD: answered like a GET, not counted as a listener
        return n.get("/tune/demo", method="HEAD").header("location")

    deadline = time.monotonic() + 10
    while {where() for _ in range(40)} != {a, b}:
        assert time.monotonic() < deadline, "tune-ins never went to both backends"
        time.sleep(0.05)

    with redis_server.rounds() as rounds:
        killed = time.monotonic()
        ice_a.signal(signal.SIGKILL)
        for _ in range(20):
            rounds.next(timeout=5)
            if decode_snapshot(redis_server.snapshot()[1]).slot("demo", "ice-a").health == "down":
                break
        else:
            raise AssertionError("no round reported ice-a down")
    reported = time.monotonic()

    def only_b(picks=60, mark=20) -> float | None:
        """When the mark-th of picks tune-ins in a row to b came, or None at the first that
        did not.  Until nginx installs the round that says ice-a is down, each pick goes to b
        with probability 1/2: 20 in a row did 1 time in 1e6 (and the 100 below then failed),
        60 do 1 time in 1e18.  The time is taken after the 20th, as it was with 20 picks."""
        at = None
        for k in range(1, picks + 1):
            if where() != b:
                return None
            if k == mark:
                at = time.monotonic()
        return at

    while (followed := only_b()) is None:
        assert time.monotonic() < reported + 2, "ice-a still offered 2 s after it was reported down"
        time.sleep(0.01)
    print(f"ice-a killed: reported down after {reported - killed:.2f}s, "
          f"every tune-in to ice-b after {followed - killed:.2f}s")
    assert {where() for _ in range(100)} == {b}
    assert followed - killed < 2 * POLL + 0.05 + 0.3
    assert_no_errors(n)
