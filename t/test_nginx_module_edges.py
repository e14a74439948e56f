"""ngx_http_tune_module against snapshots of the test's own making (real
Redis, real nginx, no Icecast): worker life cycle, zone sizes, location
forms, and hostile or oversized data coming from Redis."""

import re
import signal
import time

import pytest

from harness.net import wait_until
from harness.nginx import Nginx
from harness.redis import TEST_PASSWORD

#: snapshots are written "now": an old written_ms would be stale (tune_stale)
NOW = int(time.time() * 1000)


def snapshot(*slots, extra_lines=()) -> str:
    """Snapshot text with the given slots: (stream, backend, health, free,
    weight, url) tuples."""
    lines = ["tuneslot-snapshot\t1", f"written_ms\t{NOW}", "interval_ms\t1000"]
    for stream, backend, health, free, weight, url in slots:
        lines.append("\t".join(["slot", stream, backend, health, "0", str(free), str(free),
                                str(weight), "", str(NOW), url]))
    lines.extend(extra_lines)
    lines.append("end")
    return "\n".join(lines) + "\n"


A = "http://127.0.0.1:8001/demo"
B = "http://127.0.0.1:8002/demo"
#: b is up but full, so every tune-in goes to a
GOOD = snapshot(("demo", "a", "up", 10, 100, A), ("demo", "b", "up", 0, 100, B))


@pytest.fixture
def make_nginx(run_dir, processes):
    # these tests look at one nginx's choice, not at the herd (test_herd.py)
    def make(redis_address, start=True, **kw):
        kw.setdefault("herd_window", "0")
        n = Nginx(run_dir, redis_address, refresh="50ms", **kw)
        processes.append(n)
        return n.start() if start else n
    return make


def wait_for_location(nginx, expected, timeout=5.0, path="/tune/demo"):
    deadline = time.monotonic() + timeout
    while True:
        r = nginx.get(path)
        if r.header("location") == expected:
            return r
        if time.monotonic() >= deadline:
            raise AssertionError(f"{path}: {r}, expected Location {expected}")
        time.sleep(0.02)


def fresh(text):
    """text as written now: its NOW timestamps become the current time (tests
    take minutes, and an old snapshot is stale to tune_stale)."""
    return text.replace(str(NOW), str(int(time.time() * 1000)))


def publish(redis, text, generation):
    redis.put_snapshot(fresh(text), generation)


# ---- worker life cycle ----------------------------------------------------------------

def test_graceful_reload_and_quit_close_the_redis_socket(redis_server, make_nginx):
    """Reloads and a graceful quit with Redis up leave no socket open (nginx would log [alert])."""
    publish(redis_server, GOOD, 1)
    n = make_nginx(redis_server.address)
    wait_for_location(n, A)
    for _ in range(2):
        n.reload()
        wait_for_location(n, A)
    n.signal(signal.SIGQUIT)     # graceful shutdown
    n.wait(timeout=15)
    assert n.returncode == 0
    log = n.error_log_text()
    assert "open socket" not in log and "[alert]" not in log, log


def test_new_rounds_are_installed(redis_server, make_nginx):
    """A new generation replaces the snapshot within a few refresh ticks."""
    publish(redis_server, GOOD, 1)
    n = make_nginx(redis_server.address)
    wait_for_location(n, A)
    publish(redis_server, snapshot(("demo", "a", "up", 0, 100, A), ("demo", "b", "up", 5, 100, B)), 2)
    wait_for_location(n, B, timeout=2)


# ---- zone sizes ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", ["64k", "65k", "67k", "71k", "87k", "100k", "1m", "3m"])
def test_every_accepted_zone_size_works(redis_server, make_nginx, size):
    """Any tune_zone_size nginx -t accepts gives a working zone (odd sizes included)."""
    publish(redis_server, GOOD, 1)
    n = make_nginx(redis_server.address, start=False, http_conf=f"tune_zone_size {size};\n")
    p = n.test_config()
    assert p.returncode == 0, p.stderr
    n.start()
    wait_for_location(n, A)


# ---- location forms ---------------------------------------------------------------------

def test_exact_location_takes_the_last_segment(redis_server, make_nginx):
    """`location = /radio/demo { tune; }` tunes in to "demo"."""
    publish(redis_server, GOOD, 1)
    n = make_nginx(redis_server.address, locations="location = /radio/demo { tune; }\n"
                                                  "location / { return 404; }\n")
    wait_for_location(n, A, path="/radio/demo")


def test_regex_location_takes_the_last_segment(redis_server, make_nginx):
    """`location ~ ^/listen/` tunes in to the last path segment."""
    publish(redis_server, GOOD, 1)
    n = make_nginx(redis_server.address, locations="location ~ ^/listen/ { tune; }\n"
                                                  "location / { return 404; }\n")
    wait_for_location(n, A, path="/listen/demo")


def test_prefix_without_trailing_slash_is_refused(run_dir):
    """`location /tune { tune; }` is ambiguous (/tunedemo, /tune/demo) and refused by nginx -t."""
    n = Nginx(run_dir, "127.0.0.1:6379", locations="location /tune { tune; }\n")
    text = n.config_text()
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "location /tune {" in l)
    p = n.test_config(text)
    assert p.returncode != 0
    assert (f'"tune" in a prefix location requires the prefix to end with "/", '
            f'as in "location /tune/" in {n.conf_path}:{line}') in p.stderr, p.stderr


def test_relative_unix_socket_is_refused(run_dir):
    """A relative unix: path would depend on the worker's directory: nginx -t refuses it."""
    n = Nginx(run_dir, "unix:redis.sock")
    p = n.test_config()
    assert p.returncode != 0
    assert 'the socket path in "unix:redis.sock" of the "tune_redis" directive must be absolute' \
        in p.stderr, p.stderr


def test_405_carries_allow_and_no_store(redis_server, make_nginx):
    """A POST gets 405 with Allow: GET, HEAD and, like every answer, Cache-Control: no-store."""
    publish(redis_server, GOOD, 1)
    n = make_nginx(redis_server.address)
    r = n.get("/tune/demo", method="POST")
    assert (r.status, r.header("allow"), r.header("cache-control")) == (405, "GET, HEAD", "no-store")


# ---- the data in Redis --------------------------------------------------------------------

def test_weights_steer_the_choice(redis_server, make_nginx):
    """Tune-ins are shared in proportion to free x weight: 5 free at weight 300 draw three
    times as many as 5 at 100; weight 0 is never offered, however many slots are free."""
    publish(redis_server, snapshot(("demo", "a", "up", 5000, 100, A), ("demo", "b", "up", 5000, 300, B),
                                   ("demo", "c", "up", 100000, 0, "http://127.0.0.1:8003/demo")), 1)
    n = make_nginx(redis_server.address)
    wait_for_location(n, B)
    got = [n.get("/tune/demo").header("location") for _ in range(400)]
    assert set(got) == {A, B}
    # binomial(400, 0.75): mean 300, sd 8.7; 250..350 is beyond 5 sd either way
    assert 250 <= got.count(B) <= 350, (got.count(A), got.count(B))


def test_unknown_health_from_a_newer_writer_is_not_offered(redis_server, make_nginx):
    """A health word this version does not know is never taken as good news."""
    publish(redis_server, snapshot(("demo", "a", "rebalancing", 1000, 100, A),
                                   ("demo", "b", "up", 1, 100, B),
                                   extra_lines=["future-record\twhatever"]), 1)
    n = make_nginx(redis_server.address)
    wait_for_location(n, B)
    assert {n.get("/tune/demo").header("location") for _ in range(30)} == {B}


@pytest.mark.parametrize("bad", [
    GOOD.replace(A, "http://127.0.0.1:8001/demo\r\nSet-Cookie: x=1"),
    GOOD.replace(A, "javascript:alert(1)"),
    GOOD.replace("\tdemo\ta\t", "\t../demo\ta\t"),
    GOOD.replace("\nend\n", "\n"),                 # cut short
    GOOD.replace("\t10\t10\t", "\t-1\t-1\t"),
], ids=["header-injection", "javascript-url", "dot-dot-name", "cut-short", "negative-count"])
def test_hostile_snapshot_is_rejected_and_the_old_one_kept(redis_server, make_nginx, bad):
    """A snapshot breaking the schema is refused once in the log; the one held keeps being served."""
    publish(redis_server, GOOD, 1)
    n = make_nginx(redis_server.address)
    wait_for_location(n, A)
    publish(redis_server, bad, 2)
    redis_server.wait_for_calls("get", 10, what="ten refresh ticks")
    for _ in range(20):
        r = n.raw(b"/tune/demo")
        assert (r.status, r.header("location"), r.header("set-cookie")) == (302, A, None)
    rejected = re.findall(r"\[error\].*snapshot generation 2 .* rejected: .*keeping generation 1",
                          n.error_log_text())
    assert len(rejected) == 1, n.error_log_text()


def test_oversized_snapshot_is_not_fetched(redis_server, make_nginx):
    """A snapshot far larger than tune_zone_size is refused by its length, once, and a later good one installs."""
    publish(redis_server, GOOD, 1)
    n = make_nginx(redis_server.address, http_conf="tune_zone_size 64k;\n")
    wait_for_location(n, A)
    many = [("s%d" % i, "a", "up", 5, 100, A) for i in range(4000)]    # ~330 KB of text
    huge = snapshot(*many)
    assert len(huge) > 4 * 64 * 1024
    for g in (2, 3, 4):                              # a scheduler that keeps writing it
        # counted before: the one STRLEN of a generation may come at once
        measured = redis_server.calls("strlen")
        publish(redis_server, huge, g)
        redis_server.wait_for_calls("strlen", 1, what=f"generation {g} measured", since=measured)
    redis_server.wait_for_calls("get", 2, what="the last measure's refresh over")
    assert n.get("/tune/demo").header("location") == A
    log = n.error_log_text()
    refused = re.findall(r"\[error\].*snapshot generation \d+ .* rejected: snapshot of \d+ bytes "
                         r"is larger than \d+ bytes \(increase tune_zone_size\)", log)
    assert len(refused) == 1, log
    publish(redis_server, snapshot(("demo", "a", "up", 0, 100, A), ("demo", "b", "up", 5, 100, B)), 5)
    wait_for_location(n, B, timeout=2)


# ---- Redis with a password ------------------------------------------------------------

SECRET = TEST_PASSWORD


def test_wrong_password_is_503_and_logged_without_it(redis_with_password, make_nginx):
    """A refused AUTH leaves nginx without a snapshot (503) and logs one error that does not hold the password."""
    publish(redis_with_password, GOOD, 1)
    n = make_nginx(redis_with_password.address + " password=wrong-" + SECRET)
    wait_until(lambda: redis_with_password.refused_logins() >= 3, 5, "three logins refused")
    assert n.get("/tune/demo").status == 503
    log = n.error_log_text()
    refused = re.findall(r"\[error\].*tune: redis at .* refused the credentials", log)
    assert len(refused) == 1, log
    assert SECRET not in log
    assert not re.search(r"\[warn\].*tune: redis", log), log


@pytest.mark.parametrize("credentials", ["password=" + SECRET, "user=tune password=tune-" + SECRET])
def test_right_password_and_db_3(redis_with_password, make_nginx, credentials):
    """AUTH (as the default user or an ACL user) and SELECT 3 come first: the snapshot written to db 3 is served."""
    publish(redis_with_password, snapshot(("demo", "b", "up", 5, 100, B)), 1)    # db 0: not this one
    redis_with_password.put_snapshot(fresh(GOOD), 1, db=3)
    n = make_nginx(f"{redis_with_password.address} {credentials} db=3")
    wait_for_location(n, A)
    log = n.error_log_text()
    assert SECRET not in log
    assert not re.search(r"\[(warn|error)\].*tune: redis", log), log


def test_blackholed_redis_stalls_nothing_and_warns_once(silent_server, make_nginx):
    """A Redis that accepts and never answers: tune-ins are answered at once (503, no snapshot), one warning for the whole outage."""
    n = make_nginx(silent_server.address, http_conf="tune_redis_timeout 100ms;\n")
    worst, deadline = 0.0, time.monotonic() + 2.0
    while time.monotonic() < deadline:                # several timeouts and reconnects
        t0 = time.monotonic()
        assert n.get("/tune/demo").status == 503
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.01)
    assert worst < 0.09, f"slowest answer {worst:.3f}s: a request waited for Redis"
    assert len(silent_server.accepted) >= 2           # it reconnected
    warns = re.findall(r"\[warn\].*tune: redis at .*timed out", n.error_log_text())
    assert len(warns) == 1, n.error_log_text()
