"""Redis AUTH across the components: tuneslotd logging in as the default user
or an ACL user (password inline or in a file, a database of its own), refused
credentials (one clear error, retried until Redis takes them), a database
Redis refuses (one warning), a hello Redis never answers, the warning
about world-readable files holding passwords, and one fleet of tuneslotd,
nginx and Apache each logging in with the least-privilege ACL users of
redis/acl.example, a real Icecast polled.  No output of any component may
hold a password."""

import json
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from harness import free_port, repo_dir, tuneslotd_binary
from harness.net import wait_until
from harness.nginx import Nginx
from harness.redis import GENERATION_KEY, SNAPSHOT_KEY, TEST_PASSWORD, RedisError

LOAD = '<load><mount name="/demo" listeners="1" max="10">9</mount></load>'
LEADER_KEY = "{tuneslot:v1}:leader"
HERD_PREFIX = "{tuneslot:v1}:herd:"


def config(redis, status_url, **top):
    cfg = {"redis": redis.address, "interval": "300ms"}
    cfg.update(top)
    cfg["backend"] = [{"name": "fake", "status": status_url, "public": "http://radio.example.net"}]
    cfg["stream"] = [{"name": "demo", "mount": "/demo"}]
    return cfg


def generation(redis, db):
    with redis.client(db) as c:
        g = c.command("GET", GENERATION_KEY)
    return None if g is None else int(g)


def clients_of(redis, user: str) -> list[str]:
    """The ids of the connections logged in as user."""
    out = []
    for line in redis.command("CLIENT", "LIST").decode().splitlines():
        f = dict(w.split("=", 1) for w in line.split() if "=" in w)
        if f.get("user") == user:
            out.append(f["id"])
    return out


def wait_for_generation(redis, db, above=0, timeout=10.0):
    """A generation above `above` in database db."""
    deadline = time.monotonic() + timeout
    while True:
        g = generation(redis, db)
        if g is not None and g > above:
            return g
        if time.monotonic() >= deadline:
            raise AssertionError(f"db {db}: generation {g}, none above {above} within {timeout}s")
        time.sleep(0.05)


def five_rounds(status_server):
    """Waits for tuneslotd's next five rounds (its polls of status_server), written or not."""
    polled = len(status_server.requests)
    wait_until(lambda: len(status_server.requests) >= polled + 5, 5, "five more rounds")


def run(*argv, timeout=15):
    """A short-lived command; its stdout and stderr together."""
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def assert_nowhere(run_dir, secrets, holders=(), texts=()):
    """No file of the run directory (every daemon's log, nginx's and Apache's
    logs) holds any of the secrets, except the files meant to (holders:
    configurations, password files), nor does any of texts."""
    holders = {Path(h).resolve() for h in holders}
    read = 0
    for path in Path(str(run_dir)).rglob("*"):
        if not path.is_file() or path.resolve() in holders or path.is_symlink():
            continue
        data = path.read_bytes()
        read += 1
        for s in secrets:
            assert s.encode() not in data, f"{path} holds a password"
    assert read > 0, f"nothing read in {run_dir}"
    for t in texts:
        for s in secrets:
            assert s not in t, f"an output holds a password:\n{t}"


def metrics_text(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


# ---- tuneslotd logging in --------------------------------------------------------------

def test_default_user_password_and_db(redis_with_password, status_server, make_tuneslotd):
    """redis_password logs the default user in, redis_db = 2 gets the rounds (db 0 none); ctl works through the same login; the password is in no output."""
    url = status_server.route("/load.xsl", body=LOAD)
    port = free_port()
    t = make_tuneslotd(config(redis_with_password, url, redis_password=TEST_PASSWORD, redis_db=2,
                              metrics=f"127.0.0.1:{port}")).start()
    wait_for_generation(redis_with_password, 2)
    assert generation(redis_with_password, 0) is None
    log = t.wait_for_log(r"\[info\] redis [\d.:]+: connected \(Redis [\d.]+\), writing rounds").string
    assert re.search(r"\[info\] config: .* redis [\d.:]+ \(AUTH, db 2\)", log), log
    assert not re.search(r"\[(warn|error)\] (redis|.*holds a password)", log), log

    rc, status = run(t.binary, "ctl", "-c", t.config_path, "status")
    assert rc == 0 and "slots:" in status and "demo on fake" in status, status
    metrics = metrics_text(port)
    assert "tuneslotd_redis_up 1" in metrics, metrics
    assert_nowhere(t.run_dir, [TEST_PASSWORD], holders=[t.config_path], texts=[status, metrics])


def test_acl_user_with_a_password_file(redis_with_password, status_server, make_tuneslotd, run_dir):
    """redis_user and redis_password_file (a name relative to the config, the first line only): the ACL user writes the rounds."""
    url = status_server.route("/load.xsl", body=LOAD)
    secret_file = run_dir / "redis.password"
    secret_file.write_text(f"tune-{TEST_PASSWORD}\nnot the password\n")
    os.chmod(secret_file, 0o600)
    t = make_tuneslotd(config(redis_with_password, url, redis_user="tune",
                              redis_password_file="redis.password")).start()
    wait_for_generation(redis_with_password, 0)
    log = t.wait_for_log(r"connected \(Redis").string
    assert re.search(r"redis [\d.:]+ \(AUTH as user tune\)", log), log
    with redis_with_password.client() as c:
        clients = c.command("CLIENT", "LIST").decode()
    assert re.search(r"\buser=tune\b", clients), clients
    assert not re.search(r"\[(warn|error)\] (redis|.*holds a password)", log), log
    assert_nowhere(t.run_dir, [TEST_PASSWORD], holders=[t.config_path, secret_file])


def test_password_rotation_by_reload_keeps_the_lease(redis_with_password, status_server, make_tuneslotd,
                                                     run_dir):
    """A new password in redis_password_file and SIGHUP: the next connection logs in with it, rounds go on, the lease is kept (no hand-over)."""
    url = status_server.route("/load.xsl", body=LOAD)
    secret_file = run_dir / "redis.password"
    secret_file.write_text(f"tune-{TEST_PASSWORD}\n")
    os.chmod(secret_file, 0o600)
    t = make_tuneslotd(config(redis_with_password, url, redis_user="tune",
                              redis_password_file=str(secret_file))).start()
    wait_for_generation(redis_with_password, 0)
    holder = redis_with_password.command("GET", LEADER_KEY)

    rotated = f"rotated-{TEST_PASSWORD}"
    old_logins = clients_of(redis_with_password, "tune")
    redis_with_password.command("ACL", "SETUSER", "tune", "resetpass", ">" + rotated)
    secret_file.write_text(rotated + "\n")
    t.signal(1)                                         # SIGHUP
    t.wait_for_log(r"\[notice\] config reloaded")
    # connections logged in with the old password are closed: only the new one works now.
    # By id: the daemon may have logged in anew already, and "CLIENT KILL USER tune"
    # would close that one too (the CI run of fe1752e's suite saw it as a lost lease)
    for client_id in old_logins:
        try:
            redis_with_password.command("CLIENT", "KILL", "ID", client_id)
        except RedisError:
            pass                                        # closed by the daemon itself
    g = generation(redis_with_password, 0)
    wait_for_generation(redis_with_password, 0, above=g)
    assert redis_with_password.command("GET", LEADER_KEY) == holder
    log = t.log_text()
    assert not re.search(r"lease (given back|lost)|\[(warn|error)\] redis", log), log
    assert_nowhere(run_dir, [TEST_PASSWORD], holders=[t.config_path, secret_file])


def test_a_lease_script_refused_is_said_so_once(redis_with_password, status_server, make_tuneslotd):
    """A leader whose ACL loses the scripts says the lease is lost for Redis's reason, not "redis does not answer", in one line until they work again; then it leads again."""
    url = status_server.route("/load.xsl", body=LOAD)
    t = make_tuneslotd(config(redis_with_password, url, redis_user="tune",
                              redis_password=f"tune-{TEST_PASSWORD}")).start()
    wait_for_generation(redis_with_password, 0)
    t.wait_for_log(r"holds the lease")
    redis_with_password.command("ACL", "SETUSER", "tune", "-evalsha", "-eval")
    t.wait_for_log(r"\[warn\] leader: lease lost \(lease\.lua: NOPERM")
    # three more polls are a dozen ticks (a quarter interval each) refused
    polls = len(status_server.requests)
    wait_until(lambda: len(status_server.requests) >= polls + 3, 5, "three more polls")
    g = generation(redis_with_password, 0)
    redis_with_password.command("ACL", "SETUSER", "tune", "+evalsha", "+eval")
    wait_for_generation(redis_with_password, 0, above=g, timeout=5)
    t.wait_for_log(r"lease\.lua works again")
    log = t.log_text()
    assert "does not answer" not in log, log
    assert len(re.findall(r"\[error\] .*lease\.lua: NOPERM", log)) == 1, log


@pytest.mark.parametrize("login", ["default", "acl"])
def test_refused_credentials_are_one_error_and_recover(redis_with_password, status_server, make_tuneslotd,
                                                      login):
    """Refused AUTH: one error line without the password for the whole outage, no round, ctl and --once fail clearly; once Redis takes the password (CONFIG SET / ACL SETUSER) rounds are written again without a restart."""
    url = status_server.route("/load.xsl", body=LOAD)
    wrong = "wrong-" + TEST_PASSWORD
    creds = {"redis_password": wrong} if login == "default" else {"redis_user": "tune", "redis_password": wrong}
    port = free_port()
    t = make_tuneslotd(config(redis_with_password, url, metrics=f"127.0.0.1:{port}", **creds)).start()
    t.wait_for_log(r"\[error\] redis")
    five_rounds(status_server)
    wait_until(lambda: redis_with_password.refused_logins() >= 3, 5, "three logins refused")
    log = t.log_text()
    refused = re.findall(r"\[error\] redis [\d.:]+: the credentials were refused.*", log)
    who = " (user \"tune\")" if login == "acl" else ""
    assert refused == [f"[error] redis {redis_with_password.address}: the credentials were refused{who}: "
                       "WRONGPASS invalid username-password pair or user is disabled; "
                       "rounds are not written until it is back"], log
    assert not re.search(r"\[warn\] redis", log), log
    assert generation(redis_with_password, 0) is None
    metrics = metrics_text(port)
    assert "tuneslotd_redis_up 0" in metrics, metrics

    # every other output of tuneslotd with this configuration
    rc_ctl, ctl_out = run(t.binary, "ctl", "-c", t.config_path, "status")
    assert rc_ctl == 1 and "the credentials were refused" in ctl_out, ctl_out
    once = make_tuneslotd(config(redis_with_password, url, **creds), name="once")
    assert once.run_once() == 1
    assert "the credentials were refused" in once.log_text(), once.log_text()
    _, help_out = run(t.binary, "--help")
    _, ctl_help = run(t.binary, "ctl", "--help")

    # Redis is told the password tuneslotd has: the next connection works
    if login == "default":
        redis_with_password.command("CONFIG", "SET", "requirepass", wrong)
        redis_with_password.password = wrong
    else:
        redis_with_password.command("ACL", "SETUSER", "tune", ">" + wrong)
    wait_for_generation(redis_with_password, 0)
    t.wait_for_log(r"\[notice\] redis [\d.:]+: back \(Redis")
    assert len(re.findall(r"\[error\] redis", t.log_text())) == 1, t.log_text()
    assert_nowhere(t.run_dir, [TEST_PASSWORD], holders=[t.config_path, once.config_path],
                   texts=[metrics, ctl_out, help_out, ctl_help])


def test_a_database_redis_refuses_is_one_warning(redis_server, status_server, make_tuneslotd):
    """SELECT refused (redis_db 16 of Redis's 16 databases): one warning quoting Redis for the whole outage, no round in any database, ctl and --once fail with the same words."""
    url = status_server.route("/load.xsl", body=LOAD)
    t = make_tuneslotd(config(redis_server, url, redis_db=16)).start()
    t.wait_for_log(r"\[warn\] redis")
    selects = redis_server.calls("select")
    five_rounds(status_server)
    wait_until(lambda: redis_server.calls("select") >= selects + 2, 5, "SELECT 16 refused twice more")
    log = t.log_text()
    assert re.findall(r"\[(?:warn|error)\] redis .*", log) == [
        f"[warn] redis {redis_server.address}: SELECT 16: ERR DB index is out of range; "
        "rounds are not written until it is back"], log
    assert all(generation(redis_server, db) is None for db in range(16))

    rc, out = run(t.binary, "ctl", "-c", t.config_path, "status")
    assert (rc, out) == (1, "tuneslotd ctl: redis: SELECT 16: ERR DB index is out of range\n"), out
    once = make_tuneslotd(config(redis_server, url, redis_db=16), name="once")
    assert once.run_once() == 1
    assert f"[warn] redis {redis_server.address}: SELECT 16: ERR DB index is out of range; rounds" \
        in once.log_text(), once.log_text()


def test_a_hello_without_an_answer_times_out(silent_server, status_server, make_tuneslotd):
    """A Redis that accepts and never answers AUTH: --once gives up after about the timeout and names the command that timed out."""
    url = status_server.route("/load.xsl", body=LOAD)
    once = make_tuneslotd(config(silent_server, url, redis_password=TEST_PASSWORD, redis_db=2), name="once")
    started = time.monotonic()
    assert once.run_once(timeout=10) == 1
    assert time.monotonic() - started < 4.0
    log = once.log_text()
    assert re.findall(r"\[(?:warn|error)\] redis .*", log) == [
        f"[warn] redis {silent_server.address}: AUTH: timeout; rounds are not written until it is back"], log
    assert_nowhere(once.run_dir, [TEST_PASSWORD], holders=[once.config_path])


def test_a_bad_configuration_never_prints_the_password(run_dir):
    """Configurations refused around a password (both password keys, a user without one, a TOML error on its line), by the daemon and by ctl: the errors name keys, never the value."""
    bad = [
        f'redis_password = "{TEST_PASSWORD}"\nredis_password_file = "/nonexistent"\n',
        f'redis_user = "{TEST_PASSWORD}"\n',
        f'redis_password = "{TEST_PASSWORD}\n',
        f"redis_password = '{TEST_PASSWORD}' trailing\n",
        f'redis_password = ["{TEST_PASSWORD}"]\n',
    ]
    outputs = []
    for i, top in enumerate(bad):
        path = run_dir / f"bad-{i}.toml"
        path.write_text(top + '[[backend]]\nname = "a"\nstatus = "http://127.0.0.1:1/load.xsl"\n'
                        'public = "http://a.example.net"\n[[stream]]\nname = "s"\nmount = "/s"\n')
        os.chmod(path, 0o600)
        rc, out = run(tuneslotd_binary(), "-c", path)
        assert rc == 1 and "invalid configuration" in out, out
        outputs.append(out)
        rc, out = run(tuneslotd_binary(), "ctl", "-c", path, "status")
        assert rc == 1 and "invalid configuration" in out, out
        outputs.append(out)
    assert "redis_password_file: set redis_password or redis_password_file, not both" in outputs[0], outputs[0]
    assert "redis_user: needs redis_password or redis_password_file" in outputs[2], outputs[2]
    for out in outputs:
        assert TEST_PASSWORD not in out, out


# ---- files holding passwords -----------------------------------------------------------

def test_world_readable_secrets_are_warned_at_start_and_reload(redis_with_password, status_server,
                                                               make_tuneslotd, run_dir):
    """A world-readable config holding a password is named with its mode at start and at each reload, until chmod 600; then the password file, when it holds the password."""
    url = status_server.route("/load.xsl", body=LOAD)
    t = make_tuneslotd(config(redis_with_password, url, redis_password=TEST_PASSWORD))
    os.chmod(t.config_path, 0o644)
    t.start()
    wait_for_generation(redis_with_password, 0)
    path = str(t.config_path)
    warning = (rf"\[warn\] {re.escape(path)} holds a password and every user of this host may read it "
               rf"\(mode 0644\): chmod 600 {re.escape(path)}, or 640 with a group only tuneslotd's user is in")
    assert len(re.findall(warning, t.log_text())) == 1, t.log_text()

    def reload_and_wait(n):
        t.signal(1)                                     # SIGHUP
        deadline = time.monotonic() + 10
        while len(re.findall(r"\[notice\] config reloaded", t.log_text())) < n:
            assert time.monotonic() < deadline, t.log_text()
            time.sleep(0.05)

    reload_and_wait(1)
    assert len(re.findall(warning, t.log_text())) == 2, t.log_text()
    os.chmod(t.config_path, 0o640)                      # group-readable: the operator's choice
    reload_and_wait(2)
    assert len(re.findall(r"holds a password", t.log_text())) == 2, t.log_text()

    # the password moves to a world-readable file of its own: that one is named
    secret_file = run_dir / "redis.password"
    secret_file.write_text(TEST_PASSWORD + "\n")
    os.chmod(secret_file, 0o604)
    cfg = t.config_path.read_text().replace(f'redis_password = "{TEST_PASSWORD}"',
                                            f'redis_password_file = "{secret_file}"')
    t.config_path.write_text(cfg)
    os.chmod(t.config_path, 0o644)                      # no password in it any more
    reload_and_wait(3)
    log = t.log_text()
    assert re.search(rf"\[warn\] {re.escape(str(secret_file))} holds a password .*\(mode 0604\)", log), log
    assert len(re.findall(r"holds a password", log)) == 3, log
    assert generation(redis_with_password, 0) is not None
    assert_nowhere(run_dir, [TEST_PASSWORD], holders=[t.config_path, secret_file])


# ---- the whole fleet with least-privilege ACL users -------------------------------------

WRITER_PASSWORD = "writer-" + TEST_PASSWORD
READER_PASSWORD = "reader-" + TEST_PASSWORD
ICECAST_PASSWORD = "ice-admin-Zq81"


def example_acl_users() -> dict[str, list[str]]:
    """redis/acl.example's users: name -> rules, each >CHANGE-ME password
    replaced by the test's own."""
    users = {}
    for line in (repo_dir() / "redis" / "acl.example").read_text().splitlines():
        if not line.startswith("user "):
            continue
        _, name, *rules = line.split()
        password = {"tuneslotd": WRITER_PASSWORD, "tune-reader": READER_PASSWORD}[name]
        users[name] = [">" + password if r.startswith(">CHANGE-ME") else r for r in rules]
    return users


def wait_for_credits(front, n, timeout=10.0):
    """Until front's tune-status says it spends credits from Redis (herd
    "shared") and holds at least n for demo's slot on ice-a; the status.

    Before that a tune-in may be 503 "every slot is full" by the herd rules
    (redis/SCHEMA.md, "Herd control"), the snapshot installed or not: the
    first front-end to claim the slot alone was granted all its free places
    as its fair share, and the other one gets credits only once the first
    renews its share (a quarter of the window later) and gives back what is
    left of it.  A 302 answered before the first claim's reply, counted by
    the front-end alone, does not say that the next ones will be."""
    deadline = time.monotonic() + timeout
    while True:
        r = front.get("/tune-status")
        st = json.loads(r.body) if r.status == 200 else None
        slots = [slot for stream in (st or {}).get("streams", []) if stream["name"] == "demo"
                 for slot in stream["slots"] if slot["backend"] == "ice-a"]
        if st and st["redis"]["herd"] == "shared" and slots and slots[0]["credits"] >= n:
            return st
        assert time.monotonic() < deadline, f"{front.name}: no {n} credits within {timeout}s: {st}"
        time.sleep(0.05)


def test_fleet_with_the_example_acl_users(redis_with_password, make_icecast, make_source, make_tuneslotd,
                                          make_tune_apache, run_dir, processes):
    """tuneslotd as redis/acl.example's writer and nginx and Apache as its reader, all in db 5, a real Icecast polled through /admin/stats: both answer tune-ins 302 to it, herd claims are recorded, no NOPERM anywhere, and the readers cannot write the snapshot."""
    users = example_acl_users()
    assert set(users) == {"tuneslotd", "tune-reader"}
    for name, rules in users.items():
        assert redis_with_password.command("ACL", "SETUSER", name, "reset", *rules) == "OK"

    ice = make_icecast(name="ice-a", max_listeners={"/demo": 50}, admin_password=ICECAST_PASSWORD)
    make_source(ice, "/demo", 440)
    writer = make_tuneslotd({
        "redis": redis_with_password.address, "redis_user": "tuneslotd", "redis_password": WRITER_PASSWORD,
        "redis_db": 5, "interval": "500ms",
        "backend": [{"name": "ice-a", "format": "icecast-admin", "status": ice.url("/admin/stats"),
                     "public": ice.base_url, "username": ice.admin_user, "password": ICECAST_PASSWORD}],
        "stream": [{"name": "demo", "mount": "/demo"}],
    }).start()
    wait_for_generation(redis_with_password, 5)

    reader = f"{redis_with_password.address} user=tune-reader password={READER_PASSWORD} db=5"
    nginx = Nginx(run_dir, reader, refresh="50ms",      # herd control on, the module's default
                  locations="location /tune/ { tune; }\n"
                            "location = /tune-status { tune_status; }\n"
                            "location / { return 404; }\n")
    processes.append(nginx)
    nginx.start()
    apache = make_tune_apache(reader, herd_window=None)

    target = ice.url("/demo")
    for front in (nginx, apache):
        wait_for_credits(front, 5)                      # one spent by each tune-in
        for _ in range(5):                              # GET tune-ins: herd claims through EVALSHA
            r = front.get("/tune/demo")
            assert (r.status, r.header("location")) == (302, target), r

    # both front-ends' claims land in the slot's herd hash (their refreshers
    # send them within a tick or two): "n<id>" per claimer, "b<bucket>" the
    # credits granted, which herd_claim.lua adds with HINCRBY
    herd_key = HERD_PREFIX + "demo:ice-a"
    deadline = time.monotonic() + 5
    with redis_with_password.client(5) as admin:
        while True:
            fields = admin.command("HGETALL", herd_key) or []
            names = [f.decode() for f in fields[0::2]]
            claimers = [n for n in names if n.startswith("n")]
            buckets = [n for n in names if n.startswith("b")]
            if len(claimers) >= 2 and buckets:
                break
            assert time.monotonic() < deadline, (f"herd hash {fields}\n{nginx.error_log_text()}\n"
                                                 f"{apache.error_log_text()}")
            time.sleep(0.05)
        assert admin.command("KEYS", HERD_PREFIX + "*") == [herd_key.encode()]
        assert admin.command("GET", LEADER_KEY) is not None
    # the reader's rules keep it away from the writer's keys
    with redis_with_password.client() as c:
        c.command("AUTH", "tune-reader", READER_PASSWORD)
        c.command("SELECT", 5)
        with pytest.raises(Exception, match="NOPERM"):
            c.command("SET", SNAPSHOT_KEY, "forged")
        with pytest.raises(Exception, match="NOPERM"):
            c.command("EVAL", "return redis.call('DEL', KEYS[1])", 1, LEADER_KEY)

    # the operator's commands go through the writer's user (same configuration)
    def ctl(*args):
        rc, out = run(writer.binary, "ctl", "-c", writer.config_path, *args)
        assert rc == 0, out
        return out

    ctl("drain", "ice-a", "--note", "maintenance")
    writer.wait_for_log(r"\[notice\] backend ice-a: draining \(maintenance\)")
    status = ctl("status")
    assert "drains:\n  ice-a  maintenance" in status, status
    ctl("undrain", "ice-a")
    writer.wait_for_log(r"\[notice\] backend ice-a: draining ended")
    # and a clean exit gives the lease back (lease.lua's DEL)
    assert writer.stop() == 0
    assert "[info] leader: lease given back" in writer.log_text(), writer.log_text()
    with redis_with_password.client(5) as admin:
        assert admin.command("GET", LEADER_KEY) is None

    logs = {p.name: "\n".join(path.read_text(errors="replace") for path in p.log_paths() if path.exists())
            for p in (writer, nginx, apache)}
    # a command the rules lack shows as NOPERM, or as "can't run this
    # command" from inside a script; the front-ends log a failed herd claim
    # or refresh at warn and above
    for name, text in logs.items():
        assert not re.search(r"NOPERM|can't run this command|no permissions|refused the credentials", text), \
            f"{name}:\n{text}"
    assert not re.search(r"\[(warn|error)\] (redis|leader)", logs[writer.name]), logs[writer.name]
    assert re.search(r"\[info\] redis [\d.:]+: connected \(Redis \d+\.\d+", logs[writer.name])   # INFO allowed
    assert not [line for line in nginx.log_lines("warn", "error", "crit") if "tune:" in line], \
        nginx.error_log_text()
    assert not apache.log_lines("warn", "error", "crit"), apache.error_log_text()
    assert_nowhere(run_dir, [WRITER_PASSWORD, READER_PASSWORD, TEST_PASSWORD, ICECAST_PASSWORD],
                   holders=[writer.config_path, nginx.conf_path, apache.conf_path, ice.config_path],
                   texts=[status])
