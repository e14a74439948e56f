"""Per-decision metrics of the front-ends (`tune_metrics` in nginx, `SetHandler
tune-metrics` in Apache; core/include/tune_metrics.h): after a scripted mix of tune-ins
(redirects, a HEAD, playlists, a full stream, unknown and invalid names, proxied tune-ins
whose first slot refuses) the counters say exactly what was sent; 10,000 random unknown
names add no series; the counters survive a reload; the stream label can be dropped.
Real nginx, Redis, and a SHOUTcast-like backend in the test process."""

import http.client
import random
import re
import string
import time

import pytest

from harness import IcyServer
from harness.apache import TUNE_LOCATION
from harness.icy_server import get as icy_get
from harness.nginx import Nginx, proxy_location

from test_nginx_proxy import closed_port_url


def now_ms() -> int:
    return int(time.time() * 1000)


def snapshot(slots) -> str:
    """(stream, backend, free, url) slots, all up, written now."""
    t = now_ms()
    lines = ["tuneslot-snapshot\t1", f"written_ms\t{t}", "interval_ms\t1000"]
    for stream, backend, free, url in slots:
        lines.append("\t".join(["slot", stream, backend, "up", "0", str(free), str(free), "100", "",
                                str(t), url]))
    lines.append("end")
    return "\n".join(lines) + "\n"


def series(text: str) -> dict[str, float]:
    """Prometheus text -> {'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def keep_alive_gets(port: int, paths) -> list[int]:
    """GETs on one keep-alive connection; their statuses."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses = []
    try:
        for p in paths:
            conn.request("GET", p)
            r = conn.getresponse()
            r.read()
            statuses.append(r.status)
    finally:
        conn.close()
    return statuses


LOCATIONS = ("location /tune/ { tune; }\n"
             "location = /metrics { tune_metrics; }\n"
             + proxy_location("/listen/")
             + "location / { return 404; }\n")


APACHE_LOCATIONS = (TUNE_LOCATION
                    + '<Location "/metrics">\n    SetHandler tune-metrics\n    Require all granted\n'
                      '</Location>\n'
                    + '<Location "/listen/">\n    SetHandler tune\n    TuneMode proxy\n'
                      '    Require all granted\n</Location>\n')


def ready(front) -> None:
    """Until the snapshot is installed, as the metrics' own gauge says: a tune-in
    as the probe would be counted, after its answer, when the test may already
    have read the counters."""
    deadline = time.monotonic() + 5
    while "\ntuneslot_snapshot_generation 1\n" not in front.get("/metrics").body.decode():
        assert time.monotonic() < deadline, "no snapshot installed"
        time.sleep(0.05)


@pytest.fixture
def fleet(run_dir, processes, redis_server, make_tune_apache):
    """A front-end (nginx, or Apache with mod_proxy) before a snapshot of demo (a slot that
    refuses, 4294967294 free so it is drawn first nearly always, and a live one), and full
    (no room)."""
    icy = IcyServer(metaint=4096, rate=32768)
    dead = closed_port_url()
    urls = {"dead": dead, "icy": icy.url("/demo")}
    redis_server.put_snapshot(snapshot([("demo", "dead", 4294967294, dead), ("demo", "icy", 100, urls["icy"]),
                                        ("full", "icy", 0, icy.url("/full")),
                                        ("gone", "dead", 10, dead), ("gone", "dead2", 10, closed_port_url())]), 1)

    def make(kind="nginx", conf=""):
        if kind == "nginx":
            n = Nginx(run_dir, redis_server.address, refresh="50ms", locations=LOCATIONS, http_conf=conf)
            processes.append(n)
            n.start()
        else:
            n = make_tune_apache(redis_server.address, workers=20, modules=("proxy", "proxy_http"),
                                 locations=APACHE_LOCATIONS, server_conf=conf, herd_window=None)
        n.kind = kind
        ready(n)
        return n
    yield make, urls
    icy.stop()


def mix(n, urls) -> dict[str, float]:
    """The scripted mix; the samples it must have added, by what the answers said."""
    by_url = {u: b for b, u in urls.items()}
    want: dict[str, float] = {}

    def add(key, k=1):
        want[key] = want.get(key, 0) + k

    for _ in range(3):
        r = n.get("/tune/demo")
        assert r.status == 302
        add('tuneslot_tuneins_total{stream="demo",outcome="redirect"}')
        add(f'tuneslot_tunein_assignments_total{{stream="demo",backend="{by_url[r.header("location")]}"}}')
    # a HEAD answers where a listener would go, and sends no listener there
    assert n.get("/tune/demo", method="HEAD").status == 302
    add('tuneslot_tuneins_total{stream="demo",outcome="redirect"}')
    for _ in range(2):
        r = n.get("/tune/demo.m3u")
        assert r.status == 200
        first = next(l for l in r.body.decode().splitlines() if l.startswith("http"))
        add('tuneslot_tuneins_total{stream="demo",outcome="playlist"}')
        add(f'tuneslot_tunein_assignments_total{{stream="demo",backend="{by_url[first]}"}}')
    assert n.get("/tune/full").status == 503
    add('tuneslot_tuneins_total{stream="full",outcome="full"}')
    for _ in range(2):
        assert n.get("/tune/nosuch").status == 404
        add('tuneslot_tuneins_total{outcome="unknown"}')
    assert n.get("/tune/bad..name").status == 400
    add('tuneslot_tuneins_total{outcome="invalid"}')
    # every slot of "gone" refuses: both tried, a 502, nobody sent anywhere
    r = icy_get("127.0.0.1", n.port, "/listen/gone", body_bytes=0)
    assert r.status == 502, r.status_line
    add('tuneslot_tuneins_total{stream="gone",outcome="failed"}')
    add('tuneslot_proxy_attempts_total{backend="dead",result="refused"}')
    add('tuneslot_proxy_attempts_total{backend="dead2",result="refused"}')
    for _ in range(2):
        r = icy_get("127.0.0.1", n.port, "/listen/demo", body_bytes=4000)
        assert r.status == 200, r.status_line
        add('tuneslot_tuneins_total{stream="demo",outcome="proxy-retry"}')
        add('tuneslot_tunein_assignments_total{stream="demo",backend="icy"}')
        add('tuneslot_proxy_attempts_total{backend="dead",result="refused"}')
        add('tuneslot_proxy_attempts_total{backend="icy",result="ok"}')
    return want


def counters(n) -> dict[str, float]:
    """The metrics' counter samples, once every request of the mix is counted (a request
    is counted in its log phase, after its answer was sent)."""
    r = n.get("/metrics")
    assert r.status == 200 and r.header("content-type") == "text/plain; version=0.0.4; charset=utf-8"
    return {k: v for k, v in series(r.body.decode()).items()
            if k.startswith(("tuneslot_tuneins_total", "tuneslot_tunein_assignments_total",
                             "tuneslot_proxy_attempts_total"))}


def wait_for_counts(n, want) -> dict[str, float]:
    deadline = time.monotonic() + 10
    while True:
        got = counters(n)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["nginx", "apache"])
def test_counts_exactly_what_was_sent(fleet, kind):
    make, urls = fleet
    n = make(kind)
    # nothing counted before the mix: no probe was a tune-in
    assert counters(n) == {}
    want = mix(n, urls)
    got = wait_for_counts(n, want)
    assert got == want
    text = n.get("/metrics").body.decode()
    s = series(text)
    assert s[f'tuneslot_build_info{{version="0.1.0",frontend="{kind}"}}'] == 1
    assert s["tuneslot_redis_up"] == 1 and s["tuneslot_snapshot_generation"] == 1
    assert s['tuneslot_herd_pending{stream="demo"}'] >= 0
    assert s["tuneslot_metrics_series_dropped_total"] == 0
    print(f"{kind} metrics after the mix:\n" + "\n".join(
        line for line in text.splitlines() if line.startswith(("tuneslot_tuneins", "tuneslot_tunein_a",
                                                             "tuneslot_proxy"))))

    # 10,000 names nobody has: one series more at most (their "unknown" count)
    names = ["".join(random.choice(string.ascii_lowercase) for _ in range(12)) for _ in range(10000)]
    assert set(keep_alive_gets(n.port, [f"/tune/{x}" for x in names])) == {404}
    after = wait_for_counts(n, {**got, 'tuneslot_tuneins_total{outcome="unknown"}':
                                got['tuneslot_tuneins_total{outcome="unknown"}'] + 10000})
    assert set(after) == set(got), set(after) ^ set(got)

    # a reload (a graceful restart) keeps every count: the zone, the segment, stay
    if kind == "nginx":
        n.reload()
    else:
        n.graceful()
    assert counters(n) == after
    if kind == "apache":
        # a new size is a new segment: the counts go over to it
        n.conf = n.conf + "TuneSharedMemory 2M\n"
        n.write_config()
        n.graceful()
        ready(n)
        assert counters(n) == after


@pytest.mark.parametrize("kind, conf", [("nginx", "tune_metrics_streams off;\n"),
                                        ("apache", "TuneMetricsStreams Off\n")])
def test_without_the_stream_label(fleet, kind, conf):
    make, urls = fleet
    n = make(kind, conf)
    want = mix(n, urls)
    # the same counts, each series without its stream label (summed over streams)
    unlabelled: dict[str, float] = {}
    for k, v in want.items():
        k = re.sub(r'stream="[^"]*",?', "", k).replace("{}", "")
        unlabelled[k] = unlabelled.get(k, 0) + v
    assert wait_for_counts(n, unlabelled) == unlabelled
    text = n.get("/metrics").body.decode()
    assert "stream=" not in "\n".join(l for l in text.splitlines() if not l.startswith("tuneslot_herd_"))
    assert re.search(r'^tuneslot_tuneins_total\{outcome="redirect"\} 4$', text, re.M), text
