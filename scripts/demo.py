#!/usr/bin/python3
"""The tuneslot demo stack on loopback.

Starts Redis, two Icecast 2.4 servers of different capacities (each fed a
live sine tone by ffmpeg, a different pitch per server so you can hear where
you landed), tuneslotd, nginx with ngx_http_tune_module and Apache (event
MPM) with mod_tune, both redirecting and proxying; prints the tune-in URLs
and what each backend offers; stops everything on Ctrl-C (or SIGTERM).
Started by scripts/demo.sh, which installs and builds first.
"""

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "t"))

from harness import Icecast, Redis, RunDir, Source, Tuneslotd, decode_snapshot, free_port  # noqa: E402
from harness.apache import Apache, tune_lines  # noqa: E402
from harness.nginx import Nginx  # noqa: E402

# mod_tune: a redirecting and a proxying location, and the status page
APACHE_LOCATIONS = """<Location "/tune/">
    SetHandler tune
    Require all granted
</Location>
<Location "/listen/">
    SetHandler tune
    TuneMode proxy
    Require all granted
</Location>
<Location "/tune-status">
    SetHandler tune-status
    Require ip 127.0.0.1
</Location>
<Location "/metrics">
    SetHandler tune-metrics
    Require ip 127.0.0.1
</Location>
"""

#: nginx's demo locations: tune-ins, and what it holds and counted
NGINX_LOCATIONS = """location /tune/ { tune; }
location = /tune-status { allow 127.0.0.1; deny all; tune_status; }
location = /metrics { allow 127.0.0.1; deny all; tune_metrics; }
location / { return 404; }
"""

BACKENDS = [
    # name, capacity of /demo, tone (Hz)
    ("ice-a", 20, 440),
    ("ice-b", 50, 660),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=str(REPO / "build"), help="the CMake build directory")
    p.add_argument("--port", type=int, default=0,
                   help="nginx's port on 127.0.0.1 (default: a free one)")
    p.add_argument("--interval", default="1s", help="tuneslotd's poll interval")
    p.add_argument("--keep", action="store_true", help="keep the run directory (logs, configs)")
    return p.parse_args()


def describe(redis) -> str:
    _, text = redis.snapshot()
    if text is None:
        return "  (no round written yet)"
    snap = decode_snapshot(text)
    rows = []
    for name, capacity, tone in BACKENDS:
        s = snap.slot("demo", name)
        rows.append(f"  {name}: {s.health}, {s.listeners} listeners of {s.capacity}, "
                    f"{s.free} free  ({tone} Hz tone)  {s.url}")
    return "\n".join(rows)


def main() -> int:
    args = parse_args()
    os.environ["TUNESLOT_BUILD"] = args.build
    if args.keep:
        os.environ["TUNESLOT_KEEP"] = "1"

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    run_dir = RunDir("demo")
    started = []
    try:
        redis = Redis(run_dir)
        started.append(redis.start())

        backends = []
        for name, capacity, tone in BACKENDS:
            ice = Icecast(run_dir, name=name, max_listeners={"/demo": capacity})
            started.append(ice.start())
            started.append(Source(run_dir, ice, "/demo", tone).start())
            # the server's listener limit as a whole, for the answer to where a
            # new station fits (/place)
            backends.append({"name": name, "format": "load-xsl", "status": ice.url("/load.xsl"),
                             "public": ice.base_url, "max_clients": capacity})

        # its HTTP listener: the status page, /metrics and /place
        listener = f"127.0.0.1:{free_port()}"
        tuneslotd = Tuneslotd(run_dir, {
            "redis": redis.address, "interval": args.interval, "metrics": listener,
            "backend": backends, "stream": [{"name": "demo", "mount": "/demo"}],
        })
        started.append(tuneslotd.start())
        redis.wait_for_generation(1)

        # the recommended setup: listeners only ever go to these backends,
        # whatever Redis holds (tune_allow, TuneAllow)
        allow = " ".join(f"{b['public'].rstrip('/')}/" for b in backends)

        nginx = Nginx(run_dir, redis.address, http_conf=f"tune_allow {allow};\n",
                      locations=NGINX_LOCATIONS)
        if args.port:
            nginx.port = args.port
        started.append(nginx.start())

        apache = Apache(run_dir, mpm="event", tune=True,
                        modules=("authz_host", "proxy", "proxy_http"),
                        conf=tune_lines(redis.address, refresh=None)
                        + f"TuneAllow {allow}\n" + APACHE_LOCATIONS)
        started.append(apache.start())

        url = nginx.url("/tune/demo")
        print(f"""
tuneslot demo is running (logs and configs in {run_dir}).

  tune in:   {url}
  play it:   ffplay -nodisp {url}      (or: mpv {url}, ffmpeg -i {url} out.mp3)
  see it:    curl -sI {url}

  the same through Apache with mod_tune:
             {apache.url("/tune/demo")}            (302, like nginx)
             {apache.url("/listen/demo")}          (proxied by Apache)
             {apache.url("/tune-status")}          (JSON)

  watch it:  http://{listener}/          (tuneslotd's status page, in a browser)
             {nginx.url("/metrics")}      (what nginx decided, for Prometheus;
             {apache.url("/metrics")}      Apache's the same)
  place it:  curl 'http://{listener}/place?listeners=50&format=text'
             (where a new station of 50 listeners fits best)

What tuneslotd last wrote to Redis (refreshed every 10 s; the higher pitch
is the server with more free slots, where new listeners go):
{describe(redis)}

Ctrl-C stops everything.""", flush=True)

        while not stop.wait(10):
            dead = [p.name for p in started if not p.running()]
            if dead:
                print(f"stopped unexpectedly: {', '.join(dead)}; see the logs in {run_dir}",
                      file=sys.stderr)
                return 1
            print(describe(redis), flush=True)
        return 0
    finally:
        for p in reversed(started):
            p.stop()
        run_dir.cleanup()
        print("tuneslot demo stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
