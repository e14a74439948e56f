"""RTMP players balanced by ngx_stream_tune_module between two real RTMP servers: two nginx
with Debian's nginx-rtmp-module, each fed a live test pattern by an ffmpeg publisher, polled
by tuneslotd (format nginx-rtmp); a front nginx whose stream block gives each new connection
a slot; ffprobe and ffmpeg players connecting to the front over RTMP."""

import json
import os
import signal
import subprocess
import time

import pytest

from harness import decode_snapshot, free_port, wait_until
from harness.nginx import Nginx
from harness.rtmp import RtmpNginx, player, publisher

INTERVAL = 0.3


def slots(redis):
    _, text = redis.snapshot()
    if text is None:
        return {}
    snap = decode_snapshot(text)
    return {b: snap.slot(s, b) for s, b in snap.slots if s == "demo"}


def front_view(front):
    """demo's slots as the front holds them: {backend: (health, free, herd pending)}."""
    return {b: v[:3] for b, v in front_herd(front).items()}


def front_herd(front):
    """{backend: (health, free, herd pending, herd credits)} of demo's slots at the front."""
    doc = json.loads(front.get("/tune-status").body)
    for stream in doc.get("streams", []):
        if stream["name"] == "demo":
            return {s["backend"]: (s["health"], s["free"], s["pending"], s["credits"])
                    for s in stream["slots"]}
    return {}


@pytest.fixture
def fleet(run_dir, processes, redis_server, make_tuneslotd):
    """Two RTMP servers publishing /live/demo (rtmp-a room for 1 player, rtmp-b for 3),
    tuneslotd polling them, and the front nginx; returns (a, b, front, front_port, daemon)."""
    servers = {}
    for name in ("rtmp-a", "rtmp-b"):
        s = RtmpNginx(run_dir, name)
        processes.append(s)
        s.start()
        pub = publisher(run_dir, s.stream_url("/live/demo"), name=f"publisher-{name}")
        processes.append(pub)
        pub.start()
        s.publisher = pub
        servers[name] = s
    for s in servers.values():
        wait_until(lambda s=s: s.clients("demo") == (1, True) or not s.publisher.running(), 20,
                   "the publisher on /live/demo")
        assert s.publisher.running(), s.publisher.log_text()

    a, b = servers["rtmp-a"], servers["rtmp-b"]
    daemon = make_tuneslotd({
        "redis": redis_server.address, "interval": f"{int(INTERVAL * 1000)}ms",
        "timeout": "250ms", "fail_after": 2,
        "backend": [{"name": name, "format": "nginx-rtmp",
                     "status": f"http://127.0.0.1:{s.port}/stat",
                     "public": f"rtmp://127.0.0.1:{s.rtmp_port}", "max_listeners": cap}
                    for (name, s), cap in zip(servers.items(), (1, 3))],
        "stream": [{"name": "demo", "mount": "/live/demo"}]})
    daemon.start()
    wait_until(lambda: {k: (v.health, v.free) for k, v in slots(redis_server).items()}
               == {"rtmp-a": ("up", 1), "rtmp-b": ("up", 3)}, 15, "both slots up")

    port = free_port()
    front = Nginx(run_dir, redis_server.address, name="front", refresh="50ms",
                  locations="location = /tune-status { tune_status; }\n"
                            "location / { return 404; }\n",
                  stream_conf=("log_format tune '$tune_outcome $tune_backend $status';\n"
                               f"server {{\n    listen 127.0.0.1:{port};\n"
                               f"    access_log {run_dir}/front-stream.log tune;\n"
                               "    tune_stream demo;\n"
                               "    proxy_pass $tune_upstream;\n}\n"))
    processes.append(front)
    front.start()
    wait_until(lambda: front_view(front) == {"rtmp-a": ("up", 1, 0), "rtmp-b": ("up", 3, 0)},
               10, "the front holding the snapshot")
    return a, b, front, port, daemon


def test_rtmp_players_balanced_through_the_stream_module(run_dir, processes, redis_server,
                                                         fleet):
    """A player decodes the live video through the front; players fill rtmp-a's 1 place and
    rtmp-b's 3 and the next one is refused; a stopped publisher makes its slot nosource and
    it is no longer chosen; a killed server is dropped within two intervals."""
    a, b, front, port, daemon = fleet
    url = f"rtmp://127.0.0.1:{port}/live/demo"

    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                            "-show_entries", "stream=codec_name,width,height",
                            "-of", "csv=p=0", url],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0 and probe.stdout.strip() == "h264,160,120", probe
    # the probe's reservation lapses once a poll after the herd window shows it gone
    # and the front holds a credit of Redis's for every place (herd control: a front sends a
    # listener to a slot with a credit in hand, renewed by its fair-share claims)
    wait_until(lambda: front_herd(front) == {"rtmp-a": ("up", 1, 0, 1), "rtmp-b": ("up", 3, 0, 3)},
               15, "the probe gone, its reservation too, a credit for every place")

    players = []
    for i in range(4):
        p = player(run_dir, url, name=f"player-{i}")
        processes.append(p)
        p.start()
        players.append(p)
    wait_until(lambda: (a.clients("demo"), b.clients("demo")) == ((2, True), (4, True))
               or not all(p.running() for p in players), 30,
               "1 player on rtmp-a and 3 on rtmp-b (each with its publisher)")
    assert all(p.running() for p in players), "\n".join(p.log_text() for p in players)

    # the fleet is full: the next player's connection is closed at once
    extra = player(run_dir, url, name="player-extra")
    processes.append(extra)
    extra.start()
    wait_until(lambda: not extra.running(), 20, "the fifth player refused")
    assert (a.clients("demo"), b.clients("demo")) == ((2, True), (4, True))
    log = (run_dir / "front-stream.log").read_text().split("\n")
    assert "full - 503" in log, log

    # no publisher on rtmp-a: nosource, never chosen; rtmp-b gets the next ones
    a.publisher.stop()
    wait_until(lambda: slots(redis_server)["rtmp-a"].health == "nosource", 10, "rtmp-a nosource")
    # a place freed on rtmp-b: its players stopped (rtmp-a's left with its publisher)
    for p in players:
        p.stop()
    # (with herd control a front sends a listener to a slot with a credit of Redis's in
    # hand: the place freed is granted at the front's next fair-share claim)
    wait_until(lambda: front_herd(front)["rtmp-a"][0] == "nosource"
               and front_herd(front)["rtmp-b"][1] >= 1 and front_herd(front)["rtmp-b"][2] == 0
               and front_herd(front)["rtmp-b"][3] >= 1,
               15, "a place free on rtmp-b and a credit for it, as the front sees them")
    before = b.clients("demo")[0]
    again = player(run_dir, url, name="player-again")
    processes.append(again)
    again.start()
    wait_until(lambda: b.clients("demo")[0] == before + 1 or not again.running(), 20,
               "the new player on rtmp-b")
    assert again.running(), again.log_text()
    assert a.clients("demo")[1] is False

    # rtmp-b killed: down within two intervals (fail_after 2, refused at once)
    killed = time.monotonic()
    for pid in b.worker_pids() | {b.pid}:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: slots(redis_server)["rtmp-b"].health == "down", 10, "rtmp-b down")
    took = time.monotonic() - killed
    print(f"\nrtmp-b down in the snapshot {took:.2f} s after the kill "
          f"({took / INTERVAL:.1f} intervals)")
    assert took <= 2 * INTERVAL + 0.25 + 0.3, took
