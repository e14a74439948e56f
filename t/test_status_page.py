"""tuneslotd's status page: /status.json and /history.json against a scripted fleet, and
the page itself in a real browser (Debian's chromium, headless, over DevTools) against a
real stack: Redis, two Icecast with sources and listeners, tuneslotd.  The rows show the
right counts, a backend killed turns red with its reason, a drain shows with its note,
the charts have points, dark mode and a phone's width render, and the console stays
clean.  A screenshot of each run is kept in the build directory
(test-artifacts/status-page.png)."""

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness import free_port, tuneslotd_binary
from harness.browser import Browser
from harness.net import wait_for_port, wait_until


def get(port: int, target: str, method: str = "GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{target}", method=method)
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
        "metrics": f"127.0.0.1:{port}", "fail_after": 1, "slow_start": "0s",
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

    # a drain shows, with its note
    assert ctl(t, "drain", "ice-a", "--note", "rack move").returncode == 0
    wait_until(lambda: state("ice-a") == "draining", timeout=10, what="ice-a draining")
    assert "rack move" in cell("ice-a", 1)

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
