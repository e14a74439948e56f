"""tuneslotd's nginx-rtmp format against a real nginx with Debian's
nginx-rtmp-module (libnginx-mod-rtmp), a real ffmpeg publisher and real
ffmpeg players: the /stat page's players become the slot's listeners, its
publisher does not, and a stream whose publisher left is nosource."""

import re

from harness import decode_snapshot, wait_until
from harness.rtmp import RtmpNginx, player, publisher, stream_clients

MAX_LISTENERS = 10


def read_slot(redis, stream="demo", backend="rtmp-a"):
    _, text = redis.snapshot()
    if text is None:
        return None
    return decode_snapshot(text).slot(stream, backend)


def test_players_are_listeners_the_publisher_is_not_and_no_publisher_is_nosource(
        run_dir, processes, redis_server, make_tuneslotd):
    """Two players of a live RTMP stream are its slot's 2 listeners, its publisher is not counted,
    and the slot turns nosource once the publisher stops."""
    nginx = RtmpNginx(run_dir)
    processes.append(nginx)
    nginx.start()

    pub = publisher(run_dir, nginx.stream_url("/live/demo"))
    processes.append(pub)
    pub.start()
    wait_until(lambda: stream_clients(nginx.stat(), "demo") == (1, True) or not pub.running(), 20,
               "the publisher on /live/demo in nginx's /stat")
    assert pub.running(), f"ffmpeg publisher exited:\n{pub.log_text()}"

    players = [player(run_dir, nginx.stream_url("/live/demo")) for _ in range(2)]
    for p in players:
        processes.append(p)
        p.start()
    wait_until(lambda: stream_clients(nginx.stat(), "demo") == (3, True)
               or not all(p.running() for p in players), 20, "two players on /live/demo")
    assert all(p.running() for p in players), "\n".join(p.log_text() for p in players)

    daemon = make_tuneslotd({
        "redis": redis_server.address, "interval": "300ms", "timeout": "250ms",
        "backend": [{"name": "rtmp-a", "format": "nginx-rtmp", "status": f"http://127.0.0.1:{nginx.port}/stat",
                     "public": f"rtmp://127.0.0.1:{nginx.rtmp_port}", "max_listeners": MAX_LISTENERS}],
        "stream": [{"name": "demo", "mount": "/live/demo"}]})
    daemon.start()

    def counted():
        s = read_slot(redis_server)
        return s is not None and (s.health, s.listeners) == ("up", 2)
    wait_until(counted, 15, "slot demo@rtmp-a up with 2 listeners")
    s = read_slot(redis_server)
    assert (s.capacity, s.free) == (MAX_LISTENERS, MAX_LISTENERS - 2)
    assert s.url == nginx.stream_url("/live/demo")
    # nginx-rtmp itself counts 3 clients on the stream: the publisher too
    assert stream_clients(nginx.stat(), "demo") == (3, True)

    pub.stop()
    wait_until(lambda: (read_slot(redis_server) or s).health == "nosource", 15,
               "slot demo@rtmp-a nosource after the publisher stopped")
    snap = decode_snapshot(redis_server.snapshot()[1])
    assert snap.backends["rtmp-a"].health == "up"

    # the one warning expected: the source went away
    bad = [line for line in daemon.log_text().splitlines() if re.search(r"\[(error|warn)\]", line)
           and "stream demo on rtmp-a: no source on mount /live/demo" not in line]
    assert not bad, "unexpected tuneslotd log lines:\n" + "\n".join(bad)
