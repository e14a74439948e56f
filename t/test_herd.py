"""Herd control (redis/SCHEMA.md, "Herd control"): between two poll rounds
the front-ends count what they hand out, across the workers of one nginx
or the children of one Apache (shared memory) and across front-ends, nginx
and Apache alike (credits claimed from Redis), so a burst of tune-ins
faster than the poll interval cannot overfill a slot."""

import http.client
import json
import re
import threading
import time
from collections import Counter

import pytest

from harness.net import wait_until
from harness.nginx import Nginx

WINDOW_MS = 2000                # tune_herd_window's default
FREE = {"a": 100, "b": 10, "c": 10}
PROBE = "http://127.0.0.1:9000/probe"


def url(backend: str) -> str:
    return f"http://127.0.0.1:{8000 + ord(backend) - ord('a') + 1}/demo"


def snapshot(free: dict[str, int], polled_ms: int) -> str:
    """Stream demo on the given backends, polled at polled_ms, and a stream
    probe with an unlimited slot (not counted) to see that nginx is ready."""
    lines = ["tuneslot-snapshot\t1", f"written_ms\t{polled_ms}", "interval_ms\t1000"]
    for backend, n in free.items():
        lines.append("\t".join(["slot", "demo", backend, "up", "0", str(n), str(n), "100", "",
                                str(polled_ms), url(backend)]))
    lines.append("\t".join(["slot", "probe", "p", "up", "0", "unlimited", "unlimited", "100", "",
                            str(polled_ms), PROBE]))
    lines.append("end")
    return "\n".join(lines) + "\n"


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def make_nginx(run_dir, processes):
    def make(redis_address, name="nginx"):
        n = Nginx(run_dir, redis_address, name=name, workers=2, refresh="100ms",
                  locations="location /tune/ { tune; }\n"
                            "location = /tune-status { tune_status; }\n"
                            "location / { return 404; }\n")
        processes.append(n)
        return n.start()
    return make


@pytest.fixture
def two_nginx(redis_server, make_nginx):
    """Two nginx, two workers each, sharing the Redis that holds FREE polled now."""
    redis_server.put_snapshot(snapshot(FREE, now_ms()), 1)
    nginxes = make_nginx(redis_server.address, "nginx1"), make_nginx(redis_server.address, "nginx2")
    for n in nginxes:
        wait_ready(n)
    return nginxes


def herd_status(front) -> dict:
    """The tune-status document's (generation, herd) of nginx or Apache."""
    r = front.get("/tune-status")
    st = json.loads(r.body) if r.status == 200 else {}
    return {"generation": (st.get("snapshot") or {}).get("generation"),
            "herd": (st.get("redis") or {}).get("herd")}


def wait_ready(nginx, timeout=5.0, generation=None):
    """The snapshot is installed (probe answers; of that generation, when
    given), and a first round of claims was answered: the front-end spends
    credits from Redis (tune-status's herd "shared")."""
    deadline = time.monotonic() + timeout
    while nginx.get("/tune/probe").header("location") != PROBE:
        if time.monotonic() >= deadline:
            raise AssertionError(f"{nginx.name}: no snapshot after {timeout}s")
        time.sleep(0.02)
    want = {"herd": "shared"} if generation is None else {"herd": "shared", "generation": generation}
    wait_until(lambda: want.items() <= herd_status(nginx).items(), max(0.1, deadline - time.monotonic()),
               f"{nginx.name}: {want}")


def burst(nginxes, total, seconds, clients_per_nginx=10):
    """total tune-ins spread evenly over seconds, from keep-alive clients
    split across the nginx instances; returns every (status, Location,
    Retry-After)."""
    clients = [(n, i) for n in nginxes for i in range(clients_per_nginx)]
    per_client = total // len(clients)
    pause = seconds / per_client
    results, lock = [], threading.Lock()

    def client(nginx):
        conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
        start = time.monotonic()
        for k in range(per_client):
            conn.request("GET", "/tune/demo")
            r = conn.getresponse()
            r.read()
            with lock:
                results.append((r.status, r.getheader("location"), r.getheader("retry-after")))
            delay = start + (k + 1) * pause - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n, _ in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 30)
    assert len(results) == per_client * len(clients)
    return results


def tally(results):
    """(tune-ins per backend, the 503s), checking every answer's form."""
    sent = Counter()
    full = 0
    for status, location, retry_after in results:
        if status == 302:
            backend = next(b for b in FREE if url(b) == location)
            sent[backend] += 1
        else:
            assert status == 503 and retry_after == "1", (status, location, retry_after)
            full += 1
    return sent, full


def assert_bounded(sent, free):
    """No backend got more than its free slots and 5% (rounded down)."""
    for backend, n in free.items():
        assert sent[backend] <= n + n * 5 // 100, (sent, free)


def assert_quiet(*fronts):
    for n in fronts:
        # nginx writes [warn], Apache [module:warn]
        bad = [line for line in n.error_log_text().splitlines()
               if re.search(r"\[([\w.]*:)?(error|crit|warn)\]", line)]
        assert not bad, "\n".join(bad)


def test_burst_through_two_nginx_never_overfills(two_nginx):
    """1,000 tune-ins in 1 s through two nginx sharing Redis: no slot gets more than its free count; then tune_full (503)."""
    n1, n2 = two_nginx
    sent, full = tally(burst([n1, n2], 1000, 1.0))
    print(f"sent {dict(sent)}, {full} x 503")
    assert_bounded(sent, FREE)
    # every free slot was handed out, up to the credits lost in flight
    assert 110 <= sum(sent.values()) <= 120, sent
    assert full == 1000 - sum(sent.values())  # 20 clients x 50
    assert_quiet(n1, n2)


def test_a_newer_poll_reconciles(redis_server, two_nginx):
    """After a poll taken a window after the burst, with new free counts, tune-ins flow again, bounded anew."""
    n1, n2 = two_nginx
    sent, _ = tally(burst([n1, n2], 400, 0.5))
    assert_bounded(sent, FREE)
    burst_end = now_ms()
    assert n1.get("/tune/demo").status == 503       # full until the next poll
    # the poll that counts the listeners of the burst
    time.sleep(WINDOW_MS / 1000 + 0.1)
    fresh = {"a": 20, "b": 5, "c": 5}
    redis_server.put_snapshot(snapshot(fresh, burst_end + WINDOW_MS + 50), 2)
    for n in (n1, n2):
        wait_ready(n, generation=2)
    redis_server.wait_for_calls("evalsha", 2, what="two claims under the new poll")
    sent, full = tally(burst([n1, n2], 200, 0.5))
    print(f"after the new poll: sent {dict(sent)}, {full} x 503")
    assert_bounded(sent, fresh)
    assert 25 <= sum(sent.values()) <= 30, sent
    assert_quiet(n1, n2)


def test_without_redis_one_nginx_still_bounds_its_workers(redis_server, make_nginx):
    """Redis stopped: one nginx counts its own tune-ins in shared memory, across both workers."""
    redis_server.put_snapshot(snapshot(FREE, now_ms()), 1)
    n = make_nginx(redis_server.address)
    wait_ready(n)
    redis_server.stop()
    wait_until(lambda: re.search(r"\[warn\].*tune: redis at", n.error_log_text()), 5,
               "nginx finds Redis gone")
    sent, full = tally(burst([n], 400, 0.5))
    print(f"without redis: sent {dict(sent)}, {full} x 503")
    assert_bounded(sent, FREE)
    assert sum(sent.values()) >= 100, sent
    warns = re.findall(r"\[warn\].*tune: redis at", n.error_log_text())
    assert len(warns) == 1, warns


@pytest.fixture
def make_apache_front(make_tune_apache):
    """An Apache with mod_tune refreshing as often as the nginx above, herd control at its
    default window (the nginx one's), room for every client of burst()."""
    def make(redis_address, mpm="event"):
        return make_tune_apache(redis_address, mpm=mpm, refresh="100ms", herd_window=None,
                                workers=40)
    return make


def test_mixed_nginx_and_apache_fleet_never_overfills(redis_server, make_nginx, make_apache_front):
    """One nginx and one Apache sharing Redis through the same contract: 1,000 tune-ins in 1 s
    split between them give no slot more than its free count; the rest 503."""
    redis_server.put_snapshot(snapshot(FREE, now_ms()), 1)
    fleet = make_nginx(redis_server.address), make_apache_front(redis_server.address)
    for front in fleet:
        wait_ready(front)
    sent, full = tally(burst(fleet, 1000, 1.0))
    print(f"nginx + Apache: sent {dict(sent)}, {full} x 503")
    assert_bounded(sent, FREE)
    assert 110 <= sum(sent.values()) <= 120, sent
    assert full == 1000 - sum(sent.values())
    assert_quiet(*fleet)


def test_one_prefork_apache_bounds_its_children(redis_server, make_apache_front):
    """1,000 tune-ins in 1 s through one prefork Apache: its child processes count in one
    shared segment, so no slot gets more than its free count."""
    redis_server.put_snapshot(snapshot(FREE, now_ms()), 1)
    a = make_apache_front(redis_server.address, mpm="prefork")
    wait_ready(a)
    sent, full = tally(burst([a], 1000, 1.0, clients_per_nginx=20))
    print(f"prefork: sent {dict(sent)}, {full} x 503, {len(a.children())} children")
    assert_bounded(sent, FREE)
    assert 110 <= sum(sent.values()) <= 120, sent
    assert_quiet(a)
