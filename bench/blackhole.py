#!/usr/bin/python3
"""Blackhole benchmark: tune-ins while Redis is silent, against Redis healthy.

Two nginx instances with the module run side by side (same snapshot, same
workers, `location /tune/ { tune; }`, access log off).  One reads Redis
directly; the other reads it through a loopback relay (t/harness/relay.py)
that, once the snapshot is loaded, turns into a black hole: connections
stay open and nothing comes back, new ones are accepted and never answered.
The module must keep answering from its last snapshot (within tune_stale,
set to 10m when the build has it) without its request path waiting on
Redis.  wrk runs against each in turn, alternating the order every round;
reports medians and the ratios blackholed/healthy.

    bench/blackhole.py                         # 3 rounds x 10 s per mode
    bench/blackhole.py --duration 1 --rounds 1 # the slice CI runs

Target: blackholed p99 within 1.2x of healthy.
"""

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "t"))
sys.path.insert(0, str(REPO / "bench"))

from harness import Redis, RunDir  # noqa: E402
from harness.nginx import Nginx  # noqa: E402
from harness.relay import Relay  # noqa: E402
from redirect import Poller, alternating_rounds, print_ratios, synthetic_snapshot, wrk_arguments  # noqa: E402

STALE = "tune_stale 10m;\n"


def make_nginx(run_dir: RunDir, name: str, redis_address: str, workers: int, stale: bool) -> Nginx:
    return Nginx(run_dir, redis_address, name=name, workers=workers,
                 http_conf="access_log off;\n" + (STALE if stale else ""),
                 locations="location /tune/ { tune; }\nlocation / { return 404; }\n")


def wait_302(nginx: Nginx, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        r = nginx.get("/tune/demo")
        if r.status == 302:
            return r.header("location")
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {nginx.name} answers {r.status}, not 302; see {nginx.error_log}")
        time.sleep(0.05)


def main() -> int:
    ap = wrk_arguments(__doc__.splitlines()[0])
    ap.add_argument("--silent-for", type=float, default=3.0,
                    help="seconds Redis is silent before the first wrk run")
    ap.add_argument("--build", default=os.environ.get("TUNESLOT_BUILD", str(REPO / "build")))
    args = ap.parse_args()
    os.environ["TUNESLOT_BUILD"] = args.build
    if not 1 <= args.rounds <= 20 or not 1 <= args.duration <= 600:
        ap.error("--rounds 1..20, --duration 1..600 s")

    run_dir = RunDir("bench-blackhole")
    started = []
    poller = None
    relay = None
    try:
        redis = Redis(run_dir)
        started.append(redis.start())
        poller = Poller(redis, lambda: synthetic_snapshot(args.streams, args.backends))
        relay = Relay(redis.host, redis.port)

        probe = make_nginx(run_dir, "nginx-probe", redis.address, 1, True)
        stale = probe.test_config().returncode == 0
        healthy = make_nginx(run_dir, "nginx-healthy", redis.address, args.workers, stale)
        silent = make_nginx(run_dir, "nginx-blackholed", relay.address, args.workers, stale)
        started += [healthy.start(), silent.start()]
        loc_h, loc_s = wait_302(healthy), wait_302(silent)
        relay.blackhole()
        time.sleep(args.silent_for)
        loc_s2 = wait_302(silent, timeout=2)
        print(f"healthy answers 302 -> {loc_h}; blackholed answered 302 -> {loc_s}, "
              f"and after {args.silent_for:g} s of silence 302 -> {loc_s2}")
        print(f"tune_stale: {'10m' if stale else 'not in this build (module default)'}; "
              f"snapshot {args.streams} streams x {args.backends} backends; nginx {args.workers} "
              f"workers each; wrk -t2 -c{args.connections} -d{args.duration}s, {args.rounds} "
              "round(s), order alternating")

        problems = []
        results = alternating_rounds({"healthy": healthy.url("/tune/demo"),
                                      "blackholed": silent.url("/tune/demo")},
                                     args.rounds, args.duration, args.connections, problems)
        held = len(relay.held)

        print()
        print_ratios(results)
        print()
        print(f"Redis black hole: {held} connection(s) held silent; "
              f"the blackholed nginx logged {silent.error_log_text().count('[warn]')} warn and "
              f"{silent.error_log_text().count('[error]')} error line(s)")
        if held == 0:
            problems.append("the blackholed nginx never had a connection to the black hole")
        for p in started:
            problems.extend(p.problems())
        for p in problems:
            print("problem:", p)
        return 1 if problems else 0
    finally:
        if poller is not None:
            poller.stop()
        for p in reversed(started):
            p.stop()
        if relay is not None:
            relay.stop()
        run_dir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
