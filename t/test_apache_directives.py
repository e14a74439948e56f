"""Every directive of mod_tune (apache_module/README.md), its environment
variables, tune-status and playlists: `apache2 -t` refusing each bad value
with the line and the reason, TuneStale, TuneRegion, TuneFull, TUNE_*
variables in a LogFormat and mod_headers, the status JSON, .m3u/.pls/.xspf.
Real Redis and Debian's Apache, snapshots of the test's own making."""

import json
import re
import time
import xml.etree.ElementTree as ET

import pytest

from harness import slot, snapshot_text, wait_until
from harness.apache import STATUS_LOCATION, Apache, module_path
from harness.snapshot import now_ms

A = "http://127.0.0.1:8001/demo"
B = "http://127.0.0.1:8002/demo"
C = "http://127.0.0.1:8003/demo"
INTERVAL_MS = 2000          # the snapshots' interval_ms: Retry-After 2


def snapshot(*slots, written_ms=None) -> str:
    """slots of stream "demo", each with 7 listeners, and a down backend
    whose reason needs escaping in JSON."""
    t = now_ms() if written_ms is None else written_ms
    return snapshot_text(*slots, written_ms=t, interval_ms=INTERVAL_MS,
                         extra_lines=("backend\tb\tdown\t%d\tconnect: \"refused\" \\ here" % t,))


def two():
    return snapshot(slot("a", A, 100, listeners=7, region="eu"),
                    slot("b", B, 100, listeners=7, region="us"))


def full():
    return snapshot(slot("a", A, 0), slot("b", B, 0))


def tune_location(*lines: str) -> str:
    """<Location "/tune/"> with the tune handler and these directives, and tune-status."""
    body = "".join(f"    {line}\n" for line in ("SetHandler tune", "Require all granted") + lines)
    return f'<Location "/tune/">\n{body}</Location>\n' + STATUS_LOCATION


@pytest.fixture
def serve(redis_server, make_tune_apache):
    """serve(text=two, **make_tune_apache options) -> Apache with the
    snapshot installed (generation 1)."""
    def make(text=two, **kw):
        # made when used: a snapshot made minutes ago would be stale
        redis_server.put_snapshot(text() if callable(text) else text, 1)
        a = make_tune_apache(redis_server.address, **kw)
        a.wait_for_generation(1)
        return a
    return make


# ---- apache2 -t ----------------------------------------------------------------------------

@pytest.fixture
def config_test(run_dir):
    """config_test(server_conf, location_lines) -> (completed `apache2 -t`,
    the config's text, its path): mod_tune loaded, proxy modules too."""
    if not module_path().exists():
        pytest.fail(f"{module_path()} is not built; build it or set TUNESLOT_BUILD", pytrace=False)

    def run(server_conf="TuneRedis 127.0.0.1:6379\n", location_lines=(), modules=("proxy", "proxy_http")):
        a = Apache(run_dir, tune=True, modules=modules,
                   conf=server_conf + tune_location(*location_lines))
        text = a.config_text()
        return a.test_config(text), text, a.conf_path
    return run


def line_of(text: str, directive: str) -> int:
    return next(i for i, l in enumerate(text.splitlines(), 1) if l.strip() == directive)


BAD_SERVER = [
    ("TuneRedis 127.0.0.1:notaport", r"notaport"),
    ("TuneRedis 127.0.0.1:99999", r"99999"),
    ("TuneRedis http://127.0.0.1/x", r"http://127\.0\.0\.1/x"),
    ("TuneRedis unix:redis.sock", r"unix:redis\.sock"),
    ("TuneRedis 127.0.0.1:6379 passwd=s3cr3t", r"passwd"),
    ("TuneRedis 127.0.0.1:6379 user=tune", r"user="),
    ("TuneRedis 127.0.0.1:6379 db=x", r"db"),
    ("TuneRedis 127.0.0.1:6379 db=65536", r"65536"),
    ("TuneRedis sentinel=127.0.0.1:26379", r'"sentinel=" needs "master="'),
    ("TuneRedis 127.0.0.1:6379 sentinel=127.0.0.1:26379 master=m",
     r'"sentinel=" replaces the address'),
    ("TuneRedis 127.0.0.1:6379 master=m", r'"master=".*need "sentinel="'),
    ("TuneRedis sentinel=127.0.0.1:26379 master=my!master", r'"master=": the master name holds'),
    ("TuneRedis sentinel=127.0.0.1:26379 master=" + "m" * 129, r"longer than 128 bytes"),
    ("TuneRedis sentinel=127.0.0.1:26379,,127.0.0.1:26380 master=m", r"empty Sentinel address"),
    ("TuneRedis sentinel=127.0.0.1:26379, master=m", r"empty Sentinel address"),
    ("TuneRedis sentinel=127.0.0.1:99999 master=m", r'Sentinel "127\.0\.0\.1:99999": invalid port'),
    ("TuneRedis sentinel=unix:/run/s.sock master=m", r'invalid Sentinel address "unix:/run/s\.sock"'),
    ("TuneRedis sentinel=" + ",".join(f"127.0.0.1:{26379 + i}" for i in range(17)) + " master=m",
     r"more than 16 Sentinels"),
    ("TuneRedis sentinel=127.0.0.1:26379 master=m sentinel_user=u",
     r'"sentinel_user=" needs "sentinel_password="'),
    ("TuneRedis sentinel=127.0.0.1:26379 master=m sentinel_password=", r'empty "sentinel_password="'),
    ("TuneRedis sentinel=127.0.0.1:26379 master=m master=n", r'duplicate "master="'),
    ("TuneRedis sentinel=127.0.0.1:26379 master=m sentinel_password=a sentinel_password=b",
     r'duplicate "sentinel_password="'),
    ("TuneRedis password=x db=2", r"needs host:port, unix:/path or sentinel= before its parameters"),
    ("TuneHerdWindow 50ms", r"50ms"),
    ("TuneHerdWindow 6s", r"6s"),
    ("TuneSharedMemory 1K", r"1K"),
    ("TuneSharedMemory lots", r"lots"),
    ("TuneRefresh soon", r"soon"),
    ("TuneAllow relay.example.net/", r'"relay\.example\.net/": no scheme'),
    ("TuneAllow ftp://relay.example.net/", r"a scheme other than http://, https://, rtmp://, rtmps://, rtsp:// or rtsps://"),
    ("TuneAllow http://good.example@evil/", r"userinfo"),
    ("TuneAllow http://good.example:80@evil/", r"userinfo"),
    ("TuneAllow http://relay.example.net/live", r"a path not ending in '/'"),
    ("TuneAllow http://relay.example.net/?a=b", r"a query"),
    ("TuneAllow http://relay.example.net:99999/", r"a port that is not a number"),
    ("TuneAllow http://relay.example.net/ //evil/", r'"//evil/": no scheme'),
]


BAD_LOCATION = [
    ("TuneMode sideways", r"sideways"),
    ("TuneStale never", r"never"),
    ("TuneFull 404", r"404"),
    ("TuneFull ftp://x.example/", r"ftp://x\.example/"),
    ("TuneFull rtmp://x.example/live/demo", r"rtmp://x\.example/live/demo.*http:// or https://"),
    ("TuneProxyTries 0", r"\b0\b"),
    ("TuneProxyTries 9", r"\b9\b"),
    ("TuneProxyTries many", r"many"),
    ("TuneProxyReserve -1", r'"-1".*a number of workers'),
    ("TuneProxyReserve few", r'"few".*a number of workers'),
    ("TuneProxyReserve 100%", r'"100%".*0% to 99%'),
    ("TuneProxyReserve 100001", r'"100001".*0 to 100000'),
    ("TuneProxyReserve 5%%", r'"5%%"'),
    ("TuneProxyReserve 5 404", r'invalid answer "404" \(expected redirect or 503\)'),
    ("TuneProxyReserve 5 redirect now", r"TuneProxyReserve"),
    ("TuneRegion %{HTTP:X-Region", r"TuneRegion"),
    ("Tune Maybe", r"Maybe|On|Off"),
    ("TuneSchemes gopher", r'invalid value "gopher" \(expected http, https, rtmp'),
    ("TuneHttpsOnly Maybe", r"On|Off"),
    ("TuneHttpsFallback redirect", r'invalid value "redirect" \(expected full or proxy\)'),
    ("TuneHttpsProxies 10.0.0.300", r'"10\.0\.0\.300" is not an address or a network'),
    ("TuneHttpsProxies 10.0.0.0/40", r'"10\.0\.0\.0/40" is not an address or a network'),
]


BAD = [("server", d, v) for d, v in BAD_SERVER] + [("location", d, v) for d, v in BAD_LOCATION]


@pytest.mark.parametrize("where,directive,value", BAD, ids=[d for _, d, _ in BAD])
def test_apache_t_rejects_bad_values_with_line_and_reason(config_test, where, directive, value):
    """apache2 -t refuses each bad value (server-wide or in a <Location>), naming the line,
    the directive and the value."""
    if where == "server":
        # TuneRedis goes first, so that a bad one is the only TuneRedis
        conf = directive + "\n" + ("" if directive.startswith("TuneRedis") else "TuneRedis 127.0.0.1:6379\n")
        p, text, path = config_test(server_conf=conf)
    else:
        p, text, path = config_test(location_lines=(directive,))
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert f"Syntax error on line {line_of(text, directive)} of {path}" in out, out
    reason = out.replace(str(path), "")          # the run directory is named after the test
    assert directive.split()[0] in reason and re.search(value, reason), out


@pytest.mark.parametrize("directive", ["TuneRedis 127.0.0.1:6380", "TuneAllow http://x.example/"])
def test_server_wide_directives_are_refused_in_a_virtual_host(config_test, directive):
    """One Apache reads one snapshot: TuneRedis or TuneAllow inside <VirtualHost> fails
    apache2 -t."""
    vhost = f"<VirtualHost 127.0.0.1:80>\n    {directive}\n</VirtualHost>\n"
    p, text, path = config_test(server_conf="TuneRedis 127.0.0.1:6379\n" + vhost)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert f"Syntax error on line {line_of(text, directive)} of {path}" in out, out
    assert re.search(directive.split()[0] + r".*VirtualHost", out), out


@pytest.mark.parametrize("handler", ["SetHandler tune", "Tune On"])
def test_tune_without_tune_redis_is_refused(run_dir, handler):
    """A tune location without TuneRedis: apache2 -t fails and says TuneRedis is required."""
    a = Apache(run_dir, tune=True, conf=f'<Location "/tune/">\n    {handler}\n</Location>\n')
    p = a.test_config()
    assert p.returncode != 0, p.stdout + p.stderr
    assert "TuneRedis" in p.stdout + p.stderr, p.stdout + p.stderr


def test_proxy_mode_without_mod_proxy_refuses_to_start(run_dir, processes):
    """TuneMode proxy without mod_proxy and mod_proxy_http loaded: Apache does not start, and
    says which modules it needs."""
    a = Apache(run_dir, tune=True, conf="TuneRedis 127.0.0.1:6379\n" + tune_location("TuneMode proxy"))
    processes.append(a)
    a.allow(r"\[tune:emerg\]")
    with pytest.raises(TimeoutError):
        a.start(timeout=10)
    assert a.wait(timeout=10) != 0
    said = a.log_text() + a.error_log_text()
    assert re.search(r"TuneMode proxy.*mod_proxy", said), said
    assert 'needs mod_proxy and mod_proxy_http: "a2enmod proxy proxy_http" on Debian' in said, said


def test_apache_t_accepts_every_directive(config_test):
    """The documented forms pass, at every level they are allowed at."""
    server = ("TuneRedis unix:/run/redis/redis.sock password=x user=tune db=3\n"
              "TuneRefresh 250ms\nTuneRedisTimeout 1s\nTuneHerdWindow 2s\nTuneSharedMemory 2M\n"
              "TuneMode redirect\nTuneStale 5mi\nTuneRegion %{HTTP:X-Region}\nTuneFull 503\n"
              "TuneProxyTries 2\nTuneProxyReserve 10%\n"
              "TuneAllow http://10.0.0.5:8000/ https://relay.example.net/live/\n"
              "TuneAllow http://[::1]:8000/\n"
              "<VirtualHost 127.0.0.1:80>\n    TuneStale off\n"
              "    TuneFull http://overflow.example.net/%{reqenv:TUNE_STREAM}\n</VirtualHost>\n")
    p, _, _ = config_test(server_conf=server,
                          location_lines=("TuneMode proxy", "TuneRegion eu", "TuneStale 60",
                                          "TuneProxyTries 8", "TuneFull 503",
                                          "TuneProxyReserve 3 503",
                                          "TuneProxyReserve 0 redirect",
                                          "TuneHttpsOnly Off", "TuneHttpsFallback full",
                                          "TuneSchemes http https rtmp",
                                          "TuneHttpsProxies 10.0.0.0/8 ::1 192.0.2.7"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Syntax OK" in p.stdout + p.stderr


# ---- TuneStale -----------------------------------------------------------------------------

def test_snapshot_older_than_tune_stale_is_503(serve):
    """A snapshot written 10 minutes ago is not served with TuneStale 60 (the default): 503
    with the snapshot's Retry-After; tune-status says stale."""
    a = serve(snapshot(slot("a", A, 100), written_ms=now_ms() - 600_000))
    r = a.get("/tune/demo")
    assert (r.status, r.header("retry-after"), r.header("location")) == (503, "2", None)
    st = a.tune_status()
    assert st["snapshot"]["stale"] is True and st["snapshot"]["age_ms"] >= 590_000


def test_tune_stale_off_serves_any_age(serve):
    a = serve(snapshot(slot("a", A, 100), written_ms=now_ms() - 600_000),
              locations=tune_location("TuneStale off"))
    r = a.get("/tune/demo")
    assert (r.status, r.header("location")) == (302, A)


def test_snapshot_goes_stale_when_no_new_round_comes(serve, redis_server):
    """Fresh at first; with no new generation for TuneStale (2 s), 503; a new round cures it."""
    start = time.monotonic()                          # before the snapshot's written time
    a = serve(snapshot(slot("a", A, 100)), server_conf="TuneStale 2\n")
    assert a.get("/tune/demo").status == 302
    seen = []
    wait_until(lambda: seen.append(a.get("/tune/demo").status) or seen[-1] == 503, 5, "stale: 503")
    assert time.monotonic() - start >= 2.0, "stale before TuneStale"
    assert set(seen) <= {302, 503}, seen
    redis_server.put_snapshot(snapshot(slot("a", A, 100)), 2)
    a.wait_for_generation(2)
    assert a.get("/tune/demo").status == 302


# ---- TuneRegion ----------------------------------------------------------------------------

def test_region_prefers_its_slots_and_falls_back(serve, redis_server):
    """TuneRegion from a request header: "eu" listeners get the eu slot though us has more
    free; a region without slots gets any; a full region falls back to the others."""
    a = serve(snapshot(slot("a", A, 5, region="eu"), slot("b", B, 500, region="us")),
              server_conf="TuneRegion %{HTTP:X-Region}\n")

    def where(region):
        out = set()
        for _ in range(30):
            r = a.get("/tune/demo", method="HEAD", headers={"X-Region": region})
            assert r.status == 302, r
            out.add(r.header("location"))
        return out

    assert where("eu") == {A}
    assert where("us") == {B}
    assert B in where("mars")
    redis_server.put_snapshot(snapshot(slot("a", A, 0, region="eu"), slot("b", B, 500, region="us")), 2)
    a.wait_for_generation(2)
    assert where("eu") == {B}


# ---- TuneFull ------------------------------------------------------------------------------

def test_full_is_503_with_retry_after_by_default(serve):
    a = serve(full)
    r = a.get("/tune/demo")
    assert (r.status, r.header("retry-after"), r.header("location")) == (503, "2", None)
    assert r.header("cache-control") == "no-store"


def test_full_with_an_overflow_url_expression(serve):
    """TuneFull with a variable sends listeners there when every slot is full, and only then."""
    a = serve(full, locations=tune_location(
        'TuneFull "http://overflow.example.net/%{reqenv:TUNE_STREAM}.mp3"'))
    r = a.get("/tune/demo")
    assert (r.status, r.header("location")) == (302, "http://overflow.example.net/demo.mp3"), r


def test_overflow_url_is_checked_after_evaluation(serve):
    """An overflow URL whose expression brings in a space or worse is not sent: 503 and an
    error line."""
    a = serve(full, locations=tune_location('TuneFull "http://overflow.example.net/%{HTTP:X-Where}"'))
    r = a.get("/tune/demo", headers={"X-Where": 'a b"<x>'})
    assert (r.status, r.header("location")) == (503, None), r
    assert re.search(r"\[tune:error\].*TuneFull", a.error_log_text()), a.error_log_text()


def test_down_is_not_full(serve):
    """Slots down (not full) are a 503 even with an overflow URL."""
    a = serve(snapshot(slot("a", A, 10, health="down")),
              locations=tune_location("TuneFull http://overflow.example.net/"))
    r = a.get("/tune/demo")
    assert (r.status, r.header("location")) == (503, None)


# ---- environment variables -------------------------------------------------------------------

def test_variables_in_the_access_log_and_headers(serve):
    """TUNE_STREAM, TUNE_BACKEND, TUNE_URL, TUNE_OUTCOME for a LogFormat and mod_headers."""
    a = serve(snapshot(slot("a", A, 10)), modules=("headers",),
              server_conf='LogFormat "%U|%{TUNE_STREAM}e|%{TUNE_BACKEND}e|%{TUNE_URL}e|'
                          '%{TUNE_OUTCOME}e" t\nCustomLog logs/t.log t\n',
              locations=tune_location('Header always set X-Backend "%{TUNE_BACKEND}e"'))
    r = a.get("/tune/demo")
    assert (r.status, r.header("x-backend")) == (302, "a")
    for path in ("/tune/nosuch", "/tune/bad..", "/tune/demo.m3u"):
        a.get(path)
    deadline = time.monotonic() + 2
    while len((a.logs / "t.log").read_text().splitlines()) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = (a.logs / "t.log").read_text().splitlines()
    assert f"/tune/demo|demo|a|{A}|redirect" in lines, lines
    assert "/tune/nosuch|nosuch|-|-|unknown" in lines, lines
    assert "/tune/bad..|-|-|-|invalid" in lines, lines
    assert f"/tune/demo.m3u|demo|a|{A}|playlist" in lines, lines


def test_outcomes_stale_full_overflow(serve):
    """TUNE_OUTCOME is "stale" for a snapshot older than TuneStale, "full" for a 503 on full
    slots, "overflow" for the TuneFull URL."""
    def located(path, *lines):
        return (f'<Location "{path}">\n    SetHandler tune\n    Require all granted\n'
                + "".join(f"    {line}\n" for line in lines) + "</Location>\n")

    a = serve(snapshot(slot("a", A, 0), written_ms=now_ms() - 600_000),
              server_conf='LogFormat "%U %>s %{TUNE_OUTCOME}e" t\nCustomLog logs/t.log t\n',
              locations=(located("/tune/") + located("/full/", "TuneStale off")
                         + located("/over/", "TuneStale off", "TuneFull http://overflow.example.net/")
                         + STATUS_LOCATION))
    for path in ("/tune/demo", "/full/demo", "/over/demo"):
        a.get(path)
    lines = []
    deadline = time.monotonic() + 2
    while len(lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
        lines = [line for line in (a.logs / "t.log").read_text().splitlines()
                 if not line.startswith("/tune-status")]
    # each request is logged by the thread that served it, after its answer
    # went out: the lines need not come in the order of the requests
    assert sorted(lines) == ["/full/demo 503 full", "/over/demo 302 overflow",
                             "/tune/demo 503 stale"], lines


# ---- tune-status -----------------------------------------------------------------------------

def test_status_reports_snapshot_redis_streams_and_slots(serve):
    """The JSON names the snapshot, the Redis connection and herd mode, each backend with its
    reason, and each slot with this Apache's pending tune-ins."""
    a = serve(herd_window=None)
    ok, deadline = 0, time.monotonic() + 5
    while ok < 3:                        # the first credits may take a claim round
        assert time.monotonic() < deadline
        ok += a.get("/tune/demo").status == 302
        time.sleep(0.02)
    r = a.get("/tune-status")
    assert r.status == 200 and r.header("content-type").startswith("application/json")
    assert r.header("cache-control") == "no-store"
    st = json.loads(r.body)
    assert st["snapshot"]["generation"] == 1 and st["snapshot"]["stale"] is False
    assert st["snapshot"]["interval_ms"] == INTERVAL_MS and st["snapshot"]["slots"] == 2
    assert st["redis"]["connected"] is True and st["redis"]["herd"] == "shared"
    (demo,) = st["streams"]
    assert demo["name"] == "demo"
    slots = {s["backend"]: s for s in demo["slots"]}
    assert slots["a"]["url"] == A and slots["a"]["free"] == 100 and slots["a"]["region"] == "eu"
    assert slots["a"]["listeners"] == 7 and slots["a"]["capacity"] == 107
    assert slots["a"]["pending"] + slots["b"]["pending"] == 3
    (b,) = st["backends"]
    assert b["reason"] == 'connect: "refused" \\ here'


def test_status_methods(serve):
    a = serve()
    r = a.get("/tune-status", method="POST")
    assert r.status == 405
    assert {"GET", "HEAD"} <= {m.strip() for m in r.header("allow").split(",")}


# ---- playlists -------------------------------------------------------------------------------

def three():
    return snapshot(slot("a", A, 300), slot("b", B, 200), slot("c", C, 900, health="down"))


def test_m3u_lists_the_chosen_slot_first_then_the_others(serve):
    a = serve(three)
    r = a.get("/tune/demo.m3u")
    assert r.status == 200 and r.header("content-type") == "audio/x-mpegurl"
    assert r.header("cache-control") == "no-store"
    text = r.body.decode()
    assert text.startswith("#EXTM3U\n")
    urls = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert sorted(urls) == sorted([A, B])
    firsts = {[line for line in a.get("/tune/demo.m3u").body.decode().splitlines()
               if line and not line.startswith("#")][0] for _ in range(60)}
    assert firsts == {A, B}


def test_pls_and_xspf(serve):
    a = serve(three)
    r = a.get("/tune/demo.pls")
    assert r.status == 200 and r.header("content-type") == "audio/x-scpls"
    text = r.body.decode()
    assert text.startswith("[playlist]\n") and "NumberOfEntries=2" in text and "Version=2" in text
    assert sorted(re.findall(r"^File\d+=(.*)$", text, re.M)) == sorted([A, B])
    r = a.get("/tune/demo.xspf")
    assert r.status == 200 and r.header("content-type") == "application/xspf+xml"
    locs = [e.text for e in ET.fromstring(r.body).findall(".//x:track/x:location",
                                                          {"x": "http://xspf.org/ns/0/"})]
    assert sorted(locs) == sorted([A, B])


def test_playlist_of_unknown_or_full_stream(serve):
    a = serve(full)
    assert a.get("/tune/nosuch.m3u").status == 404
    assert a.get("/tune/demo.m3u").status == 503


def test_every_directive_at_its_level_serves(serve):
    """A configuration using the directives at server and location level starts and answers."""
    a = serve(server_conf="TuneStale 5mi\nTuneRedisTimeout 500ms\nTuneSharedMemory 2M\n",
              locations=tune_location("TuneRegion eu", "TuneMode redirect"))
    r = a.get("/tune/demo")
    assert (r.status, r.header("location")) == (302, A)
