#!/usr/bin/python3
"""Apache redirect benchmark: mod_tune's /tune/<stream> against Apache's own
`Redirect 302` (mod_alias).

Both live in the same Apache (event MPM, same children and threads, same
response headers, access log off), so the only difference is the module's
request path: name check, lookup in the shared segment, selection, herd
accounting.  wrk runs against each in turn, order alternating every round,
keep-alive and one connection per request, medians and the ratios
tune/ceiling, as bench/redirect.py does for nginx (whose snapshot, tuneslotd
stand-in and wrk helpers this reuses).

    bench/apache_redirect.py                          # 3 rounds of 10 s per mode
    bench/apache_redirect.py --duration 1 --rounds 1  # the short slice CI runs
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "t"))

from harness import Redis, RunDir  # noqa: E402
from harness.apache import Apache, tune_lines  # noqa: E402
from redirect import (TARGET, Poller, alternating_rounds, report, synthetic_snapshot,  # noqa: E402
                      wait_for_redirect, wrk, wrk_arguments)

CONF = """<Location "/tune/">
    SetHandler tune
    Require all granted
</Location>
Redirect 302 /ceiling/ {target}/
<Location "/ceiling/">
    Header always set Cache-Control no-store
    Require all granted
</Location>
"""


def main() -> int:
    ap = wrk_arguments(__doc__.splitlines()[0])
    ap.add_argument("--mpm", default="event", choices=("event", "worker", "prefork"))
    ap.add_argument("--build", default=os.environ.get("TUNESLOT_BUILD", str(REPO / "build")))
    args = ap.parse_args()
    os.environ["TUNESLOT_BUILD"] = args.build

    run_dir = RunDir("bench-apache-redirect")
    started = []
    poller = None
    try:
        redis = Redis(run_dir)
        started.append(redis.start())
        text = synthetic_snapshot(args.streams, args.backends)
        poller = Poller(redis, lambda: synthetic_snapshot(args.streams, args.backends))

        # a thread (event, worker) or a child (prefork) for each wrk connection, and spares
        apache = Apache(run_dir, mpm=args.mpm, tune=True, modules=("alias", "headers"),
                        workers=2 * args.connections,
                        conf=tune_lines(redis.address, refresh=None)
                        + CONF.format(target=TARGET.rsplit("/", 1)[0]))
        started.append(apache.start())

        tune_loc = wait_for_redirect(apache)
        ceil = apache.get("/ceiling/demo")
        if (ceil.status, ceil.header("cache-control")) != (302, "no-store"):
            raise SystemExit(f"bench: the ceiling answers {ceil}")
        print(f"tune-in answers 302 -> {tune_loc}; ceiling answers 302 -> {ceil.header('location')}")
        print(f"snapshot: {args.streams} streams x {args.backends} backends, {len(text)} bytes; "
              f"Apache {args.mpm} MPM; wrk -t2 -c{args.connections} -d{args.duration}s, "
              f"{args.rounds} round(s), order alternating")

        # warm-up, not measured: children and threads started, herd credits sized to the load
        for path in ("/tune/demo", "/ceiling/demo"):
            wrk(apache.url(path), 1, args.connections, False)

        problems = []
        results = alternating_rounds({"ceiling": apache.url("/ceiling/demo"),
                                      "tune": apache.url("/tune/demo")},
                                     args.rounds, args.duration, args.connections, problems)
        return report(results, problems, started)
    finally:
        if poller is not None:
            poller.stop()
        for p in reversed(started):
            p.stop()
        run_dir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
