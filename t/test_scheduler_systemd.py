"""tuneslotd as a systemd service sees it: the sd_notify messages on a
datagram socket the test owns (READY, RELOADING with MONOTONIC_USEC,
STOPPING, STATUS, WATCHDOG), each sent by the daemon's own PID, and
`tuneslotd --check`, the unit's ExecStartPre and ExecReload check."""

import re
import signal
import subprocess
import time

import pytest

from harness import NotifySocket, Redis, toml_text, tuneslotd_binary


def config(redis_address, ice, interval="300ms", **top):
    return {"redis": redis_address, "interval": interval, "timeout": "250ms", **top,
            "backend": [{"name": "ice-a", "status": ice.url("/load.xsl"), "public": ice.base_url}],
            "stream": [{"name": "demo", "mount": "/demo"}]}


@pytest.fixture
def notify(run_dir):
    s = NotifySocket(run_dir / "notify.sock")
    yield s
    s.close()


@pytest.fixture
def icecast(make_icecast, make_source):
    ice = make_icecast()
    make_source(ice, "/demo")
    return ice


def monotonic_usec() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def test_leader_sequence_ready_reloading_stopping(redis_server, icecast, notify, make_tuneslotd):
    """READY=1 comes after the first round is in Redis; SIGHUP gives RELOADING=1
    with the monotonic time it began, then READY=1; SIGTERM gives STOPPING=1;
    every message is the daemon's own (its PID, as NotifyAccess=main wants)."""
    t = make_tuneslotd(config(redis_server.address, icecast))
    t.extra_env = notify.env()
    t.start()

    ready = notify.wait_for("READY")
    assert ready.get("READY") == "1"
    m = re.fullmatch(r"leader, 1/1 backends up, last round \d\d:\d\d:\d\dZ written as generation (\d+)",
                     ready.get("STATUS", ""))
    assert m, ready.fields
    # the round the status names was published before READY was sent
    assert redis_server.generation() >= int(m.group(1))
    assert not [n for n in notify.messages[:-1] if "READY" in n]

    # a STATUS line per round that changes it (the time of the round does)
    notify.wait_for("STATUS")

    before = monotonic_usec()
    t.signal(signal.SIGHUP)
    reloading = notify.wait_for("RELOADING")
    after = monotonic_usec()
    assert reloading.get("RELOADING") == "1"
    assert before <= int(reloading.get("MONOTONIC_USEC")) <= after
    again = notify.wait_for("READY")
    assert again.get("STATUS") == "configuration reloaded"
    t.wait_for_log(r"config reloaded")

    t.signal(signal.SIGTERM)
    assert notify.wait_for("STOPPING").get("STOPPING") == "1"
    assert t.wait(10) == 0
    notify.drain()                     # it has exited: whatever it sent is queued
    assert {n.pid for n in notify.messages} == {t.pid}
    # no keep-alive without WATCHDOG_USEC
    assert not notify.with_key("WATCHDOG")


def test_watchdog_keep_alive_from_the_loop(redis_server, silent_server, notify, make_tuneslotd):
    """With WATCHDOG_USEC, WATCHDOG=1 is sent at least every WATCHDOG_USEC
    (every half of it, as sd_watchdog_enabled(3) advises) while the loop
    polls a backend that never answers (3 s a round) and while it waits
    between rounds: the kernel's send times of the datagrams show it."""
    watchdog = 1_000_000
    t = make_tuneslotd({"redis": redis_server.address, "interval": "4s", "timeout": "3s",
                        "backend": [{"name": "hung", "status": f"http://{silent_server.address}/load.xsl",
                                     "public": "http://127.0.0.1:9"}],
                        "stream": [{"name": "demo", "mount": "/demo"}]})
    t.extra_env = notify.env(watchdog_usec=watchdog)
    t.allow(r"backend hung: down")
    t.start()
    ready = notify.wait_for("READY", timeout=15)
    # a whole round after READY: 3 s of polling, then the wait
    first = ready.at
    while not notify.with_key("WATCHDOG") or notify.with_key("WATCHDOG")[-1].at < first + 4.5:
        notify.wait_for("WATCHDOG", timeout=5)
    pings = [n.at for n in notify.with_key("WATCHDOG")]
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert max(gaps) < watchdog / 1e6, gaps
    assert "watchdog every 500ms" in t.log_text()


def test_watchdog_meant_for_another_pid_is_left_alone(redis_server, icecast, notify, make_tuneslotd):
    """WATCHDOG_PID naming another process: no keep-alive from tuneslotd."""
    t = make_tuneslotd(config(redis_server.address, icecast))
    t.extra_env = {**notify.env(watchdog_usec=200_000), "WATCHDOG_PID": "1"}
    t.start()
    notify.wait_for("READY")
    notify.wait_for("STATUS")       # another round: a keep-alive would be due four times over
    assert not notify.with_key("WATCHDOG")


def test_standby_is_ready_once_redis_answers(redis_server, icecast, run_dir, make_tuneslotd):
    """A second instance never writes, but is ready as soon as Redis
    answered, and its status names the writer."""
    leader_notify = NotifySocket(run_dir / "leader.sock")
    standby_notify = NotifySocket(run_dir / "standby.sock")
    try:
        leader = make_tuneslotd(config(redis_server.address, icecast, instance="one"), name="one")
        leader.extra_env = leader_notify.env()
        leader.start()
        assert leader_notify.wait_for("READY").get("STATUS").startswith("leader, ")

        standby = make_tuneslotd(config(redis_server.address, icecast, instance="two"), name="two")
        standby.extra_env = standby_notify.env()
        standby.start()
        status = standby_notify.wait_for("READY").get("STATUS")
        assert re.fullmatch(r"standby \(writer: one\), 1/1 backends up, "
                            r"last round \d\d:\d\d:\d\dZ", status), status
    finally:
        leader_notify.close()
        standby_notify.close()


def test_not_ready_until_redis_answers(run_dir, processes, icecast, notify, make_tuneslotd):
    """With Redis away at start the daemon is not ready (systemd's start
    timeout applies) and says why; once Redis is there it is."""
    redis = Redis(run_dir)              # its port chosen, nothing listening yet
    processes.append(redis)
    t = make_tuneslotd(config(redis.address, icecast))
    t.extra_env = notify.env()
    t.allow(r"redis .*: connect")
    t.start()

    status = notify.wait_for("STATUS")
    assert status.get("STATUS").startswith(f"Redis {redis.address} does not answer, rounds are not written; "
                                           "1/1 backends up"), status.fields
    notify.wait_for("STATUS")           # a second round without Redis
    assert not notify.with_key("READY")

    redis.start()
    ready = notify.wait_for("READY")
    assert ready.get("STATUS").startswith("leader, 1/1 backends up")


def test_not_ready_when_redis_refuses_the_lease_script(run_dir, processes, icecast, notify, make_tuneslotd):
    """An ACL user that may not run scripts: Redis answers, but this instance
    can never write, so it is not ready, and its status says why."""
    redis = Redis(run_dir, extra_args=["--user", "noscript", "on", ">noscript-pw", "~*", "&*", "+@all",
                                       "-evalsha", "-eval"])
    processes.append(redis)
    redis.start()
    t = make_tuneslotd(config(redis.address, icecast, redis_user="noscript", redis_password="noscript-pw"))
    t.extra_env = notify.env()
    t.start()
    t.wait_for_log(r"\[error\] redis .*: lease\.lua: NOPERM")
    for _ in range(2):
        status = notify.wait_for("STATUS")
        assert status.get("STATUS").startswith(
            f"Redis {redis.address} answers but the writer's lease cannot be taken (see the log), "
            "rounds are not written; 1/1 backends up"), status.fields
    assert not notify.with_key("READY")


def test_a_standby_refused_the_lease_script_says_so(run_dir, processes, icecast, notify, make_tuneslotd):
    """A standby that saw a writer and then loses the scripts (ACL) says the lease cannot be taken, not "standby (writer: ...)": it could not take over."""
    redis = Redis(run_dir, extra_args=["--user", "tune", "on", ">tune-pw", "~*", "&*", "+@all"])
    processes.append(redis)
    redis.start()
    leader = make_tuneslotd(config(redis.address, icecast, instance="sched-a"), name="a").start()
    leader.wait_for_log(r"holds the lease")
    t = make_tuneslotd(config(redis.address, icecast, instance="sched-b", redis_user="tune",
                              redis_password="tune-pw"), name="b")
    t.extra_env = notify.env()
    t.start()
    assert notify.wait_for("READY").get("STATUS").startswith("standby (writer: sched-a), ")
    redis.command("ACL", "SETUSER", "tune", "-evalsha", "-eval")
    t.wait_for_log(r"\[error\] redis .*: lease\.lua: NOPERM")
    notify.drain()
    status = notify.wait_for("STATUS")
    assert status.get("STATUS").startswith(
        f"Redis {redis.address} answers but the writer's lease cannot be taken (see the log)"), status.fields


def test_refused_reload_is_ready_again_with_the_old_config(redis_server, icecast, notify, make_tuneslotd):
    """A bad file on SIGHUP: RELOADING, then READY with a status saying the
    reload was refused; rounds go on with the old configuration."""
    t = make_tuneslotd(config(redis_server.address, icecast))
    t.extra_env = notify.env()
    t.start()
    notify.wait_for("READY")
    g = redis_server.generation()

    t.config_path.write_text(t.config_path.read_text() + "\nbogus = 1\n")
    t.signal(signal.SIGHUP)
    notify.wait_for("RELOADING")
    ready = notify.wait_for("READY")
    assert ready.get("STATUS") == ("reload refused (see the log): the configuration loaded before is in force")
    t.wait_for_log(r"reload refused")
    redis_server.wait_for_generation(g + 1)


def test_reload_before_ready_sends_no_reloading(run_dir, processes, icecast, notify, make_tuneslotd):
    """A SIGHUP while still starting (Redis away) is part of the start: no
    RELOADING=1, and no READY=1 until there is something to be ready with."""
    redis = Redis(run_dir)
    processes.append(redis)
    t = make_tuneslotd(config(redis.address, icecast))
    t.extra_env = notify.env()
    t.allow(r"redis .*: connect")
    t.start()
    notify.wait_for("STATUS")
    t.signal(signal.SIGHUP)
    t.wait_for_log(r"config reloaded")
    notify.wait_for("STATUS")
    assert not notify.with_key("RELOADING") and not notify.with_key("READY")
    redis.start()
    notify.wait_for("READY")


def test_bad_notify_socket_is_a_warning_not_a_failure(redis_server, icecast, make_tuneslotd):
    """NOTIFY_SOCKET that is no usable address: one warning, rounds written."""
    t = make_tuneslotd(config(redis_server.address, icecast))
    t.extra_env = {"NOTIFY_SOCKET": "relative/path"}
    t.start()
    redis_server.wait_for_generation(1)
    t.wait_for_log(r"\[warn\] NOTIFY_SOCKET \"relative/path\" is neither an absolute path")


# ---- --check --------------------------------------------------------------------------

def run_check(*args):
    return subprocess.run([str(tuneslotd_binary()), *args], capture_output=True, text=True, timeout=30)


def test_check_accepts_a_valid_file_and_starts_nothing(run_dir, icecast):
    """--check: exit 0 and one line on stdout; Redis is not even asked
    (the address here has nothing listening)."""
    path = run_dir / "ok.toml"
    path.write_text(toml_text(config("127.0.0.1:9", icecast)))
    r = run_check("--check", "-c", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"tuneslotd: configuration {path} is valid: 1 backend, 1 stream\n"
    assert r.stderr == ""


def test_check_names_file_line_and_reason(run_dir, icecast):
    """--check: every problem as FILE:LINE: KEY: why on stderr, exit 1."""
    path = run_dir / "bad.toml"
    text = toml_text(config("127.0.0.1:9", icecast)).replace('interval = "300ms"', 'interval = "fast"')
    path.write_text(text + "\n[[backend]]\nname = \"ice-a\"\nweight = 2000000\n")
    lines = text.splitlines()
    interval_line = lines.index('interval = "fast"') + 1
    r = run_check("-c", str(path), "--check")
    assert r.returncode == 1
    assert r.stdout == ""
    errors = r.stderr.splitlines()
    assert errors[0].startswith(f"{path}:{interval_line}: interval: ")
    assert any(re.match(rf"{re.escape(str(path))}:{len(lines) + 4}: backend\[2\]\.weight: 2000000 is out of range",
                        e) for e in errors), errors
    assert errors[-1] == f"tuneslotd: invalid configuration in {path}"


def test_check_missing_file(run_dir):
    r = run_check("--check", "-c", str(run_dir / "nope.toml"))
    assert r.returncode == 1
    assert str(run_dir / "nope.toml") in r.stderr and "No such file" in r.stderr


def test_check_warns_about_a_world_readable_password(run_dir, icecast):
    path = run_dir / "secret.toml"
    path.write_text(toml_text(config("127.0.0.1:9", icecast, redis_password="s3cret-word")))
    path.chmod(0o644)
    r = run_check("--check", "-c", str(path))
    assert r.returncode == 0
    assert "every user of this host may read it" in r.stderr
    assert "s3cret-word" not in r.stderr + r.stdout


def test_check_with_once_is_a_usage_error(run_dir):
    r = run_check("--check", "--once", "-c", str(run_dir / "x.toml"))
    assert r.returncode == 2
    assert "--check and --once exclude each other" in r.stderr
