"""mod_tune's proxy mode (`TuneMode proxy`, apache_module/README.md): the
chosen slot streamed through mod_proxy_http on Apache's own port, under
event and prefork.  Real Icecast 2.4 with an ffmpeg source, a SHOUTcast v1
look-alike answering `ICY 200 OK` (t/harness/icy_server.py), a real player
(ffmpeg), real Redis and Debian's Apache."""

import re
import socket
import time

import pytest

from harness import SilentServer, free_port, slot, snapshot_text, wait_until
from harness.apache import STATUS_LOCATION
from harness.icecast import play
from harness.icy_server import get as icy_get, pattern_at, read_response

MPMS = ["event", "prefork"]
TONE = 440


def proxy_location(*lines: str) -> str:
    body = "".join(f"    {line}\n" for line in ("SetHandler tune", "TuneMode proxy",
                                                   "Require all granted") + lines)
    return f'<Location "/listen/">\n{body}</Location>\n' + STATUS_LOCATION


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused."""
    return f"http://127.0.0.1:{free_port()}/demo"


@pytest.fixture
def make_proxy(redis_server, make_tune_apache):
    """make_proxy(*slots, mpm="event", locations=proxy_location()) -> Apache in proxy mode
    with the snapshot of those slots of "demo" installed."""
    def make(*slots, mpm="event", locations=None, generation=1):
        redis_server.put_snapshot(snapshot_text(*slots), generation)
        a = make_tune_apache(redis_server.address, mpm=mpm, workers=20,
                             modules=("proxy", "proxy_http"),
                             locations=locations or proxy_location())
        a.wait_for_generation(generation)
        return a
    return make


def tune_lines_of(apache, level: str) -> list[str]:
    return re.findall(rf"\[tune:{level}\].*", apache.error_log_text())


# ---- Icecast --------------------------------------------------------------------------------

@pytest.mark.parametrize("mpm", MPMS)
def test_proxy_streams_real_icecast_and_frees_it_on_disconnect(make_icecast, make_source,
                                                               make_proxy, mpm):
    """A listener gets Icecast's stream on Apache's port; Icecast counts it, and forgets it
    soon after the listener hangs up."""
    ice = make_icecast(name="ice", max_listeners={"/demo": 50})
    make_source(ice, "/demo", TONE)
    a = make_proxy(slot("ice", ice.url("/demo"), 50), mpm=mpm)
    s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    s.sendall(b"GET /listen/demo HTTP/1.1\r\nHost: radio.test\r\n\r\n")
    r = read_response(s, body_bytes=64 * 1024)
    assert (r.protocol, r.status) == ("HTTP/1.1", 200), r.status_line
    assert r.headers.get("content-type") == "audio/mpeg", r.headers
    assert len(r.body) > 16 * 1024, f"only {len(r.body)} bytes of audio"
    ice.wait_for_listeners("/demo", 1)
    s.close()
    ice.wait_for_listeners("/demo", 0, timeout=10)


@pytest.mark.parametrize("mpm", MPMS)
def test_player_decodes_audio_through_the_proxy(make_icecast, make_source, make_proxy, mpm):
    """ffmpeg, pointed at Apache's port, decodes 2 s of the backend's tone."""
    ice = make_icecast(name="ice", max_listeners={"/demo": 50})
    make_source(ice, "/demo", TONE)
    a = make_proxy(slot("ice", ice.url("/demo"), 50), mpm=mpm)
    heard = play(a.url("/listen/demo"))
    assert heard.returncode == 0, heard.stderr
    assert heard.seconds >= 1.98, f"only {heard.seconds:.2f}s of audio"
    assert abs(heard.frequency - TONE) < TONE * 0.05, f"heard {heard.frequency:.0f} Hz"


# ---- ICY (SHOUTcast v1) backends ---------------------------------------------------------

@pytest.mark.parametrize("mpm", MPMS)
def test_icy_backend_becomes_http_with_icy_headers_and_metadata(icy, make_proxy, mpm):
    """`ICY 200 OK` reaches the listener as an HTTP/1.1 200 with the icy-* headers; with
    Icy-MetaData: 1 the audio and metadata blocks come through byte for byte, and the backend
    saw the listener's Icy-MetaData and X-Forwarded-For."""
    a = make_proxy(slot("icy", icy.url("/demo"), 50), mpm=mpm)
    r = icy_get("127.0.0.1", a.port, "/listen/demo", headers={"Icy-MetaData": "1"},
                body_bytes=40000, http="HTTP/1.1")
    assert (r.protocol, r.status) == ("HTTP/1.1", 200), r.status_line
    assert r.headers.get("icy-name") == "tuneslot test radio"
    assert r.headers.get("icy-br") == "128"
    assert r.headers.get("content-type") == "audio/mpeg"
    assert r.metaint == 4096
    assert b"ICY 200" not in r.body[:64]
    assert len(r.audio) > 30000 and r.audio == pattern_at(0, len(r.audio)), "audio bytes differ"
    assert "Proxy Title" in r.titles
    seen = icy.requests[-1]
    assert seen.line.startswith("GET /demo HTTP/1.")
    assert seen.header("icy-metadata") == "1"
    assert seen.header("x-forwarded-for") == "127.0.0.1"
    assert not re.search(r"\[[\w.]*:(error|crit)\]", a.error_log_text()), a.error_log_text()


def test_icy_backend_without_metadata(icy, make_proxy):
    """Without Icy-MetaData the backend sends none, and the body is audio only."""
    a = make_proxy(slot("icy", icy.url("/demo"), 50))
    r = icy_get("127.0.0.1", a.port, "/listen/demo", body_bytes=20000)
    assert r.status == 200, r.status_line
    assert r.metaint is None
    assert len(r.body) >= 20000 and r.body == pattern_at(0, len(r.body))


# ---- the next-best slot --------------------------------------------------------------------

@pytest.mark.parametrize("mpm", MPMS)
def test_refused_slot_falls_over_to_the_next_best(icy, make_proxy, mpm):
    """The slot drawn first refuses the connection; the listener still gets the stream, from
    the next slot."""
    # "dead" has 1000x the free slots: it is drawn first nearly always
    a = make_proxy(slot("dead", closed_port_url(), 100000), slot("icy", icy.url("/demo"), 100),
                   mpm=mpm)
    for _ in range(5):
        r = icy_get("127.0.0.1", a.port, "/listen/demo", body_bytes=8000)
        assert r.status == 200, r.status_line
        assert r.body[:8000] == pattern_at(0, 8000)
    assert len(icy.requests) == 5


def test_every_slot_failing_is_a_502_after_bounded_tries(make_proxy):
    """When every slot hangs up at once, the listener gets 502 after TuneProxyTries (3) slots,
    at once, uncacheable."""
    hang_ups = [SilentServer(hang_up=True) for _ in range(5)]
    try:
        a = make_proxy(*[slot(f"gone{i}", f"http://{s.address}/demo", 10)
                         for i, s in enumerate(hang_ups)])
        t0 = time.monotonic()
        r = a.get("/listen/demo")
        assert r.status == 502, r
        assert time.monotonic() - t0 < 3
        # each SilentServer thread records its accept after the kernel's handshake
        wait_until(lambda: sum(len(s.accept_times) for s in hang_ups) >= 3, 5, "three tries accepted")
        assert sum(len(s.accept_times) for s in hang_ups) == 3
        assert r.header("cache-control") == "no-store"
    finally:
        for s in hang_ups:
            s.stop()


def test_proxy_tries_is_configurable(make_proxy):
    """TuneProxyTries 1 gives up after the first slot."""
    hang_ups = [SilentServer(hang_up=True) for _ in range(3)]
    try:
        a = make_proxy(*[slot(f"gone{i}", f"http://{s.address}/demo", 10)
                         for i, s in enumerate(hang_ups)],
                       locations=proxy_location("TuneProxyTries 1"))
        assert a.get("/listen/demo").status == 502
        wait_until(lambda: sum(len(s.accept_times) for s in hang_ups) >= 1, 5, "the try accepted")
        assert sum(len(s.accept_times) for s in hang_ups) == 1
    finally:
        for s in hang_ups:
            s.stop()


# ---- our own answers in proxy mode ------------------------------------------------------------

def test_own_answers_are_not_retried(icy, make_proxy):
    """An unknown stream is 404 and a bad name 400 at once; no slot is tried."""
    a = make_proxy(slot("icy", icy.url("/demo"), 50))
    assert a.get("/listen/nosuch").status == 404
    assert a.get("/listen/bad..name").status == 400
    assert not icy.requests
    assert not tune_lines_of(a, "error")


def test_proxy_playlist_lists_the_front_ends_own_url(icy, make_proxy):
    """In proxy mode a playlist points players back at Apache, not at the backend."""
    a = make_proxy(slot("icy", icy.url("/demo"), 50))
    r = a.get("/listen/demo.m3u")
    assert r.status == 200 and r.header("content-type") == "audio/x-mpegurl"
    text = r.body.decode()
    assert f"http://127.0.0.1:{a.port}/listen/demo" in text, text
    assert icy.url("/demo") not in text
