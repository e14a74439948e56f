"""Proxy mode (`tune_mode proxy`): the chosen slot streamed through nginx's
own proxy on the listener's port, with the configuration ngx_module/README.md
recommends.  Real Icecast 2.4 with an ffmpeg source, a SHOUTcast v1
look-alike answering `ICY 200 OK` (t/harness/icy_server.py), a real player
(ffmpeg), real Redis and nginx."""

import re
import socket
import time

import pytest

from harness import IcyServer
from harness.icecast import play
from harness.icy_server import PATTERN, get as icy_get, pattern_at
from harness.nginx import Nginx, proxy_location

TONE = 440

#: the recommended proxy-mode location of ngx_module/README.md, word for word
RECOMMENDED = proxy_location()


def now_ms() -> int:
    return int(time.time() * 1000)


def snapshot(*slots) -> str:
    """(backend, health, free, url) slots of stream "demo", written now."""
    t = now_ms()
    lines = ["tuneslot-snapshot\t1", f"written_ms\t{t}", "interval_ms\t1000"]
    for backend, health, free, url in slots:
        lines.append("\t".join(["slot", "demo", backend, health, "0", str(free), str(free), "100",
                                "", str(t), url]))
    lines.append("end")
    return "\n".join(lines) + "\n"


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/demo"


@pytest.fixture
def make_proxy(run_dir, processes, redis_server):
    """make_proxy(*slots) -> nginx with the recommended location, the
    snapshot of those slots written and installed."""
    def make(*slots, locations=RECOMMENDED, http_conf="", generation=1,
             ready_path="/listen/demo.m3u"):
        redis_server.put_snapshot(snapshot(*slots), generation)
        n = Nginx(run_dir, redis_server.address, refresh="50ms", http_conf=http_conf,
                  locations=locations + "location / { return 404; }\n")
        processes.append(n)
        n.start()
        deadline = time.monotonic() + 5
        while n.get(ready_path).status != 200:
            assert time.monotonic() < deadline, "no snapshot installed"
            time.sleep(0.05)
        return n
    return make


def check_pattern(audio: bytes) -> None:
    """The ICY server's audio bytes, from the stream's start, none lost or added."""
    assert len(audio) > 0
    assert audio == pattern_at(0, len(audio)), "audio bytes differ from what the backend sent"


# ---- Icecast -------------------------------------------------------------------------

def test_proxy_streams_real_icecast_and_frees_it_on_disconnect(make_icecast, make_source, make_proxy):
    """A listener on port 80 gets Icecast's stream through nginx; Icecast counts it, and
    forgets it soon after the listener hangs up."""
    ice = make_icecast(name="ice", max_listeners={"/demo": 50})
    make_source(ice, "/demo", TONE)
    n = make_proxy(("ice", "up", 50, ice.url("/demo")))
    s = socket.create_connection(("127.0.0.1", n.port), timeout=10)
    s.sendall(b"GET /listen/demo HTTP/1.1\r\nHost: radio.test\r\n\r\n")
    data = b""
    deadline = time.monotonic() + 10
    while len(data) < 64 * 1024 and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert re.search(rb"(?im)^content-type: audio/mpeg", head), head
    assert len(body) > 16 * 1024, f"only {len(body)} bytes of audio"
    ice.wait_for_listeners("/demo", 1)
    s.close()
    ice.wait_for_listeners("/demo", 0, timeout=10)


def test_player_decodes_audio_through_the_proxy(make_icecast, make_source, make_proxy):
    """ffmpeg, pointed at nginx's port, decodes 2 s of the backend's tone."""
    ice = make_icecast(name="ice", max_listeners={"/demo": 50})
    make_source(ice, "/demo", TONE)
    n = make_proxy(("ice", "up", 50, ice.url("/demo")))
    heard = play(n.url("/listen/demo"))
    assert heard.returncode == 0, heard.stderr
    assert heard.seconds >= 1.98, f"only {heard.seconds:.2f}s of audio"
    assert abs(heard.frequency - TONE) < TONE * 0.05, f"heard {heard.frequency:.0f} Hz"


# ---- ICY (SHOUTcast v1) backends -------------------------------------------------------

def test_icy_backend_becomes_http_with_icy_headers_and_metadata(icy, make_proxy):
    """`ICY 200 OK` reaches the listener as an HTTP/1.1 200 whose headers carry the icy-*
    fields; with Icy-MetaData: 1 the metadata blocks come through intact, and the backend saw
    the listener's Icy-MetaData and X-Forwarded-For."""
    n = make_proxy(("icy", "up", 50, icy.url("/demo")))
    r = icy_get("127.0.0.1", n.port, "/listen/demo", headers={"Icy-MetaData": "1"},
                body_bytes=40000, http="HTTP/1.1")
    assert (r.protocol, r.status) == ("HTTP/1.1", 200), r.status_line
    assert r.headers.get("icy-name") == "tuneslot test radio"
    assert r.headers.get("icy-br") == "128"
    assert r.headers.get("content-type") == "audio/mpeg"
    assert r.metaint == 4096
    assert b"ICY 200" not in r.body[:64]
    check_pattern(r.audio)
    assert "Proxy Title" in r.titles
    # the browsers' part of the recommended configuration
    assert "icy-metaint" in r.headers.get("access-control-expose-headers", "")
    seen = icy.requests[-1]
    assert seen.header("icy-metadata") == "1"
    assert seen.header("x-forwarded-for") == "127.0.0.1"
    assert seen.line.startswith("GET /demo HTTP/1.")
    # no "upstream sent no valid HTTP/1.0 header": nginx never took it for HTTP/0.9
    assert "no valid HTTP" not in n.error_log_text()


def test_icy_backend_without_metadata(icy, make_proxy):
    """Without Icy-MetaData the backend sends none, and the body is audio only."""
    n = make_proxy(("icy", "up", 50, icy.url("/demo")))
    r = icy_get("127.0.0.1", n.port, "/listen/demo", body_bytes=20000)
    assert (r.protocol, r.status) == ("HTTP/1.1", 200), r.status_line
    assert r.metaint is None
    check_pattern(r.body)


# ---- the next-best slot -----------------------------------------------------------------

def test_refused_slot_falls_over_to_the_next_best(icy, make_proxy):
    """The slot drawn first refuses the connection (nothing listens); the listener still gets
    a stream, from the next slot, and the failure is logged with the backend's name."""
    dead = closed_port_url()
    # "dead" has 1000x the free slots: it is drawn first nearly always
    n = make_proxy(("dead", "up", 100000, dead), ("icy", "up", 100, icy.url("/demo")))
    for _ in range(5):
        r = icy_get("127.0.0.1", n.port, "/listen/demo", body_bytes=8000)
        assert r.status == 200, r.status_line
        check_pattern(r.body)
    log = n.error_log_text()
    assert re.search(r'\[warn\].*tune: slot of "demo" on "dead" failed .*trying the next one', log), log


def test_backend_error_status_falls_over_to_the_next_best(make_proxy, icy):
    """A backend answering 503 (an Icecast at its limit answers 403) before any byte of
    audio: with proxy_intercept_errors on, the next slot is tried."""
    busy = IcyServer(mode="error", error_status=503)
    forbidden = IcyServer(mode="error", error_status=403)
    try:
        n = make_proxy(("busy", "up", 100000, busy.url("/demo")),
                       ("forbidden", "up", 100000, forbidden.url("/demo")),
                       ("icy", "up", 10, icy.url("/demo")))
        for _ in range(3):
            r = icy_get("127.0.0.1", n.port, "/listen/demo", body_bytes=8000)
            assert r.status == 200, r.status_line
            check_pattern(r.body)
        assert busy.requests and forbidden.requests
    finally:
        busy.stop()
        forbidden.stop()


def test_every_slot_failing_is_a_502_after_bounded_tries(make_proxy):
    """When every slot refuses, the listener gets 502 after at most tune_proxy_tries slots, at once."""
    slots = [(f"dead{i}", "up", 10, closed_port_url()) for i in range(5)]
    n = make_proxy(*slots)
    t0 = time.monotonic()
    r = n.get("/listen/demo")
    assert r.status == 502
    assert time.monotonic() - t0 < 3
    tried = re.findall(r'tune: slot of "demo" on "dead\d" failed \(502\)', n.error_log_text())
    assert len(tried) == 3, tried           # tune_proxy_tries 3, the default
    assert r.header("cache-control") == "no-store"


def test_proxy_tries_is_configurable(make_proxy):
    """tune_proxy_tries 1 gives up after the first slot."""
    slots = [(f"dead{i}", "up", 10, closed_port_url()) for i in range(3)]
    n = make_proxy(*slots, locations=RECOMMENDED.replace("tune_mode proxy;",
                                                         "tune_mode proxy;\ntune_proxy_tries 1;"))
    assert n.get("/listen/demo").status == 502
    assert len(re.findall(r'tune: slot of "demo" on "dead\d" failed', n.error_log_text())) == 1


# ---- our own answers in proxy mode ---------------------------------------------------------

def test_own_answers_are_not_retried(icy, make_proxy):
    """An unknown stream is 404 and a full one 503 at once: the retry pages proxy mode adds
    only ever retry slots."""
    n = make_proxy(("icy", "up", 50, icy.url("/demo")))
    r = n.get("/listen/nosuch")
    assert r.status == 404
    r = n.get("/listen/bad..name")
    assert r.status == 400
    assert "failed" not in n.error_log_text()


def test_proxy_playlist_lists_the_front_ends_own_url(icy, make_proxy):
    """In proxy mode a playlist points players back at port 80, not at the backend."""
    n = make_proxy(("icy", "up", 50, icy.url("/demo")))
    conn_host = f"127.0.0.1:{n.port}"
    r = n.get("/listen/demo.m3u")
    assert r.status == 200
    assert r.header("content-type") == "audio/x-mpegurl"
    text = r.body.decode()
    assert f"http://{conn_host}/listen/demo" in text
    assert icy.url("/demo") not in text


def test_proxy_without_proxy_pass_is_refused(run_dir):
    """`tune_mode proxy` in a location with nothing to hand over to fails nginx -t, naming the line."""
    n = Nginx(run_dir, "127.0.0.1:6379",
              locations="location /listen/ {\n    tune;\n    tune_mode proxy;\n}\n")
    text = n.config_text()
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.strip() == "tune;")
    p = n.test_config(text)
    assert p.returncode != 0
    assert f'"tune_mode proxy" in {n.conf_path}:{line} requires "proxy_pass $tune_url"' in p.stderr, p.stderr


def test_proxy_pass_before_tune_works_too(icy, make_proxy):
    """The order of proxy_pass and tune in the location does not matter."""
    loc = RECOMMENDED.replace("    tune;\n", "").replace("proxy_buffering off;", "proxy_buffering off;\n    tune;")
    assert loc.index("proxy_pass") < loc.index("tune;")
    n = make_proxy(("icy", "up", 50, icy.url("/demo")), locations=loc)
    r = icy_get("127.0.0.1", n.port, "/listen/demo", body_bytes=8000)
    assert r.status == 200
    check_pattern(r.body)


def test_pattern_helper_detects_a_lost_byte():
    """check_pattern() fails on a stream with one byte missing (so the tests above can fail)."""
    good = pattern_at(0, 1000)
    check_pattern(good)
    with pytest.raises(AssertionError):
        check_pattern(good[:500] + good[501:])
    assert len(PATTERN) == 251


# ---- the location around proxy mode ------------------------------------------------------

def test_if_block_inside_a_proxy_location(icy, make_proxy):
    """An `if` inside the location (a CORS tweak, say) is the same location: a request that
    enters it still gets the stream, and a failed slot there is still retried (no worker dies)."""
    dead = closed_port_url()
    loc = RECOMMENDED.replace("    tune_mode proxy;\n",
                              "    tune_mode proxy;\n    if ($http_origin) { add_header X-Origin seen; }\n")
    n = make_proxy(("dead", "up", 100000, dead), ("icy", "up", 100, icy.url("/demo")), locations=loc)
    for origin in (None, "https://player.example"):
        r = icy_get("127.0.0.1", n.port, "/listen/demo", body_bytes=8000,
                    headers={"Origin": origin} if origin else {})
        assert r.status == 200, r.status_line
        check_pattern(r.body)
    assert "signal" not in n.error_log_text()


def test_limit_req_is_not_bypassed_by_the_retry_pages(icy, make_proxy):
    """limit_req's 503 in a proxy location stays a 503: the retry pages catch only slots' failures."""
    # readiness is probed where no limit applies: a probe refused while nginx had no
    # snapshot yet would spend the one request a minute, and every later probe be limited
    n = make_proxy(("icy", "up", 100, icy.url("/demo")),
                   http_conf="limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;\n",
                   locations=RECOMMENDED.replace("    tune;\n", "    tune;\n    limit_req zone=one;\n")
                   + "location /ready/ { tune; }\n",
                   ready_path="/ready/demo.m3u")
    # the one request a minute allowed (a playlist: 200)
    assert n.get("/listen/demo.m3u").status == 200
    statuses = []
    for _ in range(3):
        r = icy_get("127.0.0.1", n.port, "/listen/demo", body_bytes=2000, timeout=5)
        statuses.append(r.status)
    assert statuses == [503, 503, 503], statuses
    assert len(re.findall(r"limiting requests", n.error_log_text())) == 3
    assert not icy.requests


def test_named_proxy_location_retries_in_place(icy, make_proxy):
    """Proxy mode in a named location (reached by try_files) retries there, by its name."""
    dead = closed_port_url()
    loc = ("location /listen/ { try_files /nonexistent @radio; }\n"
           + RECOMMENDED.replace("location /listen/ {", "location @radio {"))
    n = make_proxy(("dead", "up", 100000, dead), ("icy", "up", 100, icy.url("/demo")), locations=loc)
    r = icy_get("127.0.0.1", n.port, "/listen/demo", body_bytes=8000)
    assert r.status == 200, r.status_line
    check_pattern(r.body)


def test_inherited_error_page_is_reported_by_nginx_t(run_dir):
    """A server-level error_page for 502 (nginx's stock default.conf has one) shadows the retry of
    502s; nginx -t says so."""
    n = Nginx(run_dir, "127.0.0.1:6379", server_conf="error_page 500 502 503 504 /50x.html;\n",
              locations=RECOMMENDED)
    p = n.test_config()
    assert p.returncode == 0, p.stderr
    assert re.search(r'\[warn\].*"tune_mode proxy" in .*: an "error_page" for 502 applies', p.stderr), p.stderr


def test_playlist_host_is_sanitised(icy, make_proxy):
    """A Host with a user part or odd bytes never makes it into a proxy-mode playlist."""
    n = make_proxy(("icy", "up", 50, icy.url("/demo")))
    with socket.create_connection(("127.0.0.1", n.port), timeout=5) as s:
        s.sendall(b"GET /listen/demo.m3u HTTP/1.0\r\nHost: x@evil.example\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert b"evil.example" not in data.partition(b"\r\n\r\n")[2]
    r = icy_get("127.0.0.1", n.port, "/listen/demo.m3u", headers={"Host": f"radio.example:{n.port}"},
                body_bytes=10)
    assert f"http://radio.example:{n.port}/listen/demo" in r.body.decode()
