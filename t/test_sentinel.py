"""Both front-ends through Redis Sentinel: a real master, two replicas and
three Sentinels on loopback (harness/sentinel.py), nginx configured with
`tune_redis sentinel=... master=...` and Apache with the same words of
`TuneRedis`.  The front-end tests write the snapshots themselves, as
tuneslotd would, on whichever node is the master; the daemon's tests and the
whole fleet's run tuneslotd through the Sentinels too."""

import datetime
import json
import re
import signal
import subprocess
import threading
import time

import pytest

from harness.chaos import report
from harness.net import wait_until
from harness.nginx import Nginx
from harness.redis import GENERATION_KEY, LEADER_KEY, Monitor
from harness.paths import repo_dir
from harness.tuneslotd import toml_text
from harness import tuneslotd_binary
from harness.sentinel import MASTER_NAME, LyingSentinel, SentinelSet
from harness.tuneins import TuneInStream

A = "http://127.0.0.1:8001/demo"
B = "http://127.0.0.1:8002/demo"

#: the front-end reads this often; the bound of a failover is counted in
#: tuneslotd's intervals (1 s by default), which this is far below
REFRESH_MS = 50
INTERVAL_MS = 1000


def snapshot(url: str) -> str:
    """One slot of "demo" with room for far more than the tests send."""
    now = int(time.time() * 1000)
    return "".join([
        "tuneslot-snapshot\t1\n", f"written_ms\t{now}\n", f"interval_ms\t{INTERVAL_MS}\n",
        "\t".join(["slot", "demo", "a", "up", "0", "100000", "100000", "100", "", str(now), url]),
        "\nend\n"])


def started(s: SentinelSet, processes) -> SentinelSet:
    """s started, its processes in the test's list (stopped by it, also after a failed start)."""
    try:
        s.start()
    finally:
        processes.extend(s.processes())
    return s


@pytest.fixture
def sentinels(run_dir, processes):
    return started(SentinelSet(run_dir), processes)


@pytest.fixture(params=["nginx", "apache"])
def front(request, run_dir, processes, make_tune_apache):
    """front(words) -> nginx or Apache (the test's parameter) reading Redis as words
    say, herd control on as by default, a reply timeout of 300 ms."""
    def make(words: str):
        if request.param == "nginx":
            n = Nginx(run_dir, words, refresh=f"{REFRESH_MS}ms",
                      http_conf="tune_redis_timeout 300ms;\n")
            processes.append(n)
            n.start()
        else:
            n = make_tune_apache(words, refresh=f"{REFRESH_MS}ms", herd_window=None,
                                 server_conf="TuneRedisTimeout 300ms\n", log_level="info")
        n.kind = request.param
        return n
    return make


def wait_for_location(front, expected, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        r = front.get("/tune/demo")
        if r.header("location") == expected:
            return time.monotonic()
        if time.monotonic() >= deadline:
            raise AssertionError(f"/tune/demo: {r}, expected Location {expected}; "
                                 f"log:\n{front.error_log_text()[-3000:]}")
        time.sleep(0.01)


def chaos_line(scenario: str, kind: str, stream: TuneInStream, extra: str) -> str:
    """The chaos suite's summary line (t/README.md) for a stream of tune-ins: "stale"
    counts the answers that were not a slot (a 503 once the snapshot is too old), "failed"
    the tune-ins without an answer (and a wrong Location); the tests want both 0."""
    c = stream.summary()["targets"][kind]
    stale = c["errors"].get("status not 302", 0)
    return (f"chaos {scenario} {kind}: requests {c['sent']}, ok {c['good']}, stale {stale}, "
            f"failed {stream.error_count() - stale}, worst {c['worst_s'] * 1000:.1f} ms; {extra}")


# ---- nginx -t ---------------------------------------------------------------------------

@pytest.mark.parametrize("words, message", [
    ("127.0.0.1:6379 sentinel=127.0.0.1:26379 master=m",
     '"sentinel=" of the "tune_redis" directive replaces the address: give one or the other'),
    ("sentinel=127.0.0.1:26379",
     '"sentinel=" of the "tune_redis" directive requires "master="'),
    ("127.0.0.1:6379 master=m",
     '"master=", "sentinel_user=" and "sentinel_password=" of the "tune_redis" directive '
     'require "sentinel="'),
    ("sentinel=127.0.0.1:26379 master=my\x01master",
     'invalid "master=" of the "tune_redis" directive: the master name holds a byte'),
    ("sentinel=127.0.0.1:26379 master=" + "m" * 129,
     'invalid "master=" of the "tune_redis" directive: the master name is longer than 128'),
    ("sentinel=127.0.0.1:26379,,127.0.0.1:26380 master=m",
     'empty Sentinel address in "sentinel=" of the "tune_redis" directive'),
    ("sentinel=127.0.0.1:26379, master=m",
     'empty Sentinel address in "sentinel=" of the "tune_redis" directive'),
    ("sentinel=" + ",".join(f"127.0.0.1:{26379 + i}" for i in range(17)) + " master=m",
     'more than 16 Sentinels in "sentinel=" of the "tune_redis" directive'),
    ("sentinel=unix:/run/s.sock master=m",
     'invalid Sentinel address "unix:/run/s.sock" of the "tune_redis" directive, '
     'expected host[:port]'),
    ("sentinel=127.0.0.1:99999 master=m",
     'invalid port in "127.0.0.1:99999" of "sentinel=" of the "tune_redis" directive'),
    ("sentinel=127.0.0.1:26379 master=m sentinel_user=u",
     '"sentinel_user=" of the "tune_redis" directive requires "sentinel_password="'),
    ("sentinel=127.0.0.1:26379 master=m sentinel_password=",
     'empty sentinel_password in the "tune_redis" directive'),
    ("sentinel=127.0.0.1:26379 master=m master=n",
     'duplicate parameter "master" in the "tune_redis" directive'),
    ("password=x db=2",
     'the "tune_redis" directive needs an address or "sentinel=" before its parameters'),
])
def test_sentinel_words_rejected_by_nginx_t(run_dir, words, message):
    """Each malformed Sentinel configuration is refused by nginx -t with the file, line
    and reason, and no message quotes a password."""
    n = Nginx(run_dir, words)
    text = n.config_text()
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("tune_redis "))
    p = n.test_config(text)
    assert p.returncode != 0, p.stderr
    assert message in p.stderr, p.stderr
    assert f"{n.conf_path}:{line}" in p.stderr, p.stderr


@pytest.mark.parametrize("words", [
    "sentinel=127.0.0.1:26379,localhost master=tune-slot_1.eu password=pw user=u db=2 "
    "sentinel_user=su sentinel_password=spw",
    "master=tune-slot_1.eu sentinel=127.0.0.1:26379",
])
def test_sentinel_words_accepted(run_dir, words):
    """The full form passes nginx -t (names resolved, default port 26379), its words in
    any order."""
    n = Nginx(run_dir, words)
    p = n.test_config()
    assert p.returncode == 0, p.stderr


# ---- through the Sentinels --------------------------------------------------------------

def test_finds_the_master_through_sentinel(front, sentinels):
    """The front-end asks a Sentinel, connects where it says, checks ROLE, and serves the
    master's snapshot; the log says where the master is and which Sentinel said so."""
    sentinels.master.put_snapshot(snapshot(A), 1)
    n = front(sentinels.nginx_words())
    wait_for_location(n, A)
    m = sentinels.master
    assert (f'redis master "{MASTER_NAME}" is at {m.host}:{m.port} (Sentinel at '
            in n.error_log_text()), n.error_log_text()
    assert sentinels.master.calls("role") >= 1
    assert all(r.calls("get") == 0 for r in sentinels.replicas)


def serving_under_load(front, sentinels):
    """(the master, the front-end, a stream of 100 tune-ins a second to it): the front-end
    serves A from the master's generation 1, and 50 tune-ins were answered already."""
    old = sentinels.master
    old.put_snapshot(snapshot(A), 1)
    n = front(sentinels.nginx_words())
    wait_for_location(n, A)
    stream = TuneInStream({n.kind: n.url("/tune/demo")}, rate=100, duration=60,
                          expect=lambda loc: loc in (A, B)).start()
    try:
        wait_until(lambda: stream.good() >= 50, timeout=10, what="tune-ins before the fault")
    except BaseException:
        stream.close()
        raise
    return old, n, stream


def test_follows_a_killed_master(front, sentinels):
    """SIGKILL of the master under steady tune-ins: not one fails (the snapshot in shared
    memory answers throughout), the front-end reaches the promoted replica and serves a generation
    written there within two intervals of the failover; the timeline is printed."""
    old, n, stream = serving_under_load(front, sentinels)
    try:
        t_kill = time.monotonic()
        old.kill()
        new = sentinels.wait_for_failover(old)
        t_failover = time.monotonic()
        new.put_snapshot(snapshot(B), 2)
        t_written = time.monotonic()
        t_seen = wait_for_location(n, B, timeout=30)
        after = stream.good()
        wait_until(lambda: stream.good() >= after + 50, timeout=10,
                   what="tune-ins after the new generation")
    finally:
        stream.close()

    summary = stream.summary()["targets"][n.kind]
    report(chaos_line("sentinel-kill", n.kind, stream,
                      f"failover {t_failover - t_kill:.2f} s after the kill, new generation served "
                      f"{t_seen - t_written:.2f} s after it was written ({t_seen - t_kill:.2f} s "
                      f"after the kill)"))
    assert stream.error_count() == 0, summary
    assert summary["good"] > 0
    # within two of tuneslotd's intervals of the failover and the write
    assert t_seen - max(t_failover, t_written) <= 2 * INTERVAL_MS / 1000, \
        (t_kill, t_failover, t_written, t_seen)
    assert f'redis master "{MASTER_NAME}" is at {new.host}:{new.port}' in n.error_log_text()


@pytest.fixture
def patient_sentinels(run_dir, processes):
    """The set-up with down-after-milliseconds 3000: a replica stopped for a moment is
    not taken for down (and so stays fit for promotion)."""
    return started(SentinelSet(run_dir, down_after_ms=3000), processes)


def test_generation_stepping_back_after_a_failover_is_installed(front, patient_sentinels):
    """Writes the old master took and lost (its replicas cut off meanwhile, then it died):
    the promoted replica holds an older generation than the front-end's, and the front-end
    installs it, since it fetches whenever the generation differs, not only when it grows."""
    s = patient_sentinels
    old = s.master
    old.put_snapshot(snapshot(A), 1)
    n = front(s.nginx_words())
    wait_for_location(n, A)
    replicas = s.replicas
    for r in replicas:
        wait_until(lambda: r.generation() == 1, timeout=10, what=f"{r.name} has generation 1")
    # the replicas stop, and the master drops their links before the write: nothing of it
    # reaches them, not even into their sockets' buffers
    for r in replicas:
        r.signal(signal.SIGSTOP)
    try:
        old.command("CLIENT", "KILL", "TYPE", "replica")
        old.put_snapshot(snapshot(B), 7)
        wait_for_location(n, B)
        old.kill()
    finally:
        for r in replicas:
            r.signal(signal.SIGCONT)
    new = s.wait_for_failover(old)
    assert new.generation() == 1
    wait_for_location(n, A, timeout=30)


def test_leaves_a_hung_master(front, sentinels):
    """SIGSTOP of the master (hung, not dead): the front-end times out on it, follows the
    failover without a failed tune-in, and once the old master runs again and rejoins as a
    replica, nothing of the front-end's reads from it."""
    old, n, stream = serving_under_load(front, sentinels)
    try:
        t_stop = time.monotonic()
        old.signal(signal.SIGSTOP)
        try:
            new = sentinels.wait_for_failover(old)
            t_failover = time.monotonic()
            new.put_snapshot(snapshot(B), 2)
            t_written = time.monotonic()
            t_seen = wait_for_location(n, B, timeout=30)
        finally:
            old.signal(signal.SIGCONT)
        wait_until(lambda: sentinels.rejoined(old), timeout=30,
                   what="the old master rejoins as a replica")
        gets = old.calls("get")
        new.wait_for_calls("get", 20, what="the front-end's reads of the new master")
    finally:
        stream.close()

    summary = stream.summary()["targets"][n.kind]
    report(chaos_line("sentinel-hang", n.kind, stream,
                      f"failover {t_failover - t_stop:.2f} s after SIGSTOP, new generation served "
                      f"{t_seen - t_written:.2f} s after it was written"))
    assert stream.error_count() == 0, summary
    assert t_seen - max(t_failover, t_written) <= 2 * INTERVAL_MS / 1000
    assert old.calls("get") == gets, f"{n.kind} read from the old master after it rejoined"


def test_sentinels_going_down(front, sentinels):
    """One Sentinel down, then two of three: each reconnect finds the master through the
    rest.  None left: the front-end keeps answering from its snapshot and says once that
    no Sentinel answers."""
    master, n, stream = serving_under_load(front, sentinels)
    try:
        for k, url in ((1, B), (2, A)):
            sentinels.sentinels[k - 1].stop()
            # the front-end's connection goes: it must ask the Sentinels again
            roles = master.calls("role")
            master.command("CLIENT", "KILL", "TYPE", "normal")
            master.wait_for_calls("role", 1, since=roles, timeout=10,
                                  what=f"the front-end back on the master with {k} Sentinel(s) down")
            master.put_snapshot(snapshot(url), 1 + k)
            wait_for_location(n, url)

        sentinels.sentinels[2].stop()
        gets = master.calls("get")
        master.command("CLIENT", "KILL", "TYPE", "normal")
        wait_until(lambda: "no Sentinel answers" in n.error_log_text(), timeout=10,
                   what="the line that no Sentinel answers")
        # the front-end's reads reached the master before and do not now; tune-ins are
        # still answered
        for _ in range(20):
            assert n.get("/tune/demo").header("location") == A
        answered = stream.good()
        wait_until(lambda: stream.good() >= answered + 50, timeout=10,
                   what="tune-ins with no Sentinel left")
    finally:
        stream.close()
    report(chaos_line("sentinel-down", n.kind, stream,
                      "one Sentinel of three stopped, then two, then all three"))
    assert stream.error_count() == 0, stream.summary()
    lines = [l for l in n.error_log_text().splitlines() if "no Sentinel answers" in l]
    assert len(lines) == 1, lines
    assert master.calls("get") <= gets + 1


# ---- credentials --------------------------------------------------------------------------

ADMIN_PW = "admin-Xk29pq"
SENTINEL_ADMIN_PW = "sentinel-admin-7Yt2"
READER_PW = "reader-Jq83mz"
SENTINEL_USER_PW = "sentinel-user-Lp40"


def example_user(name: str, password: str) -> list[str]:
    """redis/acl.example's rules for name, its >CHANGE-ME password replaced."""
    for line in (repo_dir() / "redis" / "acl.example").read_text().splitlines():
        if line.startswith(f"user {name} "):
            return [">" + password if r.startswith(">CHANGE-ME") else r
                    for r in line.split()[2:]]
    raise AssertionError(f"no user {name} in redis/acl.example")


def example_sentinel_user() -> str:
    """The Sentinel ACL user redis/acl.example shows, with the test's password."""
    for line in (repo_dir() / "redis" / "acl.example").read_text().splitlines():
        if line.startswith("#   user tune-sentinel "):
            return line[4:].replace(">CHANGE-ME-sentinel", ">" + SENTINEL_USER_PW)
    raise AssertionError("no Sentinel user in redis/acl.example")


@pytest.fixture
def guarded_sentinels(run_dir, processes):
    """The set-up with passwords everywhere: the data nodes' default user and the
    Sentinels' (administrators), acl.example's tune-reader on the data nodes and its
    Sentinel user on the Sentinels (what the front-ends are given)."""
    return started(guarded_set(run_dir, ["--user", "tune-reader",
                                         *example_user("tune-reader", READER_PW)]), processes)


def guarded_set(run_dir, users: list[str]) -> SentinelSet:
    """Passwords on the data nodes and the Sentinels, the users given on the data nodes,
    acl.example's Sentinel user on the Sentinels."""
    return SentinelSet(run_dir, password=ADMIN_PW, sentinel_password=SENTINEL_ADMIN_PW,
                       redis_args=users, sentinel_lines=[example_sentinel_user()])


def test_least_privilege_users_through_a_failover(front, guarded_sentinels):
    """acl.example's reader on the data nodes and its Sentinel user on the Sentinels:
    the front-end finds the master, follows a killed one, and nothing is refused (no
    NOPERM, no refused credentials); no line holds a password."""
    s = guarded_sentinels
    words = (f"user=tune-reader password={READER_PW} "
             f"sentinel_user=tune-sentinel sentinel_password={SENTINEL_USER_PW}")
    old, n, stream = serving_under_load(lambda _: front(s.nginx_words(words)), s)
    try:
        old.kill()
        new = s.wait_for_failover(old)
        new.put_snapshot(snapshot(B), 2)
        wait_for_location(n, B, timeout=30)
    finally:
        stream.close()
    report(chaos_line("sentinel-acl", n.kind, stream,
                      "least-privilege users on the data nodes and the Sentinels, master killed"))
    assert stream.error_count() == 0, stream.summary()

    log = n.error_log_text()
    assert "NOPERM" not in log and "refused the credentials" not in log, log
    for secret in (ADMIN_PW, SENTINEL_ADMIN_PW, READER_PW, SENTINEL_USER_PW):
        assert secret not in log


def test_wrong_sentinel_password_is_told_once(front, guarded_sentinels):
    """Sentinels refusing the credentials: one error naming the directive (not the
    password) however often they are asked, and 503 while no snapshot was ever read."""
    s = guarded_sentinels
    s.master.put_snapshot(snapshot(A), 1)
    n = front(s.nginx_words(f"user=tune-reader password={READER_PW} "
                            "sentinel_user=tune-sentinel sentinel_password=wrong-pw"))
    directive = "tune_redis" if n.kind == "nginx" else "TuneRedis"
    # several rounds: each Sentinel refused several AUTHs
    wait_until(lambda: all(x.refused_auths("tune-sentinel") >= 3 for x in s.sentinels),
               timeout=20, what="three refused AUTHs at every Sentinel")
    lines = [l for l in n.error_log_text().splitlines() if "refused the credentials" in l]
    assert len(lines) == 1, lines
    assert f'refused the credentials of "{directive}"' in lines[0]
    assert "wrong-pw" not in n.error_log_text()
    assert n.get("/tune/demo").status == 503


# ---- tuneslotd ----------------------------------------------------------------------------

TUNESLOTD_INTERVAL_MS = 500


def daemon_config(sentinels: SentinelSet, ice, **top) -> dict:
    return {"redis_sentinels": [s.address for s in sentinels.sentinels],
            "redis_master_name": MASTER_NAME,
            "interval": f"{TUNESLOTD_INTERVAL_MS}ms", "timeout": "400ms", **top,
            "backend": [{"name": "ice-a", "status": ice.url("/load.xsl"), "public": ice.base_url}],
            "stream": [{"name": "demo", "mount": "/demo"}]}


@pytest.fixture
def icecast(make_icecast, make_source):
    ice = make_icecast()
    make_source(ice, "/demo")
    return ice


BAD_DAEMON = [
    ({"redis": "127.0.0.1:6379"}, "redis: set redis or redis_sentinels, not both"),
    ({"redis_master_name": None}, "redis_sentinels: needs redis_master_name"),
    ({"redis_master_name": "my master"}, "redis_master_name: the master name holds a byte"),
    ({"redis_sentinels": []}, "redis_sentinels: must list at least one Sentinel"),
    ({"redis_sentinels": [f"127.0.0.1:{26379 + i}" for i in range(17)]},
     "redis_sentinels: lists 17 Sentinels, at most 16"),
    ({"redis_sentinels": ["127.0.0.1:99999"]}, "redis_sentinels: entry 1: \"127.0.0.1:99999\": the port"),
    ({"redis_sentinels": ["unix:/run/s.sock"]}, "a Sentinel is reached over TCP"),
    ({"redis_sentinels": ["ok.example", 5]}, "redis_sentinels: entry 2 must be a \"host:port\" string"),
    ({"redis_sentinel_user": "u"}, "redis_sentinel_user: needs redis_sentinel_password"),
    ({"redis_sentinel_password": "s3cret-Qx9", "redis_sentinel_password_file": "/nonexistent"},
     "redis_sentinel_password_file: set redis_sentinel_password or redis_sentinel_password_file, not both"),
]


@pytest.mark.parametrize("change, message", BAD_DAEMON, ids=[m.split(":")[0] + str(i)
                                                            for i, (_, m) in enumerate(BAD_DAEMON)])
def test_daemon_sentinel_keys_rejected_by_check(run_dir, change, message):
    """tuneslotd --check refuses each malformed Sentinel configuration with the file, line,
    key and reason; no message holds a password."""
    class Ice:
        base_url = "http://127.0.0.1:9"

        def url(self, path):
            return self.base_url + path

    class Three:
        sentinels = [type("S", (), {"address": f"127.0.0.1:{26379 + i}"})() for i in range(3)]

    config = daemon_config(Three, Ice())
    for k, v in change.items():
        if v is None:
            config.pop(k)
        else:
            config[k] = v
    path = run_dir / "bad.toml"
    path.write_text(toml_text(config))
    path.chmod(0o600)
    r = subprocess.run([str(tuneslotd_binary()), "--check", "-c", str(path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(rf"^{re.escape(str(path))}:\d+: ", r.stderr, re.M), r.stderr
    assert message in r.stderr, r.stderr
    # (a secret the run directory's random name cannot hold by chance)
    assert "s3cret-Qx9" not in r.stderr


def test_daemon_sentinel_keys_accepted(run_dir):
    """The full Sentinel form passes --check; the line names the master."""
    secret = run_dir / "sentinel.pw"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    config = {"redis_sentinels": ["127.0.0.1:26379", "localhost", "[::1]:26380"],
              "redis_master_name": "tune-slot_1.eu", "redis_user": "tuneslotd",
              "redis_password": "x", "redis_sentinel_user": "tune-sentinel",
              "redis_sentinel_password_file": str(secret),
              "backend": [{"name": "a", "status": "http://127.0.0.1:9/load.xsl",
                           "public": "http://127.0.0.1:9"}],
              "stream": [{"name": "demo", "mount": "/demo"}]}
    path = run_dir / "ok.toml"
    path.write_text(toml_text(config))
    path.chmod(0o600)
    r = subprocess.run([str(tuneslotd_binary()), "--check", "-c", str(path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "s3cret" not in r.stdout + r.stderr


def test_daemon_follows_a_killed_master(sentinels, icecast, make_tuneslotd):
    """Two tuneslotd through the Sentinels: rounds go to the master; SIGKILL of it, and the
    rounds resume on the promoted replica within two intervals of the failover, with a
    generation above any the replica had; the timeline is printed."""
    daemons = [make_tuneslotd(daemon_config(sentinels, icecast), name=f"tuneslotd{i}").start()
               for i in (1, 2)]
    old = sentinels.master
    old.wait_for_generation(2)
    # the lease just taken was waited for on a replica (WAIT), so a failover keeps it
    assert any(re.search(r"leader: the lease reached [12] replica\(s\)", d.log_text())
               for d in daemons), [d.log_text()[-2000:] for d in daemons]
    old_lease = old.command("GET", LEADER_KEY)
    t_kill = time.monotonic()
    old.kill()
    new = sentinels.wait_for_failover(old)
    t_failover = time.monotonic()
    g_new = new.generation() or 0
    g, _ = new.wait_for_generation(g_new + 1, timeout=30)
    t_round = time.monotonic()
    report(f"sentinel kill tuneslotd: failover {t_failover - t_kill:.2f} s after the kill, first "
           f"round on the new master {t_round - t_failover:.2f} s after it (generation {g_new} -> {g}, "
           f"interval {TUNESLOTD_INTERVAL_MS} ms)")
    assert t_round - t_failover <= 2 * TUNESLOTD_INTERVAL_MS / 1000 + 1.0, (t_kill, t_failover, t_round)
    # both find the new master: the leader writes there, the other stands by there
    for d in daemons:
        wait_until(lambda: f'redis master "{MASTER_NAME}" is at {new.host}:{new.port}' in d.log_text(),
                   timeout=10, what=f"{d.name} on the new master")
    # the lease taken there has a token above the one the old master handed out
    new_lease = new.command("GET", LEADER_KEY)
    assert new_lease is not None
    assert int(new_lease.split()[1]) > int(old_lease.split()[1]), (old_lease, new_lease)


def test_daemon_tells_a_lease_no_replica_has(sentinels, icecast, make_tuneslotd):
    """Both replicas hung when tuneslotd takes the lease: WAIT gives up after its short
    timeout, the line says a failover now could lose the lease, and rounds are written
    all the same."""
    for r in sentinels.replicas:
        r.signal(signal.SIGSTOP)
    try:
        d = make_tuneslotd(daemon_config(sentinels, icecast), name="tuneslotd1").start()
        d.wait_for_log(r"leader: no replica acknowledged the lease within 100ms; a failover now "
                       r"could lose it", timeout=10)
        sentinels.master.wait_for_generation(1)
    finally:
        for r in sentinels.replicas:
            r.signal(signal.SIGCONT)
    assert "the lease reached" not in d.log_text()


def log_times(daemon, text: str) -> list[float]:
    """The unix times of the lines of the daemon's log holding text, in order."""
    out = []
    for line in daemon.log_text().splitlines():
        if text in line:
            stamp = datetime.datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ")
            out.append(stamp.replace(tzinfo=datetime.timezone.utc).timestamp())
    return out


def log_time(daemon, text: str) -> float:
    """The unix time of the first line of the daemon's log holding text."""
    times = log_times(daemon, text)
    if not times:
        raise AssertionError(f"{daemon.name} never logged {text!r}:\n{daemon.log_text()[-3000:]}")
    return times[0]


def foreign_clients(node) -> list[str]:
    """The node's clients other than the Sentinels, its master link, MONITORs and the
    one asking: what a component of ours keeps connected to it."""
    out = []
    for line in node.command("CLIENT", "LIST").decode().splitlines():
        f = dict(w.split("=", 1) for w in line.split() if "=" in w)
        if (f.get("name", "").startswith("sentinel-") or "M" in f.get("flags", "")
                or "O" in f.get("flags", "") or f.get("cmd") == "client|list"):
            continue
        out.append(f"{f.get('addr')} name={f.get('name')} cmd={f.get('cmd')}")
    return out


def test_daemon_leaves_a_hung_master(sentinels, icecast, make_tuneslotd):
    """Two tuneslotd through the Sentinels; SIGSTOP of the master (hung, not dead), SIGCONT
    once the rounds go on on the promoted replica: the old master never takes a round a
    tuneslotd had sent it before it hung (that lease expired: its TTL, 1.5 intervals, is
    shorter than any failover, which takes down-after-milliseconds at least), it rejoins as
    a replica, and no tuneslotd stays connected to it.

    What it may take is a round made after it came back, before the Sentinels turn it into a
    replica (some 8 s after it answers; no min-replicas-to-write here): from a tuneslotd that
    a Sentinel not yet told of the failover (they learn it from each other within 2 s) sent
    there while it hung, whose calls the old master answers as it wakes (README, "What a
    failover does"). Its demotion discards it."""
    daemons = [make_tuneslotd(daemon_config(sentinels, icecast), name=f"tuneslotd{i}").start()
               for i in (1, 2)]
    old = sentinels.master
    old.wait_for_generation(2)
    monitor = Monitor(old.host, old.port)
    try:
        t_stop = time.monotonic()
        old.signal(signal.SIGSTOP)
        try:
            new = sentinels.wait_for_failover(old)
            t_failover, wall_failover = time.monotonic(), time.time()
            g_new = new.generation() or 0
            g_round, _ = new.wait_for_generation(g_new + 1, timeout=30)
            t_round = time.monotonic()
        finally:
            t_cont = time.time()
            old.signal(signal.SIGCONT)
        wait_until(lambda: sentinels.rejoined(old), timeout=30,
                   what="the old master rejoins as a replica")
        wait_until(lambda: not foreign_clients(old), timeout=10,
                   what="no tuneslotd connected to the old master")
        # rounds go on, on the new master
        new.wait_for_generation(g_round + 1, timeout=10)
    finally:
        monitor.stop()

    # when a tuneslotd reached the new master, and when the first round was written there:
    # a tuneslotd logs "back" as the first round after an outage is written (both were cut
    # off by the hang: their lease calls timed out). Not the generation the test sees: a
    # tuneslotd may reach the new master and write a round before the test sees the failover,
    # and the next generation is then the second round.
    reached = min(log_time(d, f'redis master "{MASTER_NAME}" is at {new.host}:{new.port}')
                  for d in daemons)
    written = min((t for d in daemons
                   for t in log_times(d, f'redis master "{MASTER_NAME}" via Sentinel: back (Redis')
                   if t >= reached), default=None)
    assert written is not None, "\n".join(d.log_text()[-2000:] for d in daemons)
    after = monitor.since(t_cont)
    by_clients = [words[0] for _, source, words in after
                  if source not in ("lua",) and words and words[0].upper() == "EVALSHA"]
    rounds = [words for _, source, words in after
              if source == "lua" and len(words) > 1 and words[1] == GENERATION_KEY
              and words[0].upper() == "INCR"]
    # publish_round.lua INCRs the generation and SETs it to the round's written_ms when
    # that is more, which a round's written_ms always is here (rounds are an interval
    # apart): one made after the master woke took its written_ms after its lease call was
    # answered, after SIGCONT; one sent before the hang carries an earlier one
    made_after = [words for _, source, words in after
                  if source == "lua" and len(words) > 2 and words[1] == GENERATION_KEY
                  and words[0].upper() == "SET" and int(words[2]) >= int(t_cont * 1000)]
    report(f"sentinel hang tuneslotd: failover {t_failover - t_stop:.2f} s after SIGSTOP, first "
           f"round on the new master {t_round - t_failover:.2f} s after it (a tuneslotd reached "
           f"the new master {reached - wall_failover:.2f} s after it, and wrote a round "
           f"{written - reached:.3f} s after that); after SIGCONT the old "
           f"master ran {len(by_clients)} script call(s) and took {len(rounds)} round(s), "
           f"{len(made_after)} of them made after it came back")
    assert len(rounds) == len(made_after), after
    assert written - reached <= TUNESLOTD_INTERVAL_MS / 1000, (written, reached)


# ---- herd control through a failover ------------------------------------------------------

def test_herd_bound_through_a_failover(run_dir, processes, sentinels):
    """test_herd.py's burst (slots of 100, 10 and 10 free, two nginx of two workers each,
    sharing Redis) spread over 4 s, with the master killed 1 s in: the claims that fail
    while the Sentinels promote a replica are not fatal (every tune-in is answered, a slot
    or 503), and each front-end keeps to what Redis last left it while its claims fail, so
    the fleet stays near the free counts: a slot may get at most the reservations the
    replica had not received when the master died (asynchronous replication), well under
    half its free count here; how many over each slot got is printed.  (Each counting
    against the whole free count, every slot got twice its free count.)"""
    from test_herd import FREE, PROBE, burst, snapshot as herd_snapshot, tally, now_ms

    old = sentinels.master
    old.put_snapshot(herd_snapshot(FREE, now_ms()), 1)
    fronts = []
    for name in ("nginx1", "nginx2"):
        n = Nginx(run_dir, sentinels.nginx_words(), name=name, workers=2, refresh="100ms",
                  locations="location /tune/ { tune; }\n"
                            "location = /tune-status { tune_status; }\n"
                            "location / { return 404; }\n")
        processes.append(n)
        fronts.append(n.start())
    for n in fronts:
        wait_until(lambda: n.get("/tune/probe").header("location") == PROBE, timeout=10,
                   what=f"{n.name} has the snapshot")
        wait_until(lambda: '"herd":"shared"' in n.get("/tune-status").body.decode().replace(" ", ""),
                   timeout=10, what=f"{n.name} spends credits from Redis")

    killer = threading.Timer(1.0, old.kill)
    killer.start()
    try:
        results = burst(fronts, 1000, 4.0)
    finally:
        killer.cancel()
        killer.join()
    new = sentinels.wait_for_failover(old)
    sent, full = tally(results)
    over = {b: max(0, sent[b] - FREE[b]) for b in FREE}
    report(f"chaos sentinel-herd nginx: requests {len(results)}, ok {sum(sent.values())}, "
           f"stale 0, failed 0, worst n/a; sent {dict(sent)} to free {FREE}, over the free count "
           f"{over}, {full} x 503 (slots full), failover to {new.address}")
    for b, n in FREE.items():
        assert over[b] <= n // 2, (sent, FREE)
    assert full + sum(sent.values()) == len(results)


# ---- the whole fleet ------------------------------------------------------------------------

def status_generation(front) -> int | None:
    r = front.get("/tune-status")
    if r.status != 200:
        return None
    return (json.loads(r.body).get("snapshot") or {}).get("generation")


def test_whole_fleet_through_a_killed_master(run_dir, processes, sentinels, icecast,
                                             make_tuneslotd, make_tune_apache):
    """A real Icecast, two tuneslotd, nginx and Apache, all through the Sentinels; 100
    tune-ins a second on each front-end; SIGKILL of the master: not one tune-in fails, the
    rounds resume on the promoted replica, and both front-ends install one of them within
    two intervals of its writing; the timeline is printed."""
    for i in (1, 2):
        make_tuneslotd(daemon_config(sentinels, icecast), name=f"tuneslotd{i}").start()
    old = sentinels.master
    old.wait_for_generation(2)
    nginx = Nginx(run_dir, sentinels.nginx_words(), refresh=f"{REFRESH_MS}ms",
                  http_conf="tune_redis_timeout 300ms;\n",
                  locations="location /tune/ { tune; }\n"
                            "location = /tune-status { tune_status; }\n"
                            "location / { return 404; }\n")
    processes.append(nginx)
    nginx.start()
    apache = make_tune_apache(sentinels.nginx_words(), refresh=f"{REFRESH_MS}ms", herd_window=None,
                              server_conf="TuneRedisTimeout 300ms\n", log_level="info")
    fronts = {"nginx": nginx, "apache": apache}
    listen = f"{icecast.base_url}/demo"
    for f in fronts.values():
        wait_for_location(f, listen)

    stream = TuneInStream({k: f.url("/tune/demo") for k, f in fronts.items()}, rate=100,
                          duration=60, expect=lambda loc: loc == listen).start()
    try:
        wait_until(lambda: stream.good() >= 100, timeout=10, what="tune-ins before the kill")
        t_kill = time.monotonic()
        old.kill()
        new = sentinels.wait_for_failover(old)
        t_failover = time.monotonic()
        g_replica = new.generation() or 0
        g_round, _ = new.wait_for_generation(g_replica + 1, timeout=30)
        t_round = time.monotonic()
        seen = {}
        for k, f in fronts.items():
            wait_until(lambda: (status_generation(f) or 0) >= g_round, timeout=30,
                       what=f"{k} installs a round written on the new master")
            seen[k] = time.monotonic()
        after = stream.good()
        wait_until(lambda: stream.good() >= after + 100, timeout=10, what="tune-ins after it")
    finally:
        stream.close()

    for k in fronts:
        report(chaos_line("sentinel-fleet", k, stream,
                          f"failover {t_failover - t_kill:.2f} s after the kill, first round on the "
                          f"new master {t_round - t_failover:.2f} s after it, installed "
                          f"{seen[k] - t_round:.2f} s after that"))
    assert stream.error_count() == 0, stream.summary()
    for k in fronts:
        assert seen[k] - t_round <= 2 * TUNESLOTD_INTERVAL_MS / 1000, (k, t_round, seen)
    assert t_round - t_failover <= 2 * TUNESLOTD_INTERVAL_MS / 1000 + 1.0



# ---- Sentinels that lie, hang or refuse ------------------------------------------------------

@pytest.fixture
def lying_sentinel(request):
    made = []

    def make(host, port):
        s = LyingSentinel(host, port)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


def test_nginx_never_resolves_a_name_a_sentinel_gives(run_dir, processes, lying_sentinel):
    """A Sentinel naming "1.2.3.08" (no address to the system's resolver, which would ask
    DNS for it): nginx's worker refuses it with a warning instead of blocking on DNS."""
    liar = lying_sentinel("1.2.3.08", 6379)
    n = Nginx(run_dir, f"sentinel={liar.address} master={MASTER_NAME}", refresh="50ms")
    processes.append(n)
    n.start()
    wait_until(lambda: "the Sentinels gave a host name, not an address" in n.error_log_text(),
               timeout=10, what="the refusal of a name")
    assert liar.questions >= 1


def test_daemon_leaves_a_replica_a_sentinel_names(sentinels, icecast, make_tuneslotd,
                                                  lying_sentinel):
    """A Sentinel naming a replica: tuneslotd asks ROLE, reads "slave" from the replica's
    five-element answer, writes nothing there and says why."""
    replica = sentinels.replicas[0]
    liar = lying_sentinel(replica.host, replica.port)
    config = daemon_config(sentinels, icecast)
    config["redis_sentinels"] = [liar.address]
    d = make_tuneslotd(config).start()
    wait_until(lambda: f"{replica.host}:{replica.port} is not the master (ROLE: slave)"
               in d.log_text(), timeout=10, what="tuneslotd leaves the replica")
    assert sentinels.master.generation() is None


WRITER_PW = "writer-Hq71za"


@pytest.fixture
def acl_sentinels(run_dir, processes):
    """guarded_sentinels with acl.example's writer on the data nodes as well."""
    return started(guarded_set(run_dir, ["--user", "tune-reader",
                                         *example_user("tune-reader", READER_PW),
                                         "--user", "tuneslotd",
                                         *example_user("tuneslotd", WRITER_PW)]), processes)


def test_daemon_with_the_example_users_and_a_rotated_sentinel_password(acl_sentinels, icecast,
                                                                        make_tuneslotd):
    """tuneslotd as acl.example's writer, through the Sentinels as its Sentinel user: a
    wrong Sentinel password is told as such (naming the key, not the password), and the
    right one given by a reload takes effect: rounds are written, no NOPERM."""
    s = acl_sentinels
    config = daemon_config(s, icecast, redis_user="tuneslotd", redis_password=WRITER_PW,
                           redis_sentinel_user="tune-sentinel",
                           redis_sentinel_password="wrong-sentinel-pw")
    d = make_tuneslotd(config)
    d.config_path.chmod(0o600)
    d.start()
    wait_until(lambda: 'the Sentinels refused the credentials of "redis_sentinel_password"'
               in d.log_text(), timeout=10, what="the refusal told")
    assert s.master.generation() is None

    config["redis_sentinel_password"] = SENTINEL_USER_PW
    d.config_path.write_text(toml_text(config))
    d.signal(signal.SIGHUP)
    s.master.wait_for_generation(1, timeout=15)
    log = d.log_text()
    assert "NOPERM" not in log and "wrong-sentinel-pw" not in log and SENTINEL_USER_PW not in log
    # the example's writer may WAIT for a replica to have the lease
    assert "WAIT refused" not in log and re.search(r"the lease reached [12] replica", log), log


def test_apache_passes_over_a_hung_sentinel(sentinels, make_tune_apache):
    """The first Sentinel hangs (SIGSTOP: the kernel still accepts): Apache gives it a
    Sentinel's short time, not TuneRedisTimeout's 5 s, and reaches the master through the
    next one well within those 5 s."""
    master = sentinels.master
    master.put_snapshot(snapshot(A), 1)
    a = make_tune_apache(sentinels.nginx_words(), refresh=f"{REFRESH_MS}ms",
                         server_conf="TuneRedisTimeout 5s\n", log_level="info")
    wait_for_location(a, A)
    first = sentinels.sentinels[0]
    first.signal(signal.SIGSTOP)
    try:
        roles = master.calls("role")
        master.command("CLIENT", "KILL", "TYPE", "normal")
        master.wait_for_calls("role", 1, since=roles, timeout=3,
                              what="Apache back on the master past the hung Sentinel")
    finally:
        first.signal(signal.SIGCONT)
