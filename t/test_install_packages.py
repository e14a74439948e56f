"""The Debian packages as a host installs them, on this machine: `apt install`
of the four .debs scripts/package.sh built, the system's own nginx and
Apache loading the modules through modules-enabled and a2enmod, the
installed tuneslotd started from its unit's own command lines as the
tuneslot user and heard on an sd_notify socket the test owns, tune-ins
answered 302 to a real Icecast, an upgrade that keeps an edited
configuration, then `apt remove` and `apt purge` leaving the machine as it
was found.

Runs when TUNESLOT_DEBS names the directory of the packages
(scripts/test.sh sets it) and as root; skipped when anything of an earlier
installation is on the machine (a package, the tuneslot user or group,
/etc/tuneslot, the daemon or its unit), which a purge would take away.
Every package it installs is purged again, also when a test fails.  The
tests run in file order on one installation; the last two install
tuneslotd again, beside an account made by hand, and with a file of the
operator's left in /etc/tuneslot.

Without systemd as PID 1 (CI machines, containers) the unit's sandbox and
the maintainer scripts' systemctl calls are not exercised; the unit is
checked by systemd-analyze, and its command lines run by hand.  On a host
whose services do run (systemd, no policy-rc.d denying them), installing
and removing the modules reloads the system's nginx and restarts its
Apache, as any module package does.
"""

import grp
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from harness import NotifySocket, Process, free_port, repo_dir
from harness.apache import TUNE_LOCATIONS, Apache, tune_lines
from harness.nginx import NGINX, Nginx
from harness.tuneslotd import toml_text

PACKAGES = ("libnginx-mod-http-tune", "libnginx-mod-stream-tune", "libapache2-mod-tune", "tuneslotd")
DEBS = os.environ.get("TUNESLOT_DEBS")
UNIT = Path("/lib/systemd/system/tuneslotd.service")
CONFIG = Path("/etc/tuneslot/tuneslotd.toml")
NGINX_LINK = Path("/etc/nginx/modules-enabled/50-mod-http-tune.conf")
# after Debian's 50-mod-stream.conf, which it needs
STREAM_LINK = Path("/etc/nginx/modules-enabled/70-mod-stream-tune.conf")

pytestmark = [
    pytest.mark.skipif(not DEBS, reason="TUNESLOT_DEBS is not set (scripts/package.sh, then scripts/test.sh)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="installs packages and a system user: needs root"),
]

# Where a package may leave a trace on the machine: every path under these
# (and symlink targets), with the user, the group and dpkg's stat overrides.
WATCHED = ("/etc", "/lib/systemd/system", "/usr/lib/nginx/modules", "/usr/share/nginx/modules-available",
           "/usr/lib/apache2/modules", "/usr/sbin", "/usr/share/tuneslot", "/usr/share/doc",
           "/usr/share/man/man5", "/usr/share/man/man8", "/var/lib/systemd/deb-systemd-helper-enabled",
           "/var/lib/systemd/deb-systemd-helper-masked", "/var/lib/apache2")

# What an earlier installation (a package, or cmake --install --prefix /usr)
# leaves and a purge would take away.
EARLIER = (CONFIG.parent, Path("/usr/sbin/tuneslotd"), UNIT, Path("/etc/systemd/system/tuneslotd.service"))

# tuneslotd.postinst marks the account it makes
MADE_BOTH = "tuneslot scheduler (made by the tuneslotd package)"

# apache2's own bookkeeping: a2dismod makes these directories the first time
# any module is disabled by its package, and they stay (empty of us)
APACHE_STATE_DIRS = re.compile(r"^/var/lib/apache2/module/(en|dis)abled_by_(admin|maint)$")


def run(argv, *, check=True, timeout=300, env=None, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                       env=env, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{shlex.join(map(str, argv))}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def apt(*args, check=True) -> subprocess.CompletedProcess:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q", *args], check=check, env=env)


def installed_version(package: str) -> str | None:
    r = run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}", package], check=False)
    if r.returncode != 0 or not r.stdout.startswith("ii"):
        return None
    return r.stdout.split()[1]


def known_to_dpkg(package: str) -> bool:
    """Installed, or removed with its configuration left (rc)."""
    r = run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", package], check=False)
    return r.returncode == 0 and r.stdout[:2] in ("ii", "rc", "iU", "iF", "iH", "rH")


def machine_state() -> dict:
    paths = set()
    for root in WATCHED:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                paths.add((p, os.readlink(p) if os.path.islink(p) else None))
    overrides = run(["dpkg-statoverride", "--list"], check=False).stdout.splitlines()
    return {
        "paths": paths,
        "user": run(["getent", "passwd", "tuneslot"], check=False).stdout,
        "group": run(["getent", "group", "tuneslot"], check=False).stdout,
        "statoverrides": sorted(overrides),
        "packages": {p: known_to_dpkg(p) for p in PACKAGES},
    }


def unit_commands(key: str) -> list[list[str]]:
    """The command lines of Key= in the installed unit, in order."""
    out = []
    for line in UNIT.read_text().splitlines():
        if line.startswith(key + "="):
            out.append(shlex.split(line[len(key) + 1:]))
    assert out, f"{UNIT} has no {key}="
    return out


def unit_value(key: str) -> str:
    (value,) = [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(key + "=")]
    return value


def as_tuneslot(argv: list[str]) -> list[str]:
    """argv run as the unit's User= and Group=, as systemd would (setpriv
    execs: the same PID)."""
    return ["setpriv", f"--reuid={unit_value('User')}", f"--regid={unit_value('Group')}", "--init-groups",
            "--", *argv]


# the environment systemd gives a service: nothing of the test runner's
SERVICE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


class InstalledTuneslotd(Process):
    """/usr/sbin/tuneslotd started from the unit's ExecStart= line."""

    def start_from_unit(self, env: dict) -> "InstalledTuneslotd":
        (exec_start,) = unit_commands("ExecStart")
        return self.start(as_tuneslot(exec_start), env={**SERVICE_ENV, **env})


def skip_over_an_earlier_installation() -> None:
    present = [p for p in PACKAGES if known_to_dpkg(p)] + [str(p) for p in EARLIER if p.exists()]
    for db in ("passwd", "group"):
        if run(["getent", db, "tuneslot"], check=False).returncode == 0:
            present.append(f"the {db} entry tuneslot")
    if present:
        pytest.skip(f"{', '.join(present)} already on this machine: the test would purge it")


@pytest.fixture(scope="module")
def debs() -> dict[str, Path]:
    """Package name: its .deb."""
    found = {}
    for p in PACKAGES:
        matches = sorted(Path(DEBS).glob(f"{p}_*.deb"))
        assert len(matches) == 1, f"{DEBS}: expected one {p}_*.deb, found {matches}"
        found[p] = matches[0]
    return found


@pytest.fixture(scope="module")
def installation(debs):
    """The four packages installed with apt; the machine's state from
    before; purged again at the end, whatever happened."""
    skip_over_an_earlier_installation()
    before = machine_state()
    try:
        apt("install", *map(str, debs.values()))
        yield before
    finally:
        left = [p for p in PACKAGES if known_to_dpkg(p)]
        if left:
            apt("purge", *left, check=False)
            still = [p for p in PACKAGES if known_to_dpkg(p)]
            assert not still, f"purging after the tests failed: {still} still known to dpkg"


# ---- installed ---------------------------------------------------------------------------

def test_packages_land_where_a_host_expects_them(installation, debs):
    """Files, links, the conffile's mode and group, the system user, the
    dependencies on the nginx ABI and the Apache API, the man pages."""
    assert all(installed_version(p) for p in PACKAGES)

    depends = {p: run(["dpkg-deb", "-f", deb, "Depends"]).stdout for p, deb in debs.items()}
    assert re.search(r"\bnginx-abi-[\w.]+-\d+\b", depends["libnginx-mod-http-tune"])
    assert "apache2-api-20120211" in depends["libapache2-mod-tune"]

    assert Path("/usr/lib/nginx/modules/ngx_http_tune_module.so").is_file()
    conf = Path("/usr/share/nginx/modules-available/mod-http-tune.conf")
    assert conf.read_text() == "load_module modules/ngx_http_tune_module.so;\n"
    assert os.readlink(NGINX_LINK) == str(conf)

    assert re.search(r"\bnginx-abi-[\w.]+-\d+\b", depends["libnginx-mod-stream-tune"])
    version = installed_version("libnginx-mod-http-tune")
    assert f"libnginx-mod-http-tune (= {version})" in depends["libnginx-mod-stream-tune"]
    assert "libnginx-mod-stream" in depends["libnginx-mod-stream-tune"].replace(
        "libnginx-mod-stream-tune", "")
    assert Path("/usr/lib/nginx/modules/ngx_stream_tune_module.so").is_file()
    conf = Path("/usr/share/nginx/modules-available/mod-stream-tune.conf")
    assert conf.read_text() == "load_module modules/ngx_stream_tune_module.so;\n"
    assert os.readlink(STREAM_LINK) == str(conf)

    assert Path("/usr/lib/apache2/modules/mod_tune.so").is_file()
    assert "LoadModule tune_module /usr/lib/apache2/modules/mod_tune.so" in \
        Path("/etc/apache2/mods-available/tune.load").read_text()
    # tune.conf: the examples, every one of them commented out
    active = [l for l in Path("/etc/apache2/mods-available/tune.conf").read_text().splitlines()
              if l.strip() and not l.strip().startswith("#")]
    assert active == ["<IfModule mod_tune.c>", "</IfModule>"]

    assert os.access("/usr/sbin/tuneslotd", os.X_OK)
    assert Path("/usr/share/tuneslot/load.xsl").read_bytes() == (repo_dir() / "scheduler/load.xsl").read_bytes()
    for script in ("herd_claim", "lease", "publish_round"):
        assert Path(f"/usr/share/tuneslot/redis/{script}.lua").is_file()
    for page in (["8", "tuneslotd"], ["5", "tuneslotd.toml"]):
        where = run(["man", "-w", *page]).stdout.strip()
        assert where == f"/usr/share/man/man{page[0]}/{page[1]}.{page[0]}.gz"

    # the example configuration: a conffile, root:tuneslot 0640
    assert "/etc/tuneslot/tuneslotd.toml" in run(["dpkg-query", "-W", "-f", "${Conffiles}", "tuneslotd"]).stdout
    st = CONFIG.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name) == ("root", "tuneslot")
    assert CONFIG.read_bytes() == (repo_dir() / "scheduler/tuneslotd.toml").read_bytes()

    user = pwd.getpwnam("tuneslot")
    assert user.pw_uid < 1000 and user.pw_dir == "/nonexistent" and user.pw_shell == "/usr/sbin/nologin"
    assert user.pw_gecos.startswith(MADE_BOTH)
    assert grp.getgrgid(user.pw_gid).gr_name == "tuneslot"
    assert (unit_value("User"), unit_value("Group")) == ("tuneslot", "tuneslot")

    # enabled by dh_installsystemd (started by the operator)
    assert os.readlink("/etc/systemd/system/multi-user.target.wants/tuneslotd.service") == str(UNIT)


def test_system_nginx_and_apache_accept_the_modules(installation):
    """nginx -t with the system's own nginx.conf loads the module through
    modules-enabled; a2enmod tune and apache2ctl configtest pass, and
    Apache then has tune_module."""
    r = run([NGINX, "-t"])
    assert "/etc/nginx/nginx.conf test is successful" in r.stderr
    dump = run([NGINX, "-T"]).stdout
    assert f"# configuration file {NGINX_LINK}:\nload_module modules/ngx_http_tune_module.so;" in dump
    assert f"# configuration file {STREAM_LINK}:\nload_module modules/ngx_stream_tune_module.so;" in dump

    # the package enabled it already; the operator's a2enmod is harmless
    r = run(["a2enmod", "tune"])
    assert "already enabled" in r.stdout
    assert run(["apache2ctl", "configtest"]).stderr.rstrip().endswith("Syntax OK")
    assert "tune_module (shared)" in run(["apache2ctl", "-M"]).stdout

    # and a host that turns it off and on again
    run(["a2dismod", "-q", "tune"])
    assert "tune_module" not in run(["apache2ctl", "-M"]).stdout
    r = run(["a2enmod", "tune"])
    assert "Enabling module tune." in r.stdout
    assert "tune_module (shared)" in run(["apache2ctl", "-M"]).stdout


def test_unit_verifies_and_its_sandbox_score_is_documented(installation):
    """systemd-analyze verify says nothing about the installed unit, and
    its security exposure is the one docs/tuneslotd.md gives."""
    r = run(["systemd-analyze", "verify", "--man=no", UNIT], check=False)
    assert r.stdout + r.stderr == ""
    r = run(["systemd-analyze", "security", "--offline=true", UNIT])
    score = re.search(r"Overall exposure level for tuneslotd\.service: (\d+\.\d) (\w+)", r.stdout)
    assert score, r.stdout
    assert float(score.group(1)) <= 1.5
    docs = " ".join((repo_dir() / "docs/tuneslotd.md").read_text().split())
    assert f"exposure level {score.group(1)} ({score.group(2)})" in docs

    # the commands the unit runs are the installed ones
    check = ["/usr/sbin/tuneslotd", "--check", "-c", str(CONFIG)]
    assert unit_commands("ExecStartPre") == [check]
    assert unit_commands("ExecReload") == [check, ["/bin/kill", "-HUP", "$MAINPID"]]
    assert unit_commands("ExecStart") == [["/usr/sbin/tuneslotd", "-c", str(CONFIG)]]

    # as shipped, the configuration names nothing to poll: the start fails
    # at once, with the reason, before anything is polled or written
    r = run(as_tuneslot(check), env=SERVICE_ENV, check=False)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"{CONFIG}:1: backend: no [[backend]] defined (at least one is required)",
        f"{CONFIG}:1: stream: no [[stream]] defined (at least one is required)",
        f"tuneslotd: invalid configuration in {CONFIG}"]


# ---- a host's stack ------------------------------------------------------------------------

def tune_in(server, expected: str, timeout: float = 15.0) -> None:
    """Waits (on the answer, not a clock) until /tune/demo is a 302 to expected."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = server.get("/tune/demo")
        if last.status == 302:
            assert last.header("location") == expected, last
            assert last.header("cache-control") == "no-store"
            return
        assert last.status == 503, last      # no snapshot yet
        time.sleep(0.05)
    raise AssertionError(f"{server.name}: no 302 within {timeout}s; last: {last}")


def test_installed_stack_answers_tune_ins(installation, redis_server, make_icecast, make_source, run_dir,
                                          processes):
    """The host's edit of /etc/tuneslot/tuneslotd.toml, the unit's
    ExecStartPre, ExecStart and ExecReload lines run as the tuneslot user
    with a NOTIFY_SOCKET and a watchdog, the system nginx and Apache with
    the modules as installed: a 302 from each to the real Icecast, and the
    sd_notify sequence READY, WATCHDOG, RELOADING with MONOTONIC_USEC,
    READY, STOPPING, all from the daemon's PID."""
    ice = make_icecast(load_xsl=Path("/usr/share/tuneslot/load.xsl"))
    make_source(ice, "/demo")

    # what the host does: edit the one file
    CONFIG.write_text(toml_text({
        "redis": redis_server.address, "interval": "500ms", "timeout": "400ms",
        "backend": [{"name": "ice", "status": ice.url("/load.xsl"), "public": ice.base_url}],
        "stream": [{"name": "demo", "mount": "/demo"}]}))
    assert stat.S_IMODE(CONFIG.stat().st_mode) == 0o640

    for pre in unit_commands("ExecStartPre"):
        r = run(as_tuneslot(pre), env=SERVICE_ENV)
        assert r.stdout == f"tuneslotd: configuration {CONFIG} is valid: 1 backend, 1 stream\n", r

    notify = NotifySocket(abstract=True)
    try:
        daemon = InstalledTuneslotd(run_dir, "tuneslotd")
        processes.append(daemon)
        daemon.start_from_unit(notify.env(watchdog_usec=2_000_000))

        ready = notify.wait_for("READY", timeout=20)
        assert ready.get("STATUS", "").startswith("leader, 1/1 backends up"), ready.fields
        uids = Path(f"/proc/{daemon.pid}/status").read_text()
        assert re.search(rf"^Uid:\s+{pwd.getpwnam('tuneslot').pw_uid}\s", uids, re.M)
        notify.wait_for("WATCHDOG", timeout=5)

        stream_port = free_port()
        nginx = Nginx(run_dir, redis_server.address, module=False,
                      main_conf="include /etc/nginx/modules-enabled/*.conf;\n",
                      stream_conf=(f"server {{ listen 127.0.0.1:{stream_port}; tune_stream demo; "
                                   "tune_stream_scheme http; proxy_pass $tune_upstream; }\n"))
        processes.append(nginx)
        # modules-enabled says "modules/ngx_http_tune_module.so", from the
        # prefix: Debian's is /usr/share/nginx, whose modules/ is a link to
        # /usr/lib/nginx/modules; this nginx has a prefix of its own
        (nginx.prefix / "modules").symlink_to("/usr/lib/nginx/modules")
        nginx.start()
        tune_in(nginx, ice.url("/demo"))
        # the installed stream module, reading the installed http module's zone: a
        # connection given the slot reaches Icecast itself
        with socket.create_connection(("127.0.0.1", stream_port), timeout=10) as c:
            c.sendall(b"GET /status-json.xsl HTTP/1.0\r\n\r\n")
            assert c.recv(64).startswith(b"HTTP/1.0 200"), "no answer of Icecast's"

        apache = Apache(run_dir, conf=("Include /etc/apache2/mods-enabled/tune.load\n"
                                       "Include /etc/apache2/mods-enabled/tune.conf\n"
                                       + tune_lines(redis_server.address) + TUNE_LOCATIONS))
        processes.append(apache)
        apache.start()
        tune_in(apache, ice.url("/demo"))

        # systemctl reload: the check, then SIGHUP to $MAINPID
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        for reload in unit_commands("ExecReload"):
            argv = [daemon.pid if a == "$MAINPID" else a for a in reload]
            run(as_tuneslot(argv) if argv[0] == "/usr/sbin/tuneslotd" else argv, env=SERVICE_ENV)
        reloading = notify.wait_for("RELOADING")
        assert before <= int(reloading.get("MONOTONIC_USEC")) <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        notify.wait_for("READY")

        daemon.signal(signal.SIGTERM)
        notify.wait_for("STOPPING")
        assert daemon.wait(15) == 0
        notify.drain(0.2)
        assert {n.pid for n in notify.messages} == {daemon.pid}
        watchdog = [n.at for n in notify.with_key("WATCHDOG")]
        assert all(b - a < 2.0 for a, b in zip(watchdog, watchdog[1:]))
    finally:
        notify.close()


# ---- upgrade, remove, purge ------------------------------------------------------------

def repack(deb: Path, out: Path, version: str, edit_conffile: bool = False) -> Path:
    """The package again with a higher version (and, if asked, a changed
    example configuration), as the next release would ship it."""
    tree = out / f"tree-{version}"
    run(["dpkg-deb", "-R", deb, tree])
    control = tree / "DEBIAN" / "control"
    control.write_text(re.sub(r"^Version: .*$", f"Version: {version}", control.read_text(), flags=re.M))
    if edit_conffile:
        shipped = tree / "etc/tuneslot/tuneslotd.toml"
        shipped.write_text(shipped.read_text() + "# a line the next release adds\n")
        sums = tree / "DEBIAN" / "md5sums"
        digest = run(["md5sum", "etc/tuneslot/tuneslotd.toml"], cwd=tree).stdout
        sums.write_text(re.sub(r"^\S+  etc/tuneslot/tuneslotd\.toml\n", "", sums.read_text(), flags=re.M) + digest)
    target = out / f"tuneslotd_{version}_amd64.deb"
    run(["dpkg-deb", "--root-owner-group", "-b", tree, target])
    return target


def test_upgrades_keep_the_edited_configuration(installation, debs, tmp_path):
    """An edited /etc/tuneslot/tuneslotd.toml survives an upgrade, silently
    when the release did not change the example, and with the release's
    version beside it (.dpkg-dist) when it did and the host keeps its own;
    mode and group stay."""
    edited = CONFIG.read_text() + "# edited by the host\n"
    CONFIG.write_text(edited)
    base = installed_version("tuneslotd")

    apt("install", repack(debs["tuneslotd"], tmp_path, f"{base}+upgrade1"))
    assert installed_version("tuneslotd") == f"{base}+upgrade1"
    assert CONFIG.read_text() == edited
    assert not list(CONFIG.parent.glob("tuneslotd.toml.dpkg-*"))

    apt("install", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
        repack(debs["tuneslotd"], tmp_path, f"{base}+upgrade2", edit_conffile=True))
    assert installed_version("tuneslotd") == f"{base}+upgrade2"
    assert CONFIG.read_text() == edited
    assert Path(f"{CONFIG}.dpkg-dist").read_text().endswith("# a line the next release adds\n")

    st = CONFIG.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640 and grp.getgrgid(st.st_gid).gr_name == "tuneslot"


def test_remove_disables_and_purge_leaves_the_machine_as_found(installation):
    """apt remove: the modules are off (nginx -t and apache2ctl configtest
    still pass), the unit is gone, the configuration stays; apt purge:
    every path, link, user, group and stat override is as before the
    install."""
    apt("remove", *PACKAGES)
    assert not NGINX_LINK.exists() and not STREAM_LINK.exists()
    assert run([NGINX, "-T"]).stdout.count("ngx_http_tune_module") == 0
    assert not Path("/etc/apache2/mods-enabled/tune.load").exists()
    assert run(["apache2ctl", "configtest"]).stderr.rstrip().endswith("Syntax OK")
    assert not UNIT.exists() and not Path("/usr/sbin/tuneslotd").exists()
    assert CONFIG.exists()

    apt("purge", *PACKAGES)
    after = machine_state()
    before = installation
    added = {p for p in after["paths"] - before["paths"]
             if not (APACHE_STATE_DIRS.match(p[0]) and os.path.isdir(p[0]) and not os.listdir(p[0]))}
    assert added == set(), "left behind"
    assert before["paths"] - after["paths"] == set(), "removed what was not ours"
    for key in ("user", "group", "statoverrides", "packages"):
        assert after[key] == before[key], key


@pytest.fixture
def tuneslotd_alone(debs):
    """For a test that installs tuneslotd on its own: its .deb; afterwards
    the package purged, whatever the test left in /etc/tuneslot removed,
    the tuneslot account deleted, and the machine as it was before."""
    skip_over_an_earlier_installation()
    before = machine_state()
    try:
        yield debs["tuneslotd"]
    finally:
        if known_to_dpkg("tuneslotd"):
            apt("purge", "tuneslotd", check=False)
        shutil.rmtree(CONFIG.parent, ignore_errors=True)
        run(["userdel", "tuneslot"], check=False)
        run(["groupdel", "tuneslot"], check=False)
    after = machine_state()
    for key in ("paths", "user", "group", "statoverrides", "packages"):
        assert after[key] == before[key], key


def test_purge_keeps_an_account_the_package_did_not_make(tuneslotd_alone):
    """A tuneslot user and group made by hand before the package (as README
    tells a cmake --install host to) are used, and still there after the
    purge: the package removes only what it made."""
    run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "tuneslot"])
    account = (run(["getent", "passwd", "tuneslot"]).stdout, run(["getent", "group", "tuneslot"]).stdout)
    apt("install", tuneslotd_alone)
    assert grp.getgrgid(CONFIG.stat().st_gid).gr_name == "tuneslot"
    apt("purge", "tuneslotd")
    assert (run(["getent", "passwd", "tuneslot"]).stdout, run(["getent", "group", "tuneslot"]).stdout) == account


def test_purge_keeps_the_account_while_etc_tuneslot_holds_files(tuneslotd_alone):
    """A file of the operator's left in /etc/tuneslot (a password file the
    group may read) keeps the account the package made: its ids are not
    freed under a file that still names them."""
    apt("install", tuneslotd_alone)
    secret = CONFIG.parent / "redis.password"
    secret.write_text("s3cret\n")
    os.chown(secret, 0, grp.getgrnam("tuneslot").gr_gid)
    r = apt("purge", "tuneslotd")
    assert "/etc/tuneslot still holds files: the user and group tuneslot are kept" in r.stderr + r.stdout
    assert pwd.getpwnam("tuneslot").pw_gecos.startswith(MADE_BOTH)
    assert grp.getgrgid(secret.stat().st_gid).gr_name == "tuneslot"
