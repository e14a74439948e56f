"""ngx_http_tune_module end to end: real Redis, two real Icecast 2.4 servers
fed by real ffmpeg sources, the real tuneslotd, Debian's nginx with the
module, and a real player (ffmpeg) following the redirect."""

import re
import threading
import time

import pytest

from harness import decode_snapshot, wait_until
from harness.net import HOSTILE_TARGETS
from harness.icecast import play
from harness.nginx import Nginx

REFRESH = 0.1           # the module's tune_refresh, seconds


@pytest.fixture
def make_nginx(run_dir, processes):
    """make_nginx(redis_address, **Nginx options) -> a running nginx."""
    # every probe of these tests is a tune-in whose player never connects:
    # herd control (test_herd.py) would count each against the slot
    def make(redis_address, start=True, **kw):
        kw.setdefault("herd_window", "0")
        n = Nginx(run_dir, redis_address, refresh=f"{int(REFRESH * 1000)}ms", **kw)
        processes.append(n)
        return n.start() if start else n
    return make


@pytest.fixture
def stack(icecast_pair, make_nginx):
    """icecast_pair (t/conftest.py) with nginx in front."""
    icecast_pair.front = make_nginx(
        icecast_pair.redis.address,
        http_conf="log_format tune '$request $status $sent_http_location $tune_backend';\n",
        server_conf="access_log logs/tune.log tune;\n")
    wait_until(lambda: icecast_pair.front.get("/tune/demo").status == 302, 5, "the first tune-in")
    return icecast_pair


def only_to(stack, url, picks=100):
    """Whether picks tune-ins in a row all go to url; stops at the first that does not.

    The choice is weighted random: while nginx still holds a round that offers A at all,
    every pick goes to B with probability free(B) / (free(A) + free(B)).  In the round most
    in B's favour that still offers A (A 1 free, B 3: one of A's listeners not yet counted
    by the poll), 20 picks in a row all went to B about 1 time in 315; 100 do about 1 time
    in 3e12, so a wait polling this for a few seconds ends early less than 1 time in 1e10.
    """
    return all(stack.location() == url for _ in range(picks))


def assert_no_errors(nginx):
    """Beyond the teardown check: no [error] line from the module either."""
    bad = [line for line in nginx.error_log_text().splitlines()
           if re.search(r"\[(error|crit)\]", line)]
    assert not bad, "\n".join(bad)


# ---- a. a backend with free slots -----------------------------------------------------

def test_redirects_to_a_backend_with_free_slots(stack):
    """/tune/demo answers 302 to A (5 free) or B (3 free), uncacheable; HEAD alike without a body."""
    r = stack.front.get("/tune/demo")
    assert r.status == 302
    assert r.header("location") in stack.urls()
    assert r.header("cache-control") == "no-store"
    h = stack.front.get("/tune/demo", method="HEAD")
    assert (h.status, h.body) == (302, b"")
    assert h.header("location") in stack.urls()
    # shared in proportion to free slots (5:3), not all to one
    seen = [stack.location() for _ in range(200)]
    assert 75 <= seen.count(stack.ice_a.url("/demo")) <= 175, seen.count(stack.ice_a.url("/demo"))
    assert_no_errors(stack.front)


# ---- b. the choice follows the load --------------------------------------------------

def test_choice_flips_within_two_intervals(stack, make_listener):
    """Once listeners fill A, new tune-ins all go to B within two poll intervals."""
    for _ in range(5):
        make_listener(stack.ice_a, "/demo")
    stack.ice_a.wait_for_listeners("/demo", 5)       # A: 0 free, B: 3 free
    counted = time.monotonic()
    wait_until(lambda: only_to(stack, stack.ice_b.url("/demo")),
               2 * stack.interval + REFRESH + 0.5, "the switch to B")
    flipped = time.monotonic() - counted
    # the snapshot in Redis agrees with what nginx answers
    _, text = stack.redis.snapshot()
    snap = decode_snapshot(text)
    assert (snap.slot("demo", "ice-a").free, snap.slot("demo", "ice-b").free) == (0, 3)
    print(f"switched {flipped:.2f}s after Icecast counted the listeners")


def test_full_backends_are_not_offered(stack, make_listener):
    """With every slot of A and B taken, tune-ins get 503 with Retry-After."""
    for _ in range(5):
        make_listener(stack.ice_a, "/demo")
    for _ in range(3):
        make_listener(stack.ice_b, "/demo")
    stack.ice_a.wait_for_listeners("/demo", 5)
    stack.ice_b.wait_for_listeners("/demo", 3)
    wait_until(lambda: stack.front.get("/tune/demo").status == 503,
               2 * stack.interval + REFRESH + 0.5, "503 when all are full")
    r = stack.front.get("/tune/demo")
    assert r.header("retry-after") == "1"
    assert r.header("location") is None


# ---- c. a real player ------------------------------------------------------------------

def test_player_follows_redirect_and_decodes_audio(stack):
    """ffmpeg opening the tune-in URL follows the 302 and decodes 2 s of the tone of the backend it was sent to."""
    heard = play(stack.front.url("/tune/demo"))
    assert heard.returncode == 0, heard.stderr
    assert heard.seconds >= 1.99, f"only {heard.seconds:.2f}s of audio"
    # the log line of that tune-in ($sent_http_location, $tune_backend) says where it went
    line = [l for l in (stack.front.prefix / "logs" / "tune.log").read_text().splitlines()
            if l.startswith("GET /tune/demo ")][-1]
    _, _, _, status, location, backend = line.split()
    assert status == "302"
    tone = stack.tones[backend]
    assert location == stack.url(backend)
    assert abs(heard.frequency - tone) < tone * 0.05, \
        f"heard {heard.frequency:.0f} Hz, {backend} plays {tone} Hz"


# ---- d. names ----------------------------------------------------------------------------

def test_unknown_stream_is_404(stack):
    """A well-formed name the snapshot does not have is 404."""
    r = stack.front.get("/tune/nosuchstream")
    assert (r.status, r.header("location")) == (404, None)
    assert r.header("cache-control") == "no-store"


#: nginx hands an encoded slash or NUL to the handler too
HOSTILE = HOSTILE_TARGETS + [b"/tune/a%2fb", b"/tune/demo%00"]


@pytest.mark.parametrize("target", HOSTILE, ids=lambda t: t[:40].decode())
def test_hostile_names_are_400_without_injection(stack, target):
    """A name breaking the rules is 400; nothing it carries reaches a header."""
    r = stack.front.raw(target)
    assert r.status == 400, r
    assert r.header("location") is None
    assert r.header("set-cookie") is None
    assert b"Set-Cookie" not in r.raw
    assert_no_errors(stack.front)


@pytest.mark.parametrize("target", [b"/tune/..", b"/tune/%2e%2e", b"/tune/demo/../..",
                                    b"/tune/%2E%2E/demo/.."])
def test_dot_segments_never_reach_the_handler(stack, target):
    """nginx resolves dot segments before choosing a location: /tune/.. is / (404 here), never a redirect."""
    r = stack.front.raw(target)
    assert r.status in (400, 404), r
    assert r.header("location") is None


def test_other_methods_are_405(stack):
    """Only GET and HEAD tune in."""
    r = stack.front.get("/tune/demo", method="POST")
    assert (r.status, r.header("location")) == (405, None)


# ---- e. configuration errors ---------------------------------------------------------

BAD_CONFIGS = [
    ("tune_redis 127.0.0.1:notaport;", r"invalid port in \"127\.0\.0\.1:notaport\" of the \"tune_redis\" directive"),
    ("tune_redis 127.0.0.1:99999;", r"invalid port in \"127\.0\.0\.1:99999\" of the \"tune_redis\" directive"),
    ("tune_redis http://127.0.0.1/x;", r"of the \"tune_redis\" directive"),
    ("tune_redis 127.0.0.1:6379 extra;", r"invalid parameter \"extra\" of the \"tune_redis\" directive"),
    ("tune_redis 127.0.0.1:6379 passwd=s3cr3t;", r"invalid parameter \"passwd\" of the \"tune_redis\" directive"),
    ("tune_redis 127.0.0.1:6379 password=;", r"empty password in the \"tune_redis\" directive"),
    ("tune_redis 127.0.0.1:6379 user=tune;", r"\"user=\" of the \"tune_redis\" directive requires \"password=\""),
    ("tune_redis 127.0.0.1:6379 db=x;", r"invalid db \"x\" in the \"tune_redis\" directive, expected 0\.\.65535"),
    ("tune_redis 127.0.0.1:6379 db=65536;", r"invalid db \"65536\" in the \"tune_redis\" directive"),
    ("tune_redis 127.0.0.1:6379 db=1 db=2;", r"duplicate parameter \"db\" in the \"tune_redis\" directive"),
    ("tune_redis 127.0.0.1; tune_herd_window 50ms;", r"\"tune_herd_window\" must be between 100ms and 5000ms"),
    ("tune_redis 127.0.0.1:6379; tune_redis 127.0.0.1:6380;", r"\"tune_redis\" directive is duplicate"),
    ("tune_redis 127.0.0.1; tune_refresh 1ms;", r"\"tune_refresh\" must be between 10ms and 60000ms"),
    ("tune_redis 127.0.0.1; tune_refresh soon;", r"\"tune_refresh\" directive invalid value"),
    ("tune_redis 127.0.0.1; tune_redis_timeout 0;", r"\"tune_redis_timeout\" must be between"),
    ("tune_redis 127.0.0.1; tune_zone_size 8k;", r"\"tune_zone_size\" must be at least 64k"),
    ("tune_redis 127.0.0.1; tune_allow relay.example.net/;",
     r"invalid prefix \"relay\.example\.net/\" in the \"tune_allow\" directive: no scheme"),
    ("tune_redis 127.0.0.1; tune_allow ftp://relay.example.net/;",
     r"\"tune_allow\" directive: a scheme other than http://, https://, rtmp://, rtmps://, rtsp:// or rtsps://"),
    ("tune_redis 127.0.0.1; tune_allow http://good.example@evil/;", r"\"tune_allow\" directive: userinfo"),
    ("tune_redis 127.0.0.1; tune_allow http://relay.example.net/live;",
     r"\"tune_allow\" directive: a path not ending in '/'"),
    ("tune_redis 127.0.0.1; tune_allow http://relay.example.net/?a=b;", r"\"tune_allow\" directive: a query"),
    ("tune_redis 127.0.0.1; tune_allow http://relay.example.net/ http://x:0/;",
     r"invalid prefix \"http://x:0/\" .*a port that is not a number"),
    # a quoted CR LF is named escaped, on one line
    ('tune_redis 127.0.0.1; tune_allow "http://relay.example.net/\\r\\nX: y/";',
     r"invalid prefix \"http://relay\.example\.net/\\x0d\\x0aX: y/\" .*CR or LF"),
    ("tune_redis 127.0.0.1; tune_allow;", r"invalid number of arguments in \"tune_allow\""),
]


@pytest.mark.parametrize("http_conf,reason", BAD_CONFIGS, ids=[c for c, _ in BAD_CONFIGS])
def test_nginx_t_rejects_bad_directives_with_file_line_and_reason(run_dir, processes, http_conf, reason):
    """nginx -t refuses a malformed tune directive, naming the file, the line and why."""
    n = Nginx(run_dir, None, http_conf=http_conf + "\n")
    text = n.config_text()
    line = text.splitlines().index(http_conf) + 1
    p = n.test_config(text)
    assert p.returncode != 0
    assert re.search(r"\[emerg\] .*" + reason + r".* in " + re.escape(str(n.conf_path)) + f":{line}",
                     p.stderr), p.stderr


def test_nginx_t_rejects_tune_without_tune_redis(run_dir):
    """A location with `tune` but no tune_redis is refused, naming where `tune` is."""
    n = Nginx(run_dir, None)
    text = n.config_text()
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "tune;" in l)
    p = n.test_config(text)
    assert p.returncode != 0
    assert f'"tune" in {n.conf_path}:{line} requires "tune_redis"' in p.stderr, p.stderr


def test_nginx_t_accepts_a_good_configuration(run_dir):
    """The documented directives with their documented forms pass nginx -t."""
    n = Nginx(run_dir, "unix:/run/redis/redis.sock",
              http_conf="tune_redis_timeout 500ms;\ntune_zone_size 2m;\n")
    p = n.test_config()
    assert p.returncode == 0, p.stderr


# ---- f. Redis away ----------------------------------------------------------------------

def hammer(nginx, seconds, threads=4, method="HEAD"):
    """Tune-ins from several keep-alive clients for a while; every answer's
    status and Location, and the slowest answer's latency."""
    import http.client
    results, worst = [], [0.0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
        n = 0
        while time.monotonic() < stop and n < 5000:
            t0 = time.monotonic()
            conn.request(method, "/tune/demo")
            r = conn.getresponse()
            r.read()
            dt = time.monotonic() - t0
            with lock:
                results.append((r.status, r.getheader("location")))
                worst[0] = max(worst[0], dt)
            n += 1
            time.sleep(0.002)
        conn.close()

    ts = [threading.Thread(target=client) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=seconds + 30)
    return results, worst[0]


def test_redis_stopped_last_snapshot_still_served(stack):
    """With Redis stopped, tune-ins are answered from the last snapshot, no worker stalls, and the outage is logged once."""
    stack.tuneslotd.stop()
    stack.redis.stop()
    # longer than several refresh ticks and the 1 s Redis timeout
    results, worst = hammer(stack.front, 3.0)
    assert len(results) > 100
    assert {status for status, _ in results} == {302}
    assert {location for _, location in results} == stack.urls()
    # a stall would be a wait for Redis: tune_redis_timeout is 1 s
    assert worst < 0.5, f"slowest tune-in took {worst:.3f}s"
    warns = re.findall(r"\[warn\].*tune: redis at", stack.front.error_log_text())
    assert len(warns) == 1, warns


def test_redis_back_new_rounds_are_picked_up(stack, make_listener):
    """After Redis restarts (empty, generation counter reset), the next rounds reach nginx again."""
    stack.redis.restart()
    for _ in range(5):
        make_listener(stack.ice_a, "/demo")
    stack.ice_a.wait_for_listeners("/demo", 5)
    wait_until(lambda: only_to(stack, stack.ice_b.url("/demo")), 10,
               "only B after the Redis restart")
    assert re.search(r"\[notice\].*tune: redis at .* answers again", stack.front.error_log_text())


def test_reload_keeps_answering(stack):
    """nginx -s reload keeps the snapshot: the new workers answer at once, even with Redis away."""
    stack.redis.stop()
    stack.front.reload()
    r = stack.front.get("/tune/demo")
    assert r.status == 302 and r.header("location") in stack.urls()
