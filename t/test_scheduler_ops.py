"""tuneslotd in production: health over several polls, slow start, drains,
reload, a fenced writer's lease with failover, FLUSHALL recovery and the
metrics endpoint; real tuneslotd and Redis processes, fake status pages."""

import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from harness import decode_snapshot, free_port, repo_dir, sanitizer, toml_text
from harness.net import accept_queue, wait_until

LOAD = '<load><mount name="/demo" listeners="{n}" max="10">{free}</mount></load>'
LEADER_KEY = "{tuneslot:v1}:leader"
FENCE_KEY = "{tuneslot:v1}:fence"
DRAIN_KEY = "{tuneslot:v1}:drain"


def load(n=1):
    return LOAD.format(n=n, free=10 - n)


def base_config(redis, status_url, interval="300ms", **top):
    cfg = {"redis": redis.address, "interval": interval}
    cfg.update(top)
    cfg["backend"] = [{"name": "fake", "status": status_url, "public": "http://radio.example.net"}]
    cfg["stream"] = [{"name": "demo", "mount": "/demo"}]
    return cfg


def snapshot(redis):
    g, text = redis.snapshot()
    return g, (decode_snapshot(text) if text is not None else None)


def wait_for(redis, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        g, snap = snapshot(redis)
        if snap is not None:
            last = snap
            if predicate(snap):
                return g, snap
        if time.monotonic() >= deadline:
            raise AssertionError(f"no snapshot matched within {timeout}s; last: {last}")
        time.sleep(0.03)


def polls(status_server, path="/load.xsl"):
    return sum(1 for p, _ in status_server.requests if p == path)


def ctl(daemon, *args):
    return subprocess.run([str(daemon.binary), "ctl", "-c", str(daemon.config_path), *args],
                          capture_output=True, text=True, timeout=10, env=daemon.env())


def http_get(url, timeout=5.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def no_errors(daemon):
    bad = [line for line in daemon.log_text().splitlines() if "[error]" in line]
    assert not bad, "\n".join(bad)


# ---- health ---------------------------------------------------------------------------

def test_down_after_fail_after_and_up_after_recover_after(redis_server, status_server, make_tuneslotd):
    """A backend is down only after fail_after failed polls (last good counts shown meanwhile), up after recover_after good ones."""
    url = status_server.route("/load.xsl", body=load(4))
    t = make_tuneslotd(base_config(redis_server, url, fail_after=3, recover_after=2, slow_start="0s"))
    with redis_server.rounds() as rounds:
        t.start()
        rounds.next()
        _, snap = snapshot(redis_server)
        good_polled = snap.backends["fake"].polled_ms
        assert snap.slot("demo", "fake").listeners == 4

        status_server.route("/load.xsl", status=500, body="oops")
        switched = polls(status_server)
        seen_failing = 0
        while True:
            rounds.next(timeout=5)
            _, snap = snapshot(redis_server)
            if snap.backends["fake"].health == "down":
                break
            if snap.backends["fake"].polled_ms == good_polled:
                seen_failing += 1          # failing, not yet down: the last good poll, as it was
                assert snap.slot("demo", "fake").health == "up" and snap.slot("demo", "fake").listeners == 4
            else:
                good_polled = snap.backends["fake"].polled_ms
        assert polls(status_server) - switched == 3
        assert seen_failing == 2
        assert snap.backends["fake"].reason == "HTTP 500"
        assert snap.slot("demo", "fake").health == "down"

        status_server.route("/load.xsl", body=load(2))
        switched = polls(status_server)
        while True:
            rounds.next(timeout=5)
            _, snap = snapshot(redis_server)
            if snap.backends["fake"].health == "up":
                break
            assert snap.backends["fake"].reason == "HTTP 500"   # the reason stays while recovering
        assert polls(status_server) - switched == 2
        assert snap.slot("demo", "fake").listeners == 2
    log = t.log_text()
    assert log.count("backend fake: up -> down: HTTP 500") == 1
    assert log.count("backend fake: down -> up") == 1
    no_errors(t)


def test_slow_start_ramps_the_weight(redis_server, status_server, make_tuneslotd):
    """A recovered backend's weight ramps from low to the operator's over slow_start; one seen up at start is not ramped."""
    url = status_server.route("/load.xsl", body=load())
    cfg = base_config(redis_server, url, interval="200ms", fail_after=1, recover_after=1, slow_start="2s")
    cfg["backend"][0]["weight"] = 500
    t = make_tuneslotd(cfg)
    t.start()
    _, snap = wait_for(redis_server, lambda s: s.backends["fake"].health == "up")
    assert snap.slot("demo", "fake").weight == 500

    status_server.route("/load.xsl", status=503)
    wait_for(redis_server, lambda s: s.backends["fake"].health == "down", timeout=5)
    status_server.route("/load.xsl", body=load())
    _, snap = wait_for(redis_server, lambda s: s.backends["fake"].health == "up", timeout=5)
    came_back = time.monotonic()
    weights = [snap.slot("demo", "fake").weight]
    while weights[-1] < 500 and time.monotonic() - came_back < 6:
        time.sleep(0.2)
        weights.append(snapshot(redis_server)[1].slot("demo", "fake").weight)
    assert weights[0] < 150, weights
    assert weights == sorted(weights), weights
    assert weights[-1] == 500, weights
    assert len(set(weights)) >= 4, weights           # it grew in steps, not at once
    assert time.monotonic() - came_back > 1.5
    no_errors(t)


def test_health_overrides_per_backend(redis_server, status_server, make_tuneslotd):
    """backend.fail_after overrides the top-level one: a 1 goes down at the first failure while a 3 stays up."""
    bad = status_server.route("/bad", status=500)
    cfg = {"redis": redis_server.address, "interval": "200ms", "fail_after": 3,
           "backend": [{"name": "quick", "status": status_server.route("/q", body=load()),
                        "public": "http://q.example.net", "fail_after": 1},
                       {"name": "patient", "status": status_server.route("/p", body=load()),
                        "public": "http://p.example.net"}],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    t = make_tuneslotd(cfg)
    t.start()
    wait_for(redis_server, lambda s: all(b.health == "up" for b in s.backends.values()))
    status_server.routes["/q"] = status_server.routes["/bad"]
    status_server.routes["/p"] = status_server.routes["/bad"]
    _, snap = wait_for(redis_server, lambda s: s.backends["quick"].health == "down", timeout=5)
    assert snap.backends["patient"].health == "up"
    wait_for(redis_server, lambda s: s.backends["patient"].health == "down", timeout=5)
    assert bad
    no_errors(t)


# ---- drain -------------------------------------------------------------------------------

def test_drain_and_undrain_with_ctl(redis_server, status_server, make_tuneslotd):
    """ctl drain marks a slot draining (still counted, no new listeners); ctl status shows it; undrain ends it."""
    t = make_tuneslotd(base_config(redis_server, status_server.route("/load.xsl", body=load(3))))
    t.start()
    wait_for(redis_server, lambda s: s.slot("demo", "fake").health == "up")

    r = ctl(t, "drain", "fake", "--mount", "/demo", "--note", "kernel update")
    assert r.returncode == 0, r.stderr
    _, snap = wait_for(redis_server, lambda s: s.slot("demo", "fake").health == "draining", timeout=3)
    slot = snap.slot("demo", "fake")
    assert (slot.listeners, slot.capacity, slot.free) == (3, 10, 7)     # still counted
    assert snap.backends["fake"].health == "up"
    t.wait_for_log(r"\[notice\] backend fake: mount /demo draining \(kernel update\)", timeout=2)

    st = ctl(t, "status")
    assert st.returncode == 0, st.stderr
    assert re.search(r"demo on fake\s+draining\s+listeners 3", st.stdout), st.stdout
    assert "fake/demo  kernel update" in st.stdout

    r = ctl(t, "undrain", "fake", "--mount", "/demo")
    assert r.returncode == 0, r.stderr
    wait_for(redis_server, lambda s: s.slot("demo", "fake").health == "up", timeout=3)
    t.wait_for_log(r"backend fake: mount /demo draining ended", timeout=2)
    assert t.log_text().count("draining (kernel update)") == 1        # one line per change, not per round
    assert ctl(t, "drain", "nosuch").returncode == 1
    assert ctl(t, "drain", "fake", "--mount", "/nosuch").returncode == 1
    no_errors(t)


def test_drain_by_redis_key(redis_server, status_server, make_tuneslotd):
    """HSET {tuneslot:v1}:drain BACKEND drains the whole backend with its note as the reason; HDEL undrains it."""
    t = make_tuneslotd(base_config(redis_server, status_server.route("/load.xsl", body=load(2))))
    t.start()
    wait_for(redis_server, lambda s: s.slot("demo", "fake").health == "up")
    redis_server.command("HSET", DRAIN_KEY, "fake", "moving racks")
    _, snap = wait_for(redis_server, lambda s: s.backends["fake"].health == "draining", timeout=3)
    assert snap.backends["fake"].reason == "drain: moving racks"
    assert snap.slot("demo", "fake").health == "draining"
    assert snap.slot("demo", "fake").listeners == 2
    redis_server.command("HDEL", DRAIN_KEY, "fake")
    wait_for(redis_server, lambda s: s.backends["fake"].health == "up", timeout=3)
    log = t.log_text()
    assert log.count("backend fake: draining (moving racks)") == 1
    assert log.count("backend fake: draining ended") == 1
    assert "up -> down" not in log
    no_errors(t)


def test_a_standby_reads_the_drains_too(redis_server, status_server, make_tuneslotd):
    """A standby reads the drain hash every round as the leader does: its drain lines and its draining metric follow the operator's, so a failover changes nothing of them."""
    url = status_server.route("/load.xsl", body=load())
    port = free_port()
    a = make_tuneslotd(base_config(redis_server, url, instance="sched-a"), name="a").start()
    wait_leader(redis_server)
    b = make_tuneslotd(base_config(redis_server, url, instance="sched-b", metrics=f"127.0.0.1:{port}"),
                       name="b").start()
    b.wait_for_log(r"follower: lease held by sched-a")
    redis_server.command("HSET", DRAIN_KEY, "fake", "moving racks")
    a.wait_for_log(r"backend fake: draining \(moving racks\)", timeout=3)
    b.wait_for_log(r"backend fake: draining \(moving racks\)", timeout=3)
    _, text = http_get(f"http://127.0.0.1:{port}/metrics")
    assert 'tuneslotd_backend_draining{backend="fake"} 1' in text, text
    redis_server.command("HDEL", DRAIN_KEY, "fake")
    b.wait_for_log(r"backend fake: draining ended", timeout=3)
    assert leader(redis_server)[0] == "sched-a"
    no_errors(a)
    no_errors(b)


def test_a_drain_key_of_the_wrong_type_is_said_once(redis_server, status_server, make_tuneslotd):
    """A drain key that is no hash (a SET by hand) is one warning naming it and Redis's reason, the drains read before stay in force, and a hash again is one notice."""
    t = make_tuneslotd(base_config(redis_server, status_server.route("/load.xsl", body=load())))
    t.start()
    wait_for(redis_server, lambda s: s.slot("demo", "fake").health == "up")
    redis_server.command("HSET", DRAIN_KEY, "fake", "moving racks")
    wait_for(redis_server, lambda s: s.backends["fake"].health == "draining", timeout=3)
    redis_server.command("SET", DRAIN_KEY, "fake")          # replaces the hash in one step
    t.wait_for_log(r"\[warn\] drain: \{tuneslot:v1\}:drain cannot be read \(WRONGTYPE", timeout=3)
    # rounds go on, drained as before, and the warning is not repeated
    with redis_server.rounds() as rounds:
        for _ in range(3):
            rounds.next(timeout=3)
    _, snap = snapshot(redis_server)
    assert snap.backends["fake"].health == "draining"
    assert t.log_text().count("cannot be read") == 1
    redis_server.command("DEL", DRAIN_KEY)
    t.wait_for_log(r"\[notice\] drain: \{tuneslot:v1\}:drain is read again", timeout=3)
    wait_for(redis_server, lambda s: s.backends["fake"].health == "up", timeout=3)
    no_errors(t)


# ---- reload --------------------------------------------------------------------------------

def test_reload_applies_a_good_config_and_keeps_state(redis_server, status_server, make_tuneslotd):
    """SIGHUP with a good config: a new backend and weight take effect; health of the kept backend is not reset."""
    cfg = base_config(redis_server, status_server.route("/load.xsl", body=load()))
    t = make_tuneslotd(cfg)
    t.start()
    wait_for(redis_server, lambda s: s.slot("demo", "fake").health == "up")

    cfg["backend"][0]["weight"] = 40
    cfg["backend"].append({"name": "second", "status": status_server.route("/2.xsl", body=load(5)),
                           "public": "http://second.example.net"})
    t.config_path.write_text(toml_text(cfg))
    t.signal(signal.SIGHUP)
    _, snap = wait_for(redis_server, lambda s: "second" in s.backends, timeout=5)
    assert snap.slot("demo", "fake").weight == 40
    assert snap.slot("demo", "second").listeners == 5
    log = t.log_text()
    assert "[notice] config reloaded: 2 backends" in log
    assert log.count("backend fake: up") == 1          # state kept: no second "up" line
    assert t.running()
    no_errors(t)


def test_reload_forgets_what_it_removes(redis_server, status_server, make_tuneslotd):
    """A backend a reload removes leaves no metric series behind, and a stream without a source that a reload brings back is told of again."""
    port = free_port()
    cfg = base_config(redis_server, status_server.route("/load.xsl", body=load()), metrics=f"127.0.0.1:{port}")
    cfg["backend"].append({"name": "broken", "status": status_server.route("/e", status=500),
                           "public": "http://b.example.net"})
    cfg["backend"].append({"name": "quiet", "status": status_server.route("/q.xsl", body="<load></load>"),
                           "public": "http://q.example.net"})
    t = make_tuneslotd(cfg)
    t.start()
    wait_for(redis_server, lambda s: s.backends["broken"].health == "down")
    t.wait_for_log(r"stream demo on quiet: no source on mount /demo")
    assert 'tuneslotd_poll_errors_total{backend="broken"' in http_get(f"http://127.0.0.1:{port}/metrics")[1]

    def reload(backends):
        t.config_path.write_text(toml_text(dict(cfg, backend=backends)))
        reloads = t.log_text().count("config reloaded")
        t.signal(signal.SIGHUP)
        wait_until(lambda: t.log_text().count("config reloaded") > reloads, 5, "the reload")
        with redis_server.rounds() as rounds:
            rounds.next(timeout=3)

    reload(cfg["backend"][:1])
    text = http_get(f"http://127.0.0.1:{port}/metrics")[1]
    assert 'backend="broken"' not in text and 'backend="quiet"' not in text, text
    reload(cfg["backend"])
    wait_until(lambda: t.log_text().count("stream demo on quiet: no source on mount /demo") == 2, 5,
               "the second no-source line")
    no_errors(t)


def test_reload_rejects_a_bad_config_and_keeps_the_old(redis_server, status_server, make_tuneslotd):
    """SIGHUP with a bad config: the reason is logged, the old config stays in force, the daemon lives on."""
    cfg = base_config(redis_server, status_server.route("/load.xsl", body=load()))
    t = make_tuneslotd(cfg)
    t.start()
    wait_for(redis_server, lambda s: s.slot("demo", "fake").health == "up")
    t.config_path.write_text(toml_text(cfg).replace('interval = "300ms"', 'interval = "5ms"\nbogus = 1'))
    t.signal(signal.SIGHUP)
    t.wait_for_log(r"\[warn\] reload refused: invalid configuration", timeout=5)
    log = t.log_text()
    assert re.search(r"\[warn\] .*\.toml:2: interval: 5ms is out of range", log)
    assert re.search(r"\[warn\] .*\.toml:3: bogus: unknown key", log)
    with redis_server.rounds() as rounds:
        g1 = rounds.next(timeout=3)
        g2 = rounds.next(timeout=3)
    assert g2 > g1
    _, snap = snapshot(redis_server)
    assert snap.interval_ms == 300
    assert t.running()
    no_errors(t)


# ---- the writer's lease ------------------------------------------------------------------

def leader(redis):
    """(instance, token) of the lease; the holder's per-process suffix
    ("#" and 16 hex digits) is checked and taken off."""
    v = redis.command("GET", LEADER_KEY)
    if v is None:
        return None, None
    holder, token = v.decode().split(" ")
    instance, _, nonce = holder.rpartition("#")
    assert re.fullmatch(r"[0-9a-f]{16}", nonce), holder
    return instance, int(token)


def wait_leader(redis, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder, token = leader(redis)
        if holder is not None:
            return holder, token
        time.sleep(0.05)
    raise AssertionError("no leader")


def test_failover_after_kill_9(redis_server, status_server, make_tuneslotd):
    """Two tuneslotd, one writes; kill -9 the leader and the other writes within two intervals, with a larger token."""
    interval = 0.5
    url = status_server.route("/load.xsl", body=load())
    a = make_tuneslotd(base_config(redis_server, url, interval="500ms", instance="sched-a"), name="a")
    b = make_tuneslotd(base_config(redis_server, url, interval="500ms", instance="sched-b"), name="b")
    a.start()
    holder, token = wait_leader(redis_server)
    assert holder == "sched-a"
    b.start()
    b.wait_for_log(r"follower: lease held by sched-a", timeout=5)

    with redis_server.rounds() as rounds:
        # two of a's rounds, b's rounds as a follower running alongside: b never took the lease
        for _ in range(2):
            rounds.next(timeout=3)
        assert "holds the lease" not in b.log_text()
        assert leader(redis_server) == (holder, token)
        rounds.next(timeout=3)
        a.signal(signal.SIGKILL)
        killed = time.monotonic()
        a.wait(timeout=5)
        rounds.drain()
        while True:
            rounds.next(timeout=5)
            if leader(redis_server)[0] == "sched-b":
                break
        taken_over = time.monotonic() - killed
    new_holder, new_token = leader(redis_server)
    assert new_holder == "sched-b" and new_token > token
    assert taken_over < 2 * interval + 0.4, taken_over       # two intervals, and some noise
    b.wait_for_log(r"\[notice\] leader: this instance \(sched-b#[0-9a-f]{16}\) holds the lease", timeout=1)
    no_errors(b)


def test_same_instance_id_cannot_share_the_lease(redis_server, status_server, make_tuneslotd):
    """A --once run given the daemon's own instance id neither writes nor takes or gives back the daemon's lease."""
    url = status_server.route("/load.xsl", body=load())
    cfg = base_config(redis_server, url, interval="300ms", instance="sched-1")
    daemon = make_tuneslotd(cfg, name="daemon")
    daemon.start()
    assert wait_leader(redis_server)[0] == "sched-1"
    lease_before = redis_server.command("GET", LEADER_KEY)
    once = make_tuneslotd(cfg, name="once")
    assert once.run_once() != 0
    assert "holds the lease" not in once.log_text()
    assert "round not written: the writer's lease is held by another instance" in once.log_text()
    with redis_server.rounds() as rounds:              # the daemon's next rounds, each renewing its lease
        for _ in range(3):
            rounds.next(timeout=3)
    assert redis_server.command("GET", LEADER_KEY) == lease_before
    assert "lease taken again" not in daemon.log_text() and "lease lost" not in daemon.log_text()


def test_stalled_leader_never_writes_after_losing_the_lease(redis_server, status_server, make_tuneslotd):
    """A leader frozen past its lease loses it; resumed, it writes nothing (the fence refuses it) and follows."""
    url = status_server.route("/load.xsl", body=load())
    a = make_tuneslotd(base_config(redis_server, url, interval="300ms", instance="sched-a"), name="a")
    b = make_tuneslotd(base_config(redis_server, url, interval="300ms", instance="sched-b"), name="b")
    a.start()
    wait_leader(redis_server)
    b.start()
    b.wait_for_log(r"follower: lease held by sched-a", timeout=5)

    a.signal(signal.SIGSTOP)
    b.wait_for_log(r"holds the lease", timeout=5)
    _, token_b = leader(redis_server)
    with redis_server.rounds() as rounds:
        a.signal(signal.SIGCONT)
        a.wait_for_log(r"\[warn\] leader: lease lost", timeout=5)
        gens = [rounds.next(timeout=3) for _ in range(6)]
    assert gens == sorted(set(gens))                       # strictly increasing, no duplicate writer
    assert leader(redis_server) == ("sched-b", token_b)
    a.wait_for_log(r"follower: lease held by sched-b", timeout=3)

    # a round with a stale lease is refused by Redis itself
    script = (repo_dir() / "redis" / "publish_round.lua").read_text()
    with pytest.raises(Exception, match="stale lease"):
        redis_server.command("EVAL", script, 3, "{tuneslot:v1}:snapshot", "{tuneslot:v1}:generation",
                             LEADER_KEY, "x", "{tuneslot:v1}:rounds", "1", "sched-a 1")
    # and so is one without a lease at all: no round goes unfenced (into a
    # database of its own, where no writer could cover a write up)
    with redis_server.client(db=5) as c:
        for keys_and_args in ((2, "{tuneslot:v1}:snapshot", "{tuneslot:v1}:generation", "x",
                               "{tuneslot:v1}:rounds", "1"),
                              (3, "{tuneslot:v1}:snapshot", "{tuneslot:v1}:generation", LEADER_KEY, "x",
                               "{tuneslot:v1}:rounds", "1", "")):
            with pytest.raises(Exception, match="no lease"):
                c.command("EVAL", script, *keys_and_args)
        assert c.command("MGET", "{tuneslot:v1}:snapshot", "{tuneslot:v1}:generation") == [None, None]
    no_errors(a)
    no_errors(b)


def test_flushall_is_repaired_within_an_interval(redis_server, status_server, make_tuneslotd):
    """After FLUSHALL the leader takes the lease again with a larger token and the snapshot is back within an interval."""
    t = make_tuneslotd(base_config(redis_server, status_server.route("/load.xsl", body=load()), interval="500ms"))
    t.start()
    g_before, _ = wait_for(redis_server, lambda s: s.slot("demo", "fake").health == "up")
    _, token = wait_leader(redis_server)
    redis_server.command("FLUSHALL")
    flushed = time.monotonic()
    g_after, _ = redis_server.wait_for_generation(g_before + 1, timeout=5)
    assert time.monotonic() - flushed < 0.5 + 0.4
    _, new_token = leader(redis_server)
    assert new_token > token
    assert g_after > g_before
    no_errors(t)


def test_sigterm_gives_the_lease_back(redis_server, status_server, make_tuneslotd):
    """A leader stopped with SIGTERM deletes its lease, so a follower need not wait for it to expire."""
    t = make_tuneslotd(base_config(redis_server, status_server.route("/load.xsl", body=load()), interval="1s"))
    t.start()
    wait_leader(redis_server)
    t.signal(signal.SIGTERM)
    assert t.wait(timeout=5) == 0
    assert leader(redis_server) == (None, None)
    assert "leader: lease given back" in t.log_text()


def test_a_failing_loop_gives_the_lease_back(redis_server, status_server, make_tuneslotd, run_dir):
    """When poll() fails between two rounds tuneslotd exits with status 1, and gives its lease back first, so a standby need not wait for it to expire."""
    shim = run_dir / "fail_poll.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(shim), str(repo_dir() / "t" / "shims" / "fail_poll.c"),
                    "-ldl"], check=True, timeout=60)
    trigger = run_dir / "fail-poll-now"
    t = make_tuneslotd(base_config(redis_server, status_server.route("/load.xsl", body=load()), interval="1s"))
    # ASan's runtime must come first where the build is sanitized
    t.extra_env["LD_PRELOAD"] = " ".join([*(sanitizer.runtime() if sanitizer.enabled() else []), str(shim)])
    t.extra_env["TUNESLOT_TEST_FAIL_POLL"] = str(trigger)
    t.allow(r"\[alert\] poll: Cannot allocate memory")
    t.start()
    wait_leader(redis_server)
    redis_server.wait_for_generation(1)
    trigger.write_text("")
    assert t.wait(timeout=10) == 1
    assert not trigger.exists()
    log = t.log_text()
    assert re.search(r"\[alert\] poll: Cannot allocate memory", log), log
    assert "leader: lease given back" in log, log
    assert leader(redis_server) == (None, None)


# ---- metrics ---------------------------------------------------------------------------------

def test_metrics_endpoint(redis_server, status_server, make_tuneslotd):
    """GET /metrics reports backend health, slot counts, poll errors by reason, leadership and rounds; other paths 404."""
    port = free_port()
    cfg = {"redis": redis_server.address, "interval": "200ms", "metrics": f"127.0.0.1:{port}",
           "backend": [{"name": "good", "status": status_server.route("/load.xsl", body=load(3)),
                        "public": "http://g.example.net"},
                       {"name": "broken", "status": status_server.route("/e", status=500),
                        "public": "http://b.example.net"}],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    t = make_tuneslotd(cfg)
    t.start()
    wait_for(redis_server, lambda s: s.backends["broken"].health == "down")

    # a client that connects and says nothing must not hold up rounds
    silent = socket.create_connection(("127.0.0.1", port))
    with redis_server.rounds() as rounds:
        rounds.next(timeout=2)
        rounds.next(timeout=2)
    # one thread runs rounds and answers metrics: every figure asserted below was set by the
    # first of these rounds before the second began, so a GET sent now reads them, no pause needed
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    silent.close()
    assert status == 200
    lines = set(body.splitlines())
    for expected in ['tuneslotd_backend_up{backend="good"} 1', 'tuneslotd_backend_up{backend="broken"} 0',
                     'tuneslotd_slot_listeners{backend="good",stream="demo"} 3',
                     'tuneslotd_slot_capacity{backend="good",stream="demo"} 10',
                     'tuneslotd_slot_free{backend="good",stream="demo"} 7',
                     'tuneslotd_backend_draining{backend="good"} 0',
                     'tuneslotd_backend_failed_polls{backend="good"} 0',
                     "tuneslotd_leader 1", "tuneslotd_redis_up 1"]:
        assert expected in lines, body
    assert re.search(r'^tuneslotd_poll_errors_total\{backend="broken",reason="http"\} [1-9]\d*$', body, re.M)
    assert re.search(r"^tuneslotd_rounds_written_total [1-9]\d*$", body, re.M)
    assert re.search(r'^tuneslotd_backend_failed_polls\{backend="broken"\} [1-9]\d*$', body, re.M)
    assert re.search(r'^tuneslotd_poll_seconds\{backend="good"\} [\d.e-]+$', body, re.M)
    assert "# TYPE tuneslotd_poll_errors_total counter" in lines
    assert http_get(f"http://127.0.0.1:{port}/other")[0] == 404
    no_errors(t)


def test_metrics_address_must_be_loopback(redis_server, make_tuneslotd):
    """A non-loopback metrics address without http_token is refused at load time."""
    cfg = base_config(redis_server, "http://127.0.0.1:9/load.xsl", metrics="0.0.0.0:9464")
    t = make_tuneslotd(cfg)
    t.allow(r"\[emerg\]")
    assert t.run_once() == 1
    assert re.search(r'metrics: "0\.0\.0\.0:9464" is not a loopback address: beyond loopback the listener '
                     r'needs http_token', t.log_text())


def test_metrics_endpoint_is_bounded(redis_server, status_server, make_tuneslotd):
    """Too many clients are closed at once, an oversized request gets 431, silent clients are dropped after 2 s; rounds go on."""
    port = free_port()
    t = make_tuneslotd(base_config(redis_server, status_server.route("/load.xsl", body=load()),
                                   interval="200ms", metrics=f"127.0.0.1:{port}"))
    t.start()
    wait_for(redis_server, lambda s: s.slot("demo", "fake").health == "up")

    connected = time.monotonic()
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
    wait_until(lambda: accept_queue(port) == 0, 5, "tuneslotd accepted the 16 idle clients")
    extra = socket.create_connection(("127.0.0.1", port))
    extra.settimeout(2)
    assert extra.recv(100) == b""                      # over the limit: closed at once
    extra.close()
    with redis_server.rounds() as rounds:
        rounds.next(timeout=2)
        rounds.next(timeout=2)                         # polling goes on meanwhile

    for s in idle:                                     # the idle ones time out
        s.settimeout(max(0.1, connected + 5 - time.monotonic()))
        assert s.recv(100) == b""
        s.close()
    assert time.monotonic() - connected >= 2.0         # not before their 2 s

    big = socket.create_connection(("127.0.0.1", port))
    big.settimeout(3)
    big.sendall(b"GET /metrics HTTP/1.0\r\nX-Pad: " + b"a" * 5000)
    reply = b""
    while chunk := big.recv(4096):
        reply += chunk
    big.close()
    assert reply.startswith(b"HTTP/1.0 431 ")
    assert http_get(f"http://127.0.0.1:{port}/metrics")[0] == 200
    no_errors(t)
