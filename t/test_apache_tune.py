"""mod_tune (apache_module/README.md) end to end under Debian's apache2,
event and prefork (and worker, a smoke test): real Redis, two real Icecast
2.4 servers fed by real ffmpeg sources, the real tuneslotd, and a real
player (ffmpeg) following the redirect; then names, methods and location
forms against snapshots of the test's own making."""

import time

import pytest

from harness import slot, snapshot_text, wait_until
from harness.apache import STATUS_LOCATION
from harness.net import HOSTILE_TARGETS
from harness.icecast import play

MPMS = ["event", "prefork"]
A = "http://127.0.0.1:8001/demo"
B = "http://127.0.0.1:8002/demo"

#: every tune-in's request, status, Location and backend, for the player test
LOG_FORMAT = ('LogFormat "%r %>s %{Location}o %{TUNE_BACKEND}e" tune\n'
              "CustomLog logs/tune.log tune\n")


@pytest.fixture(params=MPMS)
def stack(request, icecast_pair, make_tune_apache):
    """icecast_pair (t/conftest.py) with Apache in front, under each MPM."""
    icecast_pair.front = make_tune_apache(icecast_pair.redis.address, mpm=request.param,
                                          workers=20, server_conf=LOG_FORMAT)
    wait_until(lambda: icecast_pair.front.get("/tune/demo").status == 302, 5, "the first tune-in")
    return icecast_pair


# ---- a real fleet -----------------------------------------------------------------------

def test_redirects_shared_by_free_slots(stack):
    """/tune/demo answers 302 to A (5 free) or B (3 free), uncacheable; HEAD alike without a
    body; 200 HEADs share in proportion to free slots (5:3)."""
    r = stack.front.get("/tune/demo")
    assert r.status == 302
    assert r.header("location") in stack.urls()
    assert r.header("cache-control") == "no-store"
    h = stack.front.get("/tune/demo", method="HEAD")
    assert (h.status, h.body) == (302, b"")
    assert h.header("location") in stack.urls()
    seen = [stack.location() for _ in range(200)]
    assert 75 <= seen.count(stack.url("ice-a")) <= 175, seen.count(stack.url("ice-a"))
    assert not stack.front.log_lines("error", "crit")


def test_full_backends_flip_then_503(stack, make_listener):
    """Listeners filling A send every tune-in to B within two poll intervals; filling B too
    gives 503 with Retry-After (the scheduler's interval) and no Location."""
    for _ in range(5):
        make_listener(stack.ice_a, "/demo")
    stack.ice_a.wait_for_listeners("/demo", 5)
    # 100 tune-ins in a row to B (stopping at the first to A), not a set of 20: with A at 1
    # free and B at 3 (a round taken while Icecast counted the listeners) 20 picks all went
    # to B 1 time in 315, and the switch passed unchecked; 100 do 1 time in 3e12
    wait_until(lambda: all(stack.location() == stack.url("ice-b") for _ in range(100)),
               2 * stack.interval + 1.0, "the switch to B")
    for _ in range(3):
        make_listener(stack.ice_b, "/demo")
    stack.ice_b.wait_for_listeners("/demo", 3)
    wait_until(lambda: stack.front.get("/tune/demo").status == 503,
               2 * stack.interval + 1.0, "503 when all are full")
    r = stack.front.get("/tune/demo")
    assert (r.header("retry-after"), r.header("location")) == ("1", None)
    assert r.header("cache-control") == "no-store"


def test_player_follows_redirect_and_decodes_audio(stack):
    """ffmpeg opening the tune-in URL follows the 302 and decodes 2 s of the tone of the
    backend that %{TUNE_BACKEND}e names in the access log."""
    heard = play(stack.front.url("/tune/demo"))
    assert heard.returncode == 0, heard.stderr
    assert heard.seconds >= 1.99, f"only {heard.seconds:.2f}s of audio"
    line = [line for line in (stack.front.logs / "tune.log").read_text().splitlines()
            if line.startswith("GET /tune/demo ")][-1]
    _, _, _, status, location, backend = line.split()
    assert (status, location) == ("302", stack.url(backend))
    tone = stack.tones[backend]
    assert abs(heard.frequency - tone) < tone * 0.05, \
        f"heard {heard.frequency:.0f} Hz, {backend} plays {tone} Hz"
    assert not stack.front.log_lines("error", "crit")


# ---- names and methods --------------------------------------------------------------------

@pytest.fixture(params=MPMS)
def apache(request, redis_server, make_tune_apache):
    """Apache under each MPM serving "demo": a with 10 free, b up but full."""
    redis_server.put_snapshot(snapshot_text(slot("a", A, 10), slot("b", B, 0)), 1)
    a = make_tune_apache(redis_server.address, mpm=request.param, workers=20)
    a.wait_for_generation(1)
    return a


def test_unknown_stream_is_404(apache):
    """A well-formed name the snapshot does not have is 404, uncacheable."""
    r = apache.get("/tune/nosuchstream")
    assert (r.status, r.header("location"), r.header("cache-control")) == (404, None, "no-store")


#: a name that is more than one path segment is refused too
HOSTILE = HOSTILE_TARGETS + [b"/tune/demo/extra", b"/tune/x/demo"]


@pytest.mark.parametrize("target", HOSTILE, ids=lambda t: t[:40].decode())
def test_hostile_names_are_400_without_injection(apache, target):
    """A name breaking the rules is 400; nothing it carries reaches a header."""
    r = apache.raw(target)
    assert r.status == 400, r
    assert r.header("location") is None and r.header("set-cookie") is None
    assert b"Set-Cookie" not in r.raw
    assert r.header("cache-control") == "no-store"
    assert not apache.log_lines("error", "crit")


@pytest.mark.parametrize("target", [b"/tune/a%2fb", b"/tune/demo%00", b"/tune/..", b"/tune/%2e%2e",
                                    b"/tune/demo/../..", b"/tune/%2E%2E/demo/.."])
def test_names_httpd_refuses_never_redirect(apache, target):
    """An encoded slash or NUL (httpd's 404) and dot segments (resolved before the location is
    chosen) never make a redirect."""
    r = apache.raw(target)
    assert r.status in (400, 403, 404), r
    assert r.header("location") is None


def test_other_methods_are_405_with_allow(apache):
    """Only GET and HEAD tune in: a POST is 405 with Allow: GET, HEAD (and TRACE, which
    httpd's core answers itself while TraceEnable is on, its default) and no-store."""
    r = apache.get("/tune/demo", method="POST")
    assert r.status == 405 and r.header("location") is None
    allowed = {m.strip() for m in r.header("allow").split(",")}
    assert {"GET", "HEAD"} <= allowed <= {"GET", "HEAD", "TRACE"}, r
    assert r.header("cache-control") == "no-store"


def test_head_is_answered_but_not_counted(redis_server, make_tune_apache):
    """With herd control on, 20 HEADs on a slot with 3 free all get 302; GETs then get at most
    3 redirects before the slot is full (503)."""
    redis_server.put_snapshot(snapshot_text(slot("a", A, 3), interval_ms=2000), 1)
    a = make_tune_apache(redis_server.address, herd_window=None)
    a.wait_for_generation(1)

    def first_credits():                  # a claim round answered: credits from Redis
        st = a.tune_status() or {}
        slots = [x for stream in st.get("streams", []) for x in stream["slots"]]
        return (st.get("redis") or {}).get("herd") == "shared" and any(x["credits"] for x in slots)
    wait_until(first_credits, 5, "the first claim's credits")
    heads = [a.get("/tune/demo", method="HEAD") for _ in range(20)]
    assert {(h.status, h.header("location")) for h in heads} == {(302, A)}, heads
    gets = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and (not gets or gets[-1] != 503):
        gets.append(a.get("/tune/demo").status)
        time.sleep(0.05)
    assert gets[-1] == 503, gets
    assert 1 <= gets.count(302) <= 3, gets
    st = a.tune_status()
    (demo,) = st["streams"]
    assert sum(s["pending"] for s in demo["slots"]) == gets.count(302), st


# ---- location forms ----------------------------------------------------------------------

@pytest.mark.parametrize("location,path", [
    ('<LocationMatch "^/listen/[^/]+$">\n    SetHandler tune\n    Require all granted\n'
     '</LocationMatch>\n', "/listen/demo"),
    ('<Location "/radio/demo">\n    SetHandler tune\n    Require all granted\n</Location>\n',
     "/radio/demo"),
    ('<Location "/tune/">\n    Tune On\n    Require all granted\n</Location>\n', "/tune/demo"),
], ids=["LocationMatch", "Location-without-slash", "Tune-On"])
def test_location_forms(redis_server, make_tune_apache, location, path):
    """<LocationMatch> and a <Location> without the slash tune in to the last path segment;
    `Tune On` is `SetHandler tune`, the stream what follows the location's path."""
    redis_server.put_snapshot(snapshot_text(slot("a", A, 10)), 1)
    a = make_tune_apache(redis_server.address, locations=location + STATUS_LOCATION)
    a.wait_for_generation(1)
    r = a.get(path)
    assert (r.status, r.header("location")) == (302, A), r
    if path.startswith("/tune/"):
        assert a.get("/tune/x/demo").status == 400


# ---- worker MPM --------------------------------------------------------------------------

def test_worker_mpm_smoke(redis_server, make_tune_apache):
    """Under the worker MPM: a redirect, a playlist, a new round, a graceful restart."""
    redis_server.put_snapshot(snapshot_text(slot("a", A, 10)), 1)
    a = make_tune_apache(redis_server.address, mpm="worker")
    a.wait_for_generation(1)
    assert (a.get("/tune/demo").status, a.get("/tune/demo").header("location")) == (302, A)
    assert a.get("/tune/demo.m3u").status == 200
    redis_server.put_snapshot(snapshot_text(slot("b", B, 10)), 2)
    a.wait_for_generation(2)
    a.graceful()
    assert a.get("/tune/demo").header("location") == B
    assert not a.log_lines("error", "crit")
