"""tuneslotd's status page: /status.json and /history.json against a scripted fleet, and
the page itself in a real browser (Debian's chromium, headless, over DevTools) against a
real stack: Redis, two Icecast with sources and listeners, tuneslotd.  The rows show the
right counts, a backend killed turns red with its reason, a drain shows with its note,
the charts have points, dark mode and a phone's width render, and the console stays
clean.  A screenshot of each run is kept in the build directory
(test-artifacts/status-page.png)."""

import base64
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness import free_port, toml_text, tuneslotd_binary
from harness.browser import Browser
from harness.net import wait_for_port, wait_until


def get(port: int, target: str, method: str = "GET", headers: dict | None = None, data: bytes | None = None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{target}", method=method, headers=headers or {},
                                 data=data)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def status(port: int) -> dict:
    return json.loads(get(port, "/status.json")[2])


def ctl(daemon, *args):
    return subprocess.run([str(daemon.binary), "ctl", "-c", str(daemon.config_path), *args],
                          capture_output=True, text=True, timeout=10, env=daemon.env())


def load(**mounts) -> str:
    return "<load>" + "".join(f'<mount name="/{m}" listeners="{n}" max="{cap}">{max(cap - n, 0)}</mount>'
                              for m, (n, cap) in mounts.items()) + "</load>"


def test_status_json_and_history(redis_server, status_server, make_tuneslotd):
    port = free_port()
    page = lambda name, body, **kw: {"name": name, "public": f"http://{name}.example.net",  # noqa: E731
                                     "status": status_server.route(f"/{name}.xsl", body=body), **kw}
    t = make_tuneslotd({
        "redis": redis_server.address, "interval": "200ms", "metrics": f"127.0.0.1:{port}",
        "backend": [page("a", load(demo=(10, 100), jazz=(5, 50)), region="eu", max_clients=120),
                    page("b", load(demo=(40, 50)), weight=200),
                    {"name": "dead", "public": "http://dead.example.net",
                     "status": status_server.route("/dead.xsl", status=500)}],
        "stream": [{"name": "demo", "mount": "/demo"}, {"name": "jazz", "mount": "/jazz"}]}).start()
    wait_for_port("127.0.0.1", port, alive=t.running)
    wait_until(lambda: status(port)["snapshot"]["generation"] is not None
               and status(port)["fleet"]["backends_up"] == 2, timeout=10, what="a round written")

    s = status(port)
    assert s["leader"]["this"] is True and s["redis"]["up"] is True
    assert s["interval_ms"] == 200
    # b has no limit known as a whole (no max_clients, load.xsl tells none): nor has the fleet
    assert s["fleet"] == {"listeners": 55, "capacity": None, "backends_up": 2, "backends": 3}
    a, b, dead = s["backends"]
    assert (a["name"], a["health"], a["region"], a["listeners"], a["capacity"], a["format"]) == \
        ("a", "up", "eu", 15, 120, "load-xsl")
    assert (b["weight"], b["configured_weight"], b["capacity"]) == (200, 200, None)
    assert (dead["health"], dead["reason"]) == ("down", "HTTP 500")
    assert a["polled_ms"] > 0 and a["poll_seconds"] >= 0
    # demo: a has 90 free at weight 100, b 10 at 200: a first; "dead" not offered, last
    demo = next(x for x in s["streams"] if x["name"] == "demo")
    assert [(x["backend"], x["offered"], x["free"]) for x in demo["slots"]] == [
        ("a", True, 90), ("b", True, 10), ("dead", False, 0)]
    assert demo["listeners"] == 50

    assert ctl(t, "drain", "a", "--note", "disk swap").returncode == 0
    wait_until(lambda: status(port)["backends"][0]["health"] == "draining", timeout=5, what="the drain")
    assert status(port)["backends"][0]["note"] == "disk swap"

    h = json.loads(get(port, "/history.json")[2])
    assert h["step_ms"] == 10000 and len(h["t"]) >= 1
    assert h["streams"]["demo"][-1] == 50 and h["backends"]["dead"][-1] is None

    code, headers, html = get(port, "/")
    assert code == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "an external resource"
    assert get(port, "/status")[2] == html
    code, headers, body = get(port, "/status.json", method="HEAD")
    assert code == 200 and body == "" and int(headers["Content-Length"]) > 100
    assert get(port, "/nowhere")[0] == 404


def test_the_page_in_a_real_browser(run_dir, processes, redis_server, make_icecast, make_source,
                                    make_listener, make_tuneslotd):
    ice_a = make_icecast(name="ice-a", max_listeners={"/demo": 20})
    ice_b = make_icecast(name="ice-b", max_listeners={"/demo": 10})
    make_source(ice_a, "/demo", 440)
    make_source(ice_b, "/demo", 880)
    for _ in range(3):
        make_listener(ice_a, "/demo")
    make_listener(ice_b, "/demo")
    port = free_port()
    interval_ms = 500
    t = make_tuneslotd({
        "redis": redis_server.address, "interval": f"{interval_ms}ms", "timeout": "300ms",
        "metrics": f"127.0.0.1:{port}", "fail_after": 1, "slow_start": "0s", "admin_token": ADMIN_TOKEN,
        "backend": [{"name": "ice-a", "status": ice_a.url("/load.xsl"), "public": ice_a.base_url,
                     "region": "eu", "max_clients": 50},
                    {"name": "ice-b", "format": "icecast-admin", "status": ice_b.url("/admin/stats"),
                     "public": ice_b.base_url, "username": ice_b.admin_user,
                     "password": ice_b.admin_password}],
        "stream": [{"name": "demo", "mount": "/demo"}]}).start()
    wait_for_port("127.0.0.1", port, alive=t.running)

    browser = Browser(run_dir)
    processes.append(browser)
    browser.start()
    page = browser.open(f"http://127.0.0.1:{port}/")

    def cell(backend: str, column: int) -> str:
        return page.evaluate(f"(function () {{ var r = document.querySelector('#backends tr[data-backend=\"{backend}\"]');"
                             f" return r ? r.cells[{column}].textContent : null; }})()")

    def state(backend: str):
        return page.evaluate(f"(function () {{ var r = document.querySelector('#backends tr[data-backend=\"{backend}\"] [data-state]');"
                             f" return r ? r.getAttribute('data-state') : null; }})()")

    # the rows show the listeners Icecast counts, of the server's capacity as far as it is
    # known (ice-a's max_clients; Icecast's status pages tell no server-wide limit)
    wait_until(lambda: cell("ice-a", 2) == "3 / 50" and cell("ice-b", 2) == "1 / unlimited", timeout=20,
               what="both rows with their listeners")
    assert state("ice-a") == "up" and state("ice-b") == "up"
    assert page.evaluate("document.querySelector('#streams [data-stream=demo] h3').textContent") == \
        "demo · 4 listeners · 26 free"

    # a backend killed: red, with its reason, within a poll's timeout, an interval and the
    # page's refresh (a second at this interval)
    killed = time.monotonic()
    ice_b.kill()
    wait_until(lambda: state("ice-b") == "down", timeout=10, what="ice-b red")
    took = time.monotonic() - killed
    reason = page.evaluate("document.querySelector('#backends tr[data-backend=\"ice-b\"] .why').textContent")
    assert re.match(r"connect: |HTTP |timeout", reason), reason
    assert took <= 0.3 + 2 * interval_ms / 1000 + 1.0 + 0.5, took

    # a drain from the page (its admin token typed in), shown with its note and logged with who
    page.evaluate(f"document.getElementById('admin-token').value = '{ADMIN_TOKEN}'")
    page.evaluate("document.getElementById('admin-note').value = 'rack move'")
    page.evaluate("document.querySelector('#backends tr[data-backend=\"ice-a\"] button[data-action=drain]').click()")
    wait_until(lambda: state("ice-a") == "draining", timeout=10, what="ice-a draining")
    assert "rack move" in cell("ice-a", 1)
    t.wait_for_log(r"\[notice\] drain: ice-a drained from the status page by 127\.0\.0\.1:\d+ \(rack move\)")
    assert page.evaluate("document.getElementById('admin-said').textContent") == \
        "drain ice-a: asked, applied with the next round"

    # a backend down can be drained and undrained from the page too: the drain is the
    # operator's, shown beside the health, not instead of it
    page.evaluate("document.getElementById('admin-note').value = 'dead disk'")
    page.evaluate("document.querySelector('#backends tr[data-backend=\"ice-b\"] button[data-action=drain]').click()")
    wait_until(lambda: status(port)["backends"][1]["drained"] is True, timeout=10, what="ice-b drained")
    assert status(port)["backends"][1]["health"] == "down"
    page.wait_for("document.querySelector('#backends tr[data-backend=\"ice-b\"] button[data-action=undrain]')",
                  what="an undrain button for ice-b")
    assert "drained: dead disk" in cell("ice-b", 1) and state("ice-b") == "down"
    page.evaluate("document.querySelector('#backends tr[data-backend=\"ice-b\"] button[data-action=undrain]').click()")
    wait_until(lambda: status(port)["backends"][1]["drained"] is False, timeout=10, what="ice-b undrained")

    # "only what is not up" hides nothing here (both are not up); with ice-a undrained it hides it
    assert ctl(t, "undrain", "ice-a").returncode == 0
    wait_until(lambda: state("ice-a") == "up", timeout=10, what="ice-a up again")
    page.evaluate("document.getElementById('problems').click()")
    assert state("ice-a") is None and state("ice-b") == "down"
    page.evaluate("document.getElementById('problems').click()")

    # the charts have points (history.json is read every 10 s: reload once a point is there)
    wait_until(lambda: len(json.loads(urllib.request.urlopen(
        f"http://127.0.0.1:{port}/history.json", timeout=5).read())["t"]) >= 1, timeout=15,
        what="a point of history")
    page.navigate(f"http://127.0.0.1:{port}/")
    page.wait_for("document.querySelectorAll('#chart-streams .point').length >= 1", timeout=10)
    assert page.evaluate("document.getElementById('keys-backends').textContent") == "ice-aice-b"

    # dark mode: the page's own dark colours
    page.dark(True)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(21, 23, 26)"
    page.dark(False)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(251, 251, 250)"

    # a phone's width: nothing wider than the screen
    page.viewport(390, 844, mobile=True)
    page.wait_for("document.documentElement.scrollWidth <= window.innerWidth", timeout=5,
                  what="no sideways scrolling at 390 px")
    page.viewport(1280, 900)

    shot = Path(os.environ.get("TUNESLOT_BUILD", "build")) / "test-artifacts" / "status-page.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.dark(False)
    page.screenshot(shot)
    (run_dir / "status-page.png").write_bytes(shot.read_bytes())
    print(f"status page screenshot: {shot} ({shot.stat().st_size} bytes); ice-b red {took:.2f} s after the kill")
    assert page.problems() == []


HTTP_TOKEN = "read-the-fleet-0123456789"
ADMIN_TOKEN = "drain-the-fleet-9876543210"


def small_fleet(redis_server, status_server, port, **top):
    return {"redis": redis_server.address, "interval": "200ms", "metrics": f"127.0.0.1:{port}", **top,
            "backend": [{"name": "a", "public": "http://a.example.net",
                         "status": status_server.route("/a.xsl", body=load(demo=(1, 10)))}],
            "stream": [{"name": "demo", "mount": "/demo"}]}


def check(run_dir, config: dict):
    path = run_dir / "check.toml"
    path.write_text(toml_text(config))
    return path, subprocess.run([str(tuneslotd_binary()), "--check", "-c", str(path)],
                                capture_output=True, text=True, timeout=30)


def test_beyond_loopback_only_with_a_token(run_dir, redis_server, status_server):
    cfg = small_fleet(redis_server, status_server, 9464)
    cfg["metrics"] = "0.0.0.0:9464"
    path, r = check(run_dir, cfg)
    assert r.returncode == 1
    line = next(i for i, l in enumerate(path.read_text().splitlines(), 1) if l.startswith("metrics"))
    assert f"{path}:{line}: metrics: \"0.0.0.0:9464\" is not a loopback address: beyond loopback the " \
        "listener needs http_token (or http_token_file)" in r.stderr, r.stderr
    cfg["http_token"] = HTTP_TOKEN
    assert check(run_dir, cfg)[1].returncode == 0
    cfg["metrics"] = "[::]:9464"
    assert check(run_dir, cfg)[1].returncode == 0
    for change, message in [({"http_token": "short"}, "http_token: must be at least 16 characters long"),
                            ({"http_token": "has a space in it!"}, "must be printable ASCII without spaces"),
                            ({"admin_token": HTTP_TOKEN}, "admin_token: must differ from http_token"),
                            ({"metrics": None, "admin_token": ADMIN_TOKEN},
                             "admin_token: needs metrics (the listener it guards)"),
                            ({"http_token_file": "nosuch"}, "http_token_file: set http_token or http_token_file"),
                            ({"metrics": "localhost:9464"}, "the host must be a numeric address")]:
        c = {k: v for k, v in {**cfg, **change}.items() if v is not None}
        r = check(run_dir, c)[1]
        assert r.returncode == 1 and message in r.stderr, (change, r.stderr)
        assert HTTP_TOKEN not in r.stderr and ADMIN_TOKEN not in r.stderr


def test_every_request_carries_the_token(redis_server, status_server, make_tuneslotd):
    port = free_port()
    t = make_tuneslotd(small_fleet(redis_server, status_server, port, http_token=HTTP_TOKEN)).start()
    wait_for_port("127.0.0.1", port, alive=t.running)
    for target in ("/", "/metrics", "/status.json", "/history.json", "/place"):
        code, headers, _ = get(port, target)
        assert code == 401 and headers["WWW-Authenticate"] == 'Basic realm="tuneslotd", charset="UTF-8"', target
    assert get(port, "/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})[0] == 401
    assert get(port, "/metrics", headers={"Authorization": f"Bearer {HTTP_TOKEN}"})[0] == 200
    basic = base64.b64encode(f"ops:{HTTP_TOKEN}".encode()).decode()
    assert get(port, "/status.json", headers={"Authorization": f"Basic {basic}"})[0] == 200
    wrong = base64.b64encode(f"ops:{HTTP_TOKEN}x".encode()).decode()
    assert get(port, "/status.json", headers={"Authorization": f"Basic {wrong}"})[0] == 401
    assert get(port, "/status.json", headers={"Authorization": "Basic !!!!"})[0] == 401
    # ctl place sends the listener's token as any scraper does
    wait_until(lambda: json.loads(get(port, "/status.json", headers={"Authorization": f"Bearer {HTTP_TOKEN}"})[2])
               ["fleet"]["backends_up"] == 1, timeout=10, what="a round")
    r = ctl(t, "place", "--listeners", "2")
    assert r.returncode == 0 and r.stdout.startswith("a station of 2 listeners:\n  1. a  listeners 1"), r
    assert HTTP_TOKEN not in t.log_text()


def test_drains_from_the_page_need_the_admin_token_and_the_same_origin(redis_server, status_server,
                                                                      make_tuneslotd):
    port = free_port()
    t = make_tuneslotd(small_fleet(redis_server, status_server, port, admin_token=ADMIN_TOKEN)).start()
    wait_for_port("127.0.0.1", port, alive=t.running)
    wait_until(lambda: status(port)["backends"][0]["health"] == "up", timeout=10, what="a round")
    assert status(port)["admin"] is True
    origin = f"http://127.0.0.1:{port}"

    def post(path, form, **headers):
        h = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return get(port, path, method="POST", headers=h, data=form.encode())

    good = {"Origin": origin, "X-Tuneslot-Admin": ADMIN_TOKEN}
    for form, headers, code, why in [
            ("backend=a", {"X-Tuneslot-Admin": ADMIN_TOKEN}, 403, "only from this listener's own page"),
            ("backend=a", {"Origin": "http://evil.example", "X-Tuneslot-Admin": ADMIN_TOKEN}, 403,
             "only from this listener's own page"),
            ("backend=a", {"Origin": origin}, 403, "X-Tuneslot-Admin does not carry the admin token"),
            ("backend=a", {"Origin": origin, "X-Tuneslot-Admin": ADMIN_TOKEN + "x"}, 403,
             "X-Tuneslot-Admin does not carry the admin token"),
            ("backend=nosuch", good, 400, 'no backend "nosuch"'),
            ("backend=a&mount=/nosuch", good, 400, 'uses the mount "/nosuch"'),
            ("backend=a&note=%0a", good, 400, "the note must be printable ASCII"),
            ("backend=a&note=caf%C3%A9", good, 400, "the note must be printable ASCII"),
            ("backend=a&note=" + "n" * 161, good, 400, "the note is longer than 160 bytes"),
            ("backend=a&x=1", good, 400, 'unknown field "x"'),
            ("backend=a&backend=b", good, 400, "a field given twice"),
            ("backend=a&note=%zz", good, 400, "a malformed %-escape")]:
        c, _, body = post("/drain", form, **headers)
        assert (c, why in body) == (code, True), (form, headers, c, body)
    assert redis_server.command("HGETALL", "{tuneslot:v1}:drain") == []

    c, _, body = post("/drain", "backend=a&note=new+disks%21", **good)
    assert c == 202 and json.loads(body) == {"field": "a", "draining": True, "applied": "with the next round"}
    wait_until(lambda: status(port)["backends"][0]["note"] == "new disks!", timeout=5, what="the drain")
    t.wait_for_log(r"\[notice\] drain: a drained from the status page by 127\.0\.0\.1:\d+ \(new disks!\)")
    c, _, _ = post("/undrain", "backend=a", **good)
    assert c == 202
    wait_until(lambda: status(port)["backends"][0]["health"] == "up", timeout=5, what="the undrain")
    t.wait_for_log(r"\[notice\] drain: a undrained from the status page by 127\.0\.0\.1:\d+")
    assert ADMIN_TOKEN not in t.log_text()
    assert post("/undrain", "backend=a&x=1", **good)[:1] == (400,)
    assert post("/undrain", "backend=a&note=n", **good)[2].startswith('unknown field "note"')
    # GET cannot drain, and a POST elsewhere is refused
    assert get(port, "/drain")[0] == 404
    assert post("/status.json", "x=1", **good)[0] == 405


def test_without_an_admin_token_the_page_is_read_only(redis_server, status_server, make_tuneslotd):
    port = free_port()
    t = make_tuneslotd(small_fleet(redis_server, status_server, port)).start()
    wait_for_port("127.0.0.1", port, alive=t.running)
    assert status(port)["admin"] is False
    c, _, body = get(port, "/drain", method="POST", data=b"backend=a",
                     headers={"Origin": f"http://127.0.0.1:{port}", "X-Tuneslot-Admin": "anything-at-all-1234",
                              "Content-Type": "application/x-www-form-urlencoded"})
    assert c == 403 and body.startswith("drains from the page are off"), body


def test_the_leader_and_its_standbys(redis_server, status_server, make_tuneslotd):
    """Two tuneslotd on one Redis: each page names the writer and the instance standing by;
    a standby gone is gone from the pages within three intervals."""
    ports = [free_port(), free_port()]
    daemons = []
    for i, port in enumerate(ports):
        cfg = small_fleet(redis_server, status_server, port, instance=f"node-{i + 1}")
        daemons.append(make_tuneslotd(cfg, name=f"tuneslotd{i + 1}").start())
        wait_for_port("127.0.0.1", port, alive=daemons[-1].running)
    wait_until(lambda: all(status(p)["standbys"] for p in ports), timeout=10, what="both instances seen")
    one, two = status(ports[0]), status(ports[1])
    leader, standby = (one, two) if one["leader"]["this"] else (two, one)
    assert standby["leader"]["this"] is False
    assert standby["leader"]["holder"].startswith(leader["instance"] + "#")
    assert leader["standbys"] == [standby["instance"]] and standby["standbys"] == [standby["instance"]]
    assert standby["snapshot"]["generation"] is not None and standby["snapshot"]["written_ms"] is None

    # the standby stops: the leader's page forgets it
    gone = next(d for d, s in zip(daemons, (one, two)) if s is standby)
    gone.stop()
    leader_port = ports[0] if one is leader else ports[1]
    wait_until(lambda: status(leader_port)["standbys"] == [], timeout=5, what="the standby forgotten")


def test_a_name_other_than_the_address_is_refused_without_a_token(redis_server, status_server,
                                                                   make_tuneslotd):
    """DNS rebinding: a page of another site whose name is pointed at 127.0.0.1 sends that
    name as Host; without http_token the listener answers only by its address or
    localhost (421 otherwise), so such a page reads nothing."""
    port = free_port()
    t = make_tuneslotd(small_fleet(redis_server, status_server, port)).start()
    wait_for_port("127.0.0.1", port, alive=t.running)
    for host, code in [("evil.example:%d" % port, 421), ("evil.example", 421), ("127.0.0.1.nip.io", 421),
                       ("localhost:%d" % port, 200), ("LocalHost", 200), ("127.0.0.1:%d" % port, 200),
                       ("[::1]:%d" % port, 200)]:
        for target in ("/status.json", "/metrics", "/"):
            assert get(port, target, headers={"Host": host})[0] == code, (host, target)
    assert get(port, "/", headers={"Host": "evil.example"})[2].startswith(
        "this listener answers by its address (or localhost) only")


def test_with_a_token_any_name_may_be_used(redis_server, status_server, make_tuneslotd):
    port = free_port()
    t = make_tuneslotd(small_fleet(redis_server, status_server, port, http_token=HTTP_TOKEN)).start()
    wait_for_port("127.0.0.1", port, alive=t.running)
    assert get(port, "/status.json", headers={"Host": "status.radio.example",
                                              "Authorization": f"Bearer {HTTP_TOKEN}"})[0] == 200
    assert get(port, "/status.json", headers={"Host": "status.radio.example"})[0] == 401
