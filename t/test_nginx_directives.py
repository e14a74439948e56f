"""Every directive of ngx_http_tune_module beyond the walking skeleton, and
its variables and playlists: tune_stale, tune_region, tune_full, tune_status,
tune_mode, tune_proxy_tries; $tune_stream, $tune_backend, $tune_url,
$tune_outcome; /<stream>.m3u, .pls and .xspf.  Real Redis and nginx,
snapshots of the test's own making (proxy mode: test_nginx_proxy.py)."""

import json
import re
import time
import xml.etree.ElementTree as ET

import pytest

from harness.net import wait_until
from harness.nginx import Nginx

A = "http://127.0.0.1:8001/demo"
B = "http://127.0.0.1:8002/demo"
C = "http://127.0.0.1:8003/demo"


def now_ms() -> int:
    return int(time.time() * 1000)


def snapshot(*slots, written_ms=None) -> str:
    """slots: (backend, health, free, region, url) of stream "demo"."""
    t = now_ms() if written_ms is None else written_ms
    lines = ["tuneslot-snapshot\t1", f"written_ms\t{t}", "interval_ms\t2000"]
    for backend, health, free, region, url in slots:
        lines.append("\t".join(["slot", "demo", backend, health, "7", str(free + 7), str(free),
                                "100", region, str(t), url]))
    lines.append("backend\tb\tdown\t%d\tconnect: \"refused\" \\ here" % t)
    lines.append("end")
    return "\n".join(lines) + "\n"


def TWO():
    return snapshot(("a", "up", 100, "eu", A), ("b", "up", 100, "us", B))


@pytest.fixture
def make_nginx(run_dir, processes, redis_server):
    """make_nginx(text, **Nginx options) -> nginx serving snapshot text."""
    def make(text=TWO, start=True, wait=True, **kw):
        # snapshots are made when used: one made minutes ago would be stale
        redis_server.put_snapshot(text() if callable(text) else text, 1)
        kw.setdefault("herd_window", "0")
        n = Nginx(run_dir, redis_server.address, refresh="50ms", **kw)
        processes.append(n)
        if not start:
            return n
        n.start()
        deadline = time.monotonic() + 5
        while wait and "\"generation\":1" not in status_text(n):
            assert time.monotonic() < deadline, "snapshot not installed"
            time.sleep(0.05)
        return n
    return make


STATUS = "location = /status { tune_status; }\n"
TUNE = "location /tune/ { tune; }\n"


def status_text(n) -> str:
    r = n.get("/status")
    return r.body.decode() if r.status == 200 else ""


# ---- nginx -t ----------------------------------------------------------------------------

BAD = [
    ("tune_mode sideways;", r'invalid value "sideways" of "tune_mode", expected "redirect" or "proxy"'),
    ("tune_stale never;", r'"tune_stale" directive has an invalid time'),
    ("tune_stale 500ms;", r'"tune_stale" directive must be at least 1s'),
    ("tune_full 404;", r'invalid value "404" of "tune_full", expected "503" or an http'),
    ("tune_full ftp://x.example/;", r'invalid value "ftp://x.example/" of "tune_full"'),
    ("tune_full rtmp://x.example/live/demo;", r'invalid value "rtmp://x.example/live/demo" of "tune_full"'),
    ("tune_full http://;", r'invalid URL "http://" of "tune_full"'),
    ("tune_proxy_tries 0;", r'"tune_proxy_tries" must be between 1 and 8'),
    ("tune_proxy_tries 9;", r'"tune_proxy_tries" must be between 1 and 8'),
    ("tune_proxy_tries many;", r'"tune_proxy_tries" directive invalid number'),
    ("tune_region;", r'invalid number of arguments in "tune_region"'),
    ("tune_stale 1m; tune_stale 2m;", r'"tune_stale" directive is duplicate'),
    ("tune_schemes gopher;", r'invalid value "gopher" of "tune_schemes", expected http, https, rtmp'),
    ("tune_schemes http; tune_schemes https;", r'"tune_schemes" directive is duplicate'),
    ("tune_https_only maybe;", r'invalid value "maybe" in "tune_https_only" directive, it must be "on" or "off"'),
    ("tune_https_fallback redirect;", r'invalid value "redirect"'),
    ("tune_https_proxies 10.0.0.300;", r'invalid address or network "10.0.0.300" in "tune_https_proxies"'),
    ("tune_https_proxies 10.0.0.0/8; tune_https_proxies ::1;", r'"tune_https_proxies" directive is duplicate'),
]


@pytest.mark.parametrize("line,message", BAD, ids=[b[0] for b in BAD])
def test_nginx_t_rejects_bad_values_with_file_and_line(run_dir, line, message):
    """Each bad value fails nginx -t with the reason, the file and the line."""
    n = Nginx(run_dir, "127.0.0.1:6379", locations=f"location /tune/ {{\n    tune;\n    {line}\n}}\n")
    text = n.config_text()
    lineno = next(i for i, l in enumerate(text.splitlines(), 1) if l.strip() == line)
    p = n.test_config(text)
    assert p.returncode != 0
    assert re.search(message + r".* in " + re.escape(str(n.conf_path)) + f":{lineno}", p.stderr), p.stderr


def test_https_fallback_proxy_needs_proxy_pass(run_dir):
    """The proxy fallback hands a listener to the location's proxy_pass: without one,
    nginx -t fails naming the directive and where "tune" is."""
    n = Nginx(run_dir, "127.0.0.1:6379",
              locations="location /tune/ {\n    tune;\n    tune_https_fallback proxy;\n}\n")
    text = n.config_text()
    lineno = next(i for i, l in enumerate(text.splitlines(), 1) if l.strip() == "tune;")
    p = n.test_config(text)
    assert p.returncode != 0
    assert (f'"tune_https_fallback proxy" in {n.conf_path}:{lineno} requires '
            '"proxy_pass $tune_url" in the same location') in p.stderr, p.stderr


def test_tune_and_tune_status_exclude_each_other(run_dir):
    n = Nginx(run_dir, "127.0.0.1:6379", locations="location /x/ { tune; tune_status; }\n")
    p = n.test_config()
    assert p.returncode != 0
    assert '"tune_status" directive cannot be used in a location with "tune"' in p.stderr, p.stderr


@pytest.mark.parametrize("first, second", [("tune_metrics", "tune"), ("tune", "tune_metrics"),
                                           ("tune_metrics", "tune_status"), ("tune_status", "tune_metrics")])
def test_tune_metrics_has_a_location_of_its_own(run_dir, first, second):
    """Each sets the location's handler: in either order, one location cannot have two."""
    n = Nginx(run_dir, "127.0.0.1:6379", locations=f"location /x/ {{ {first}; {second}; }}\n")
    p = n.test_config()
    assert p.returncode != 0
    assert f'"{second}" directive cannot be used in a location with "{first}"' in p.stderr, p.stderr


def test_nginx_t_accepts_every_directive(run_dir):
    """The documented forms pass, at every level they are allowed at."""
    n = Nginx(run_dir, "127.0.0.1:6379",
              http_conf="tune_mode redirect;\ntune_stale 5m;\ntune_region $http_x_region;\n"
                        "tune_full 503;\ntune_proxy_tries 2;\n"
                        "tune_allow http://10.0.0.5:8000/ https://relay.example.net/live/;\n"
                        "tune_allow http://[::1]:8000/;\ntune_metrics_streams off;\n"
                        "tune_https_only on;\ntune_https_proxies 10.0.0.0/8 ::1 unix:;\n"
                        "tune_schemes http https rtmp rtsp;\n",
              server_conf="tune_stale off;\ntune_full http://overflow.example.net/$tune_stream;\n",
              locations="location /tune/ { tune; tune_region eu; tune_https_only off; }\n"
                        "location /tls/ { tune; tune_https_fallback proxy; "
                        "proxy_pass $tune_url; tune_https_proxies 127.0.0.1; }\n"
                        "location = /status { tune_status; }\n"
                        "location = /metrics { tune_metrics; }\n")
    p = n.test_config()
    assert p.returncode == 0, p.stderr


# ---- tune_stale --------------------------------------------------------------------------

def test_snapshot_older_than_tune_stale_is_503(make_nginx):
    """A snapshot written 10 minutes ago (its writer long dead) is not served with
    tune_stale 1m (the default); the 503 says when to retry, the log says why."""
    n = make_nginx(snapshot(("a", "up", 100, "", A), written_ms=now_ms() - 600_000),
                   locations=TUNE + STATUS)
    r = n.get("/tune/demo")
    assert r.status == 503 and r.header("retry-after") == "2"
    assert "the snapshot is stale" in n.error_log_text()
    st = json.loads(status_text(n))
    assert st["snapshot"]["stale"] is True and st["snapshot"]["age_ms"] >= 590_000


def test_tune_stale_off_serves_any_age(make_nginx):
    n = make_nginx(snapshot(("a", "up", 100, "", A), written_ms=now_ms() - 600_000),
                   http_conf="tune_stale off;\n", locations=TUNE + STATUS)
    r = n.get("/tune/demo")
    assert (r.status, r.header("location")) == (302, A)


def test_snapshot_goes_stale_when_no_new_round_comes(make_nginx, redis_server):
    """Fresh at first; with no new generation for tune_stale (2 s), 503; a new round cures it."""
    start = time.monotonic()                          # before the snapshot's written time
    n = make_nginx(snapshot(("a", "up", 100, "", A)), http_conf="tune_stale 2s;\n",
                   locations=TUNE + STATUS)
    assert n.get("/tune/demo").status == 302
    seen = []
    wait_until(lambda: seen.append(n.get("/tune/demo").status) or seen[-1] == 503, 5, "stale: 503")
    assert time.monotonic() - start >= 2.0, "stale before tune_stale"
    assert set(seen) <= {302, 503}, seen
    redis_server.put_snapshot(snapshot(("a", "up", 100, "", A)), 2)
    deadline = time.monotonic() + 3
    while n.get("/tune/demo").status != 302:
        assert time.monotonic() < deadline, "a new round did not make it fresh"
        time.sleep(0.05)


# ---- tune_region -------------------------------------------------------------------------

def test_region_prefers_its_slots_and_falls_back(make_nginx, redis_server):
    """tune_region from a request header: "eu" listeners get the eu slot even though us has
    more free; a region with no slot (or none free) gets any slot."""
    text = snapshot(("a", "up", 5, "eu", A), ("b", "up", 500, "us", B))
    n = make_nginx(text, http_conf="tune_region $http_x_region;\n", locations=TUNE + STATUS)

    def where(region):
        out = set()
        for _ in range(30):
            conn_headers = {"X-Region": region} if region else {}
            r = get_with_headers(n, "/tune/demo", conn_headers)
            assert r[0] == 302
            out.add(r[1])
        return out

    assert where("eu") == {A}
    assert where("us") == {B}
    assert where("mars") >= {B}               # no such region: all slots, mostly B
    redis_server.put_snapshot(snapshot(("a", "up", 0, "eu", A), ("b", "up", 500, "us", B)), 2)
    wait_for_generation(n, 2)
    assert where("eu") == {B}                  # eu is full: fall back


def get_with_headers(n, path, headers):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", n.port, timeout=5)
    try:
        conn.request("HEAD", path, headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("location")
    finally:
        conn.close()


def wait_for_generation(n, g):
    deadline = time.monotonic() + 5
    while f"\"generation\":{g}" not in status_text(n):
        assert time.monotonic() < deadline
        time.sleep(0.05)


# ---- tune_full ---------------------------------------------------------------------------

def FULL():
    return snapshot(("a", "up", 0, "", A), ("b", "up", 0, "", B))


def test_full_is_503_with_retry_after_by_default(make_nginx):
    n = make_nginx(FULL, locations=TUNE + STATUS)
    r = n.get("/tune/demo")
    assert r.status == 503 and r.header("retry-after") == "2" and r.header("location") is None
    assert "every slot is full" in n.error_log_text()


def test_full_with_an_overflow_url(make_nginx):
    """tune_full URL (with variables) sends listeners there when every slot is full, and only then."""
    n = make_nginx(FULL, locations=STATUS + "location /tune/ { tune; "
                   "tune_full http://overflow.example.net/$tune_stream.mp3; }\n")
    r = n.get("/tune/demo")
    assert (r.status, r.header("location")) == (302, "http://overflow.example.net/demo.mp3")


def test_overflow_url_is_checked_after_variables(make_nginx):
    """An overflow URL whose variables bring in a space or worse is not sent: 503 and an error line."""
    n = make_nginx(FULL, locations=STATUS + "location /tune/ { tune; "
                   "tune_full http://overflow.example.net/$http_x_where; }\n")
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", n.port, timeout=5)
    conn.request("GET", "/tune/demo", headers={"X-Where": "a b\"<x>"})
    r = conn.getresponse()
    assert r.status == 503 and r.getheader("location") is None
    assert 'the "tune_full" URL is not usable' in n.error_log_text()


def test_down_is_not_full(make_nginx):
    """Slots down (not full) are a 503 even with an overflow URL: nothing is up at all."""
    n = make_nginx(snapshot(("a", "down", 10, "", A)),
                   locations=STATUS + "location /tune/ { tune; tune_full http://overflow.example.net/; }\n")
    assert n.get("/tune/demo").status == 503


# ---- variables ---------------------------------------------------------------------------

def test_variables_in_the_access_log_and_headers(make_nginx):
    """$tune_stream, $tune_backend, $tune_url, $tune_outcome for logs and add_header."""
    n = make_nginx(snapshot(("a", "up", 10, "", A)),
                   http_conf="log_format t '$uri|$tune_stream|$tune_backend|$tune_url|$tune_outcome';\n",
                   server_conf="access_log logs/t.log t;\n",
                   locations=STATUS + "location /tune/ { tune; add_header X-Backend $tune_backend always; }\n")
    r = n.get("/tune/demo")
    assert r.status == 302 and r.header("x-backend") == "a"
    n.get("/tune/nosuch")
    n.get("/tune/bad..")
    n.get("/tune/demo.m3u")
    log = n.prefix / "logs" / "t.log"                # written after each answer was sent
    tune_ins = lambda: [x for x in log.read_text().splitlines() if x.startswith("/tune/")] if log.exists() else []
    wait_until(lambda: len(tune_ins()) >= 4, 5, "the four tune-ins logged")
    lines = log.read_text().splitlines()
    assert f"/tune/demo|demo|a|{A}|redirect" in lines
    assert "/tune/nosuch|nosuch|-|-|unknown" in lines
    assert "/tune/bad..|-|-|-|invalid" in lines
    assert f"/tune/demo.m3u|demo|a|{A}|playlist" in lines


# ---- tune_status -------------------------------------------------------------------------

def test_status_reports_snapshot_redis_streams_and_slots(make_nginx):
    n = make_nginx(locations=TUNE + STATUS, herd_window="2s")
    # herd accounting on: the first credits may take a claim round (50 ms) to arrive
    ok, deadline = 0, time.monotonic() + 5
    while ok < 3:
        assert time.monotonic() < deadline
        ok += n.get("/tune/demo").status == 302
        time.sleep(0.02)
    r = n.get("/status")
    assert r.status == 200 and r.header("content-type") == "application/json"
    assert r.header("cache-control") == "no-store"
    st = json.loads(r.body)
    assert st["snapshot"]["generation"] == 1 and st["snapshot"]["stale"] is False
    assert st["snapshot"]["interval_ms"] == 2000 and st["snapshot"]["slots"] == 2
    assert st["redis"]["connected"] is True and st["redis"]["herd"] == "shared"
    (demo,) = st["streams"]
    assert demo["name"] == "demo"
    slots = {s["backend"]: s for s in demo["slots"]}
    assert slots["a"]["url"] == A and slots["a"]["free"] == 100 and slots["a"]["region"] == "eu"
    assert slots["a"]["listeners"] == 7 and slots["a"]["capacity"] == 107
    assert slots["a"]["pending"] + slots["b"]["pending"] == 3      # the three tune-ins
    # a reason with a quote and a backslash is escaped, not breaking the JSON
    (b,) = st["backends"]
    assert b["reason"] == 'connect: "refused" \\ here'


def test_status_before_any_snapshot(make_nginx, redis_server):
    n = make_nginx(locations=TUNE + STATUS, wait=False)
    redis_server.client().command("DEL", "{tuneslot:v1}:snapshot", "{tuneslot:v1}:generation")
    n.reload()
    # the zone survives the reload, so the snapshot stays: only a fresh zone has none
    st = json.loads(status_text(n) or "{}")
    assert "snapshot" in st


def test_status_methods(make_nginx):
    n = make_nginx(locations=TUNE + STATUS)
    r = n.get("/status", method="POST")
    assert r.status == 405 and r.header("allow") == "GET, HEAD"


# ---- playlists ---------------------------------------------------------------------------

def THREE():
    return snapshot(("a", "up", 300, "", A), ("b", "up", 200, "", B), ("c", "down", 900, "", C))


def test_m3u_lists_the_chosen_slot_first_then_the_others(make_nginx):
    n = make_nginx(THREE, locations=TUNE + STATUS)
    r = n.get("/tune/demo.m3u")
    assert r.status == 200 and r.header("content-type") == "audio/x-mpegurl"
    assert r.header("cache-control") == "no-store"
    urls = [l for l in r.body.decode().splitlines() if l and not l.startswith("#")]
    assert r.body.decode().startswith("#EXTM3U\n")
    assert sorted(urls) == sorted([A, B])      # c is down: not listed
    firsts = {n.get("/tune/demo.m3u").body.decode().splitlines()[2] for _ in range(60)}
    assert firsts == {A, B}                    # the first entry is the draw, shared


def test_pls(make_nginx):
    n = make_nginx(THREE, locations=TUNE + STATUS)
    r = n.get("/tune/demo.pls")
    assert r.status == 200 and r.header("content-type") == "audio/x-scpls"
    text = r.body.decode()
    assert text.startswith("[playlist]\n")
    assert "NumberOfEntries=2" in text and "Version=2" in text
    files = re.findall(r"^File\d+=(.*)$", text, re.M)
    assert sorted(files) == sorted([A, B])


def test_xspf(make_nginx):
    n = make_nginx(THREE, locations=TUNE + STATUS)
    r = n.get("/tune/demo.xspf")
    assert r.status == 200 and r.header("content-type") == "application/xspf+xml"
    root = ET.fromstring(r.body)
    ns = {"x": "http://xspf.org/ns/0/"}
    locs = [e.text for e in root.findall(".//x:track/x:location", ns)]
    assert sorted(locs) == sorted([A, B])


def test_playlist_of_unknown_or_full_stream(make_nginx):
    n = make_nginx(FULL, locations=TUNE + STATUS)
    assert n.get("/tune/nosuch.m3u").status == 404
    assert n.get("/tune/demo.m3u").status == 503
