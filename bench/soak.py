#!/usr/bin/python3
"""Soak: memory of nginx, Apache and tuneslotd under listener churn and a
steady stream of redirects, for minutes; is anything growing?

One stack, all real: Redis; two Icecast servers each fed a live 128 kbit/s
MP3 by ffmpeg; tuneslotd polling them every second (one through load.xsl,
one through /admin/stats); nginx with the module and Apache (event MPM) with
mod_tune, each answering /tune/demo with a 302 and proxying /listen/demo.

For --minutes:
- listeners with churn through proxy mode (t/harness/listeners.ChurnSwarm):
  --listeners slots in all, half through nginx, half through Apache; each
  slot connects, listens for a time drawn from --listen, leaves and connects
  again, so about --listeners are connected all along;
- a steady stream of redirects (t/harness/tuneins.TuneInStream):
  --redirect-rate tune-ins a second in all, half to each front end, each
  answer checked to be a 302 to one of the two Icecast mounts;
- every --sample seconds the RSS (and Pss_Anon + Pss_Shmem) of nginx
  (master, workers), Apache (parent, children) and tuneslotd, written to a
  CSV.

Then, per component, the trend of its process tree's RSS after the warm-up
(t/harness/trend.py): least-squares slope in KiB/min and %/min, and the
median drift from the first to the last quarter.  "flat" means the slope is
below LEAK_BYTES_PER_EVENT bytes per event of that component (tune-ins
answered for a front end, status polls for tuneslotd): a leak of 1 KiB per
tune-in shows at twice the threshold.  Zero errors means every redirect
answered a 302 to a backend, and every listener session got a 200, audio,
and ended when its time was up.  The exit status is 0 only when both hold,
no daemon's log shows trouble, and Icecast holds no listener after the end.

    bench/soak.py                                    # 10 min, 1,000 listeners, 200 redirects/s
    bench/soak.py --minutes 2 --listeners 300 --redirect-rate 100 --listen 5,20   # what CI runs
    bench/soak.py --minutes 0.5 --listeners 100 --csv /tmp/soak.csv               # a quick try
"""

import argparse
import csv
import json
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "t"))

from harness import Icecast, Redis, RunDir, Source, Tuneslotd  # noqa: E402
from harness.apache import TUNE_LOCATION, Apache, mpm_lines, tune_lines  # noqa: E402
from harness.listeners import ChurnSwarm, Swarm, raise_nofile  # noqa: E402
from harness.nginx import Nginx, proxy_location  # noqa: E402
from harness.proctree import pids_memory, tree_pids  # noqa: E402
from harness.trend import trend  # noqa: E402
from harness.tuneins import TuneInStream  # noqa: E402
from redirect import wait_for_redirect  # noqa: E402

MOUNT = "/demo"
STREAM_BYTES_PER_S = 128000 // 8
POLL_INTERVAL_S = 1.0
HERD_WINDOW_S = 2.0         # the modules' default herd window
APACHE_PROXY_RESERVE = 5    # mod_tune's default TuneProxyReserve
#: the trend each component may show, per event, before it counts as growing:
#: half of what a leak of 1 KiB per tune-in (or per poll) would add
LEAK_BYTES_PER_EVENT = 512

#: the module's recommended proxy location (ngx_module/README.md) and its
#: redirect location
NGINX_LOCATIONS = ("location /tune/ { tune; }\n" + proxy_location("/listen/")
                   + "location / { return 404; }\n")
APACHE_LOCATIONS = TUNE_LOCATION + """<Location "/listen/">
    SetHandler tune
    TuneMode proxy
    Require all granted
</Location>
"""


def kinds(root: int) -> dict[str, list[int]]:
    """The processes of a tree by kind: the root and its descendants."""
    pids = tree_pids(root)
    return {"parent": pids[:1], "children": pids[1:]}


def warm_up(front, count: int) -> None:
    """count listeners at once through front's proxy mode, until each
    received audio; then gone."""
    with Swarm(front.url("/listen" + MOUNT), count, rate=2 * STREAM_BYTES_PER_S,
               head_timeout=60, max_seconds=180) as swarm:
        swarm.wait_connected(timeout=90)
        got = swarm.wait_receiving(timeout=30, within=2.0)
    if got < count:
        raise SystemExit(f"bench: warm-up of {front.name}: {got} of {count} listeners "
                         f"received audio ({swarm.summary()['errors']})")


def error_lines(server) -> list[str]:
    """The front end's error-level log lines (not failures of the run by
    themselves: printed for the reader)."""
    return server.log_lines("error", "crit")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the soak")
    ap.add_argument("--listeners", type=int, default=1000,
                    help="listener slots in all, half through each front end")
    ap.add_argument("--listen", default="10,60",
                    help="LOW,HIGH: seconds a session listens, drawn uniformly")
    ap.add_argument("--redirect-rate", type=float, default=200.0,
                    help="tune-ins a second in all, half to each front end")
    ap.add_argument("--sample", type=float, default=5.0, help="seconds between memory samples")
    ap.add_argument("--warmup", type=float, default=0.25,
                    help="fraction of the samples left out of the trend")
    ap.add_argument("--ramp", type=float, default=10.0, help="seconds over which the slots start")
    ap.add_argument("--workers", type=int, default=2, help="nginx worker processes")
    ap.add_argument("--csv", help="write the samples there (default: soak-samples.csv in the "
                    "current directory)", default="soak-samples.csv")
    ap.add_argument("--json", action="store_true", help="print the results as JSON only")
    ap.add_argument("--seed", type=int, default=1, help="of the listening times")
    ap.add_argument("--build", default=os.environ.get("TUNESLOT_BUILD", str(REPO / "build")))
    args = ap.parse_args()
    os.environ["TUNESLOT_BUILD"] = args.build
    try:
        low, high = (float(x) for x in args.listen.split(","))
    except ValueError:
        ap.error("--listen LOW,HIGH in seconds")
    if not 0 < args.minutes <= 120 or not 2 <= args.listeners <= 10000 or not 0 < low <= high:
        ap.error("--minutes up to 120, --listeners 2..10000, --listen 0 < LOW <= HIGH")
    if not 0 < args.redirect_rate <= 5000 or not 0.5 <= args.sample <= 60:
        ap.error("--redirect-rate up to 5000, --sample 0.5..60 s")
    seconds = args.minutes * 60
    if seconds / args.sample * (1 - args.warmup) < 8:
        ap.error("too few samples after the warm-up: a longer soak or a shorter --sample")

    def say(*a):
        print(*a, file=sys.stderr if args.json else sys.stdout, flush=True)

    per_front = {"nginx": args.listeners // 2, "apache": args.listeners - args.listeners // 2}
    rate_per_front = args.redirect_rate / 2
    # every thread Apache will need started at once: children forked
    # later, on demand, would be a step in its memory, not a trend
    apache_workers = per_front["apache"] + int(rate_per_front) + 64
    apache_mpm = mpm_lines("event", apache_workers, start=apache_workers)
    threads = int(re.search(r"MaxRequestWorkers (\d+)", apache_mpm).group(1))
    # mod_tune's default TuneProxyReserve keeps 5 workers from proxied
    # listeners (a 302 instead): the Apache burst leaves those free too
    bursts = {"nginx": per_front["nginx"] + 64, "apache": threads - 4 - APACHE_PROXY_RESERVE}
    # a mount could take every listener or the larger warm-up burst, twice (a
    # front end's fair share of herd credits may be half of what is free),
    # plus the redirected tune-ins reserved for a herd window and a poll
    # (they never connect); clients: every connection Icecast holds, status
    # polls included
    mount_limit = 2 * max(args.listeners, *bursts.values()) + int(10 * args.redirect_rate) + 100
    raise_nofile(4 * args.listeners + 4096)

    run_dir = RunDir("bench-soak")
    daemons = []
    swarms: dict[str, ChurnSwarm] = {}
    stream = None
    try:
        redis = Redis(run_dir)
        daemons.append(redis.start())
        ices = []
        for name, tone in (("ice-a", 440), ("ice-b", 880)):
            ice = Icecast(run_dir, name=name, max_listeners={MOUNT: mount_limit},
                          clients=mount_limit + 100)
            daemons.append(ice.start())
            daemons.append(Source(run_dir, ice, MOUNT, tone, name=f"source-{name}").start())
            ices.append(ice)
        ice_a, ice_b = ices
        tuneslotd = Tuneslotd(run_dir, {
            "redis": redis.address,
            "interval": f"{int(POLL_INTERVAL_S * 1000)}ms",
            "backend": [
                {"name": "ice-a", "format": "load-xsl", "status": ice_a.url("/load.xsl"),
                 "public": ice_a.base_url},
                {"name": "ice-b", "format": "icecast-admin", "status": ice_b.url("/admin/stats"),
                 "public": ice_b.base_url, "username": ice_b.admin_user,
                 "password": ice_b.admin_password},
            ],
            "stream": [{"name": "demo", "mount": MOUNT}],
        })
        daemons.append(tuneslotd.start())
        redis.wait_for_generation(1)
        backends = {ice.url(MOUNT) for ice in ices}

        nginx = Nginx(run_dir, redis.address, workers=args.workers,
                      worker_connections=2 * per_front["nginx"] + int(rate_per_front) + 512,
                      http_conf="access_log off;\n", locations=NGINX_LOCATIONS)
        apache = Apache(run_dir, mpm="event", modules=("proxy", "proxy_http"), tune=True,
                        workers=apache_workers, mpm_conf=apache_mpm,
                        conf=tune_lines(redis.address, refresh=None) + APACHE_LOCATIONS)
        fronts = {"nginx": nginx, "apache": apache}
        for f in fronts.values():
            daemons.append(f.start())
            if wait_for_redirect(f) not in backends:
                raise SystemExit(f"bench: {f.name} redirects outside the two mounts")
        say(f"soak: {args.minutes:g} min; {args.listeners} listeners with churn through proxy mode "
            f"({per_front['nginx']} nginx, {per_front['apache']} Apache event), sessions of "
            f"{low:g}-{high:g} s; {args.redirect_rate:g} redirects/s ({rate_per_front:g} to each); "
            f"2 Icecast (mount limit {mount_limit}), tuneslotd polling every {POLL_INTERVAL_S:g} s; "
            f"a sample every {args.sample:g} s")

        # memory that follows the highest number of requests served at once
        # is bounded by the threads and connections configured, not a leak;
        # reach that bound before sampling (bench/README.md)
        # (a burst's herd reservations count until a poll W after them; and
        # the front end that claimed first holds the whole fair share of herd
        # credits until its renewal: each burst and the load start once
        # those have passed)
        for name, f in fronts.items():
            time.sleep(2 * HERD_WINDOW_S + POLL_INTERVAL_S)
            warm_up(f, bursts[name])
        say(f"warm-up: {bursts['nginx']} listeners at once through nginx, {bursts['apache']} "
            f"(all its threads but 4 and TuneProxyReserve's {APACHE_PROXY_RESERVE}) through Apache")
        for ice in ices:
            ice.wait_for_listeners(MOUNT, 0, timeout=30)
        time.sleep(2 * HERD_WINDOW_S + POLL_INTERVAL_S)
        start = time.monotonic()
        ramp = min(args.ramp, seconds / 4)
        for name, f in fronts.items():
            # new sessions until the last sample, so the number listening holds to the end
            swarms[name] = ChurnSwarm(f.url("/listen" + MOUNT), per_front[name],
                                      duration=seconds - ramp, listen=(low, high), ramp=ramp,
                                      rate=2 * STREAM_BYTES_PER_S, head_timeout=30,
                                      seed=args.seed + len(swarms)).start()
        stream = TuneInStream({name: f.url("/tune" + MOUNT) for name, f in fronts.items()},
                              rate=rate_per_front, duration=seconds,
                              expect=lambda loc: loc in backends).start()

        roots = {"nginx": nginx.pid, "httpd": apache.pid, "tuneslotd": tuneslotd.pid}
        rows = []
        series: dict[str, list[tuple[float, float]]] = {c: [] for c in roots}
        by_kind: dict[tuple[str, str], list[tuple[float, float]]] = {}
        next_report = 30.0
        n_samples = int(seconds / args.sample)
        for i in range(1, n_samples + 1):
            time.sleep(max(0.0, start + i * args.sample - time.monotonic()))
            t = time.monotonic() - start
            for comp, root in roots.items():
                parts = kinds(root)
                tree = pids_memory(parts["parent"] + parts["children"])
                series[comp].append((t, tree.rss_kib))
                row = {"t_s": round(t, 1), "component": comp, "processes": tree.processes,
                       "rss_kib": tree.rss_kib, "pss_kib": tree.kib}
                for kind, pids in parts.items():
                    m = pids_memory(pids)
                    row[f"{kind}_rss_kib"] = m.rss_kib
                    row[f"{kind}_processes"] = m.processes
                    if m.processes:
                        by_kind.setdefault((comp, kind), []).append((t, m.rss_kib))
                rows.append(row)
            for name, s in swarms.items():
                rows.append({"t_s": round(t, 1), "component": f"{name}-listeners",
                             "processes": 0, "rss_kib": 0, "pss_kib": 0,
                             "active": s.active, "sessions": s.sessions})
            if t >= next_report:
                next_report += 30.0
                say(f"{t:5.0f} s: " + "; ".join(f"{c} {series[c][-1][1] / 1024:,.1f} MiB"
                                                for c in roots)
                    + "; listening " + ", ".join(f"{n} {s.active}" for n, s in swarms.items())
                    + f"; sessions {sum(s.sessions for s in swarms.values())}, "
                    f"redirects {stream.good()}, errors "
                    f"{sum(s.error_count() for s in swarms.values()) + stream.error_count()}")
        elapsed_min = (time.monotonic() - start) / 60

        stream.close()
        say("soak: sampling done; the sessions under way finish their time")
        for s in swarms.values():
            s.wait_drained(timeout=high + 60)
            s.close()
        drained = True
        for ice in ices:
            try:
                ice.wait_for_listeners(MOUNT, 0, timeout=30)
            except TimeoutError as e:
                drained = False
                say(f"problem: {e}")

        # events per minute: tune-ins a front end answered (redirects and
        # proxied sessions), status polls for tuneslotd
        redirects = stream.summary()["targets"]
        events = {
            "nginx": (redirects["nginx"]["sent"] + swarms["nginx"].sessions) / elapsed_min,
            "httpd": (redirects["apache"]["sent"] + swarms["apache"].sessions) / elapsed_min,
            "tuneslotd": len(ices) * 60 / POLL_INTERVAL_S,
        }
        trends = {c: trend(series[c], LEAK_BYTES_PER_EVENT * events[c] / 1024, args.warmup)
                  for c in roots}

        with open(args.csv, "w", newline="") as fh:
            fields = ["t_s", "component", "processes", "rss_kib", "pss_kib",
                      "parent_rss_kib", "parent_processes", "children_rss_kib",
                      "children_processes", "active", "sessions"]
            w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

        problems = []
        listeners = {name: s.summary() for name, s in swarms.items()}
        for name, s in listeners.items():
            if s["errors"]:
                problems.append(f"{name} listeners: {s['errors']} (e.g. {s['error_examples'][:3]})")
            if s["sessions"] == 0:
                problems.append(f"{name} listeners: no session ended well")
        for name, r in redirects.items():
            if r["errors"]:
                problems.append(f"{name} redirects: {r['errors']} (e.g. {r['error_examples'][:3]})")
            if r["good"] == 0:
                problems.append(f"{name} redirects: none answered")
        if not drained:
            problems.append("Icecast still held listeners after the end")
        logged_errors = {name: error_lines(f) for name, f in fronts.items()}
        for f in fronts.values():
            f.stop()
        for p in daemons:
            problems.extend(p.problems())
        growing = [c for c, tr in trends.items() if tr.growing]

        result = {
            "minutes": round(elapsed_min, 2), "listeners": per_front, "listen_s": [low, high],
            "redirect_rate": args.redirect_rate, "sample_s": args.sample, "warmup": args.warmup,
            "listener_results": listeners, "redirect_results": redirects,
            "slipped_redirects": stream.slipped,
            "events_per_min": {c: round(v, 1) for c, v in events.items()},
            "trends": {c: {"growing": tr.growing, "slope_kib_min": round(tr.slope_kib_min, 1),
                           "slope_se_kib_min": round(tr.slope_se_kib_min, 1),
                           "slope_pct_min": round(tr.slope_pct_min, 4),
                           "mean_kib": round(tr.mean_kib), "drift_kib": round(tr.drift_kib),
                           "threshold_kib_min": round(tr.threshold_kib_min, 1),
                           "samples": tr.samples}
                       for c, tr in trends.items()},
            "logged_errors": {n: len(v) for n, v in logged_errors.items()},
            "csv": str(Path(args.csv).resolve()),
            "problems": problems,
            "verdict": "flat" if not growing else "growing: " + ", ".join(growing),
        }
        say()
        for name, s in listeners.items():
            r = redirects[name]
            say(f"{name}: {s['sessions']} listener sessions ended well, "
                f"{s['bytes'] / 2**20:,.1f} MiB received, errors {s['errors'] or 0}; "
                f"{r['good']}/{r['sent']} redirects 302 to a backend, errors {r['errors'] or 0}; "
                f"{len(logged_errors[name])} error-level log lines")
        if stream.slipped:
            say(f"redirects the client could not send on time (busy machine): {stream.slipped}")
        for c, tr in trends.items():
            say(tr.line(c) + f" ({events[c]:,.0f} events/min)")
            for (comp, kind), kind_series in by_kind.items():
                if comp == c and len(kind_series) == len(series[c]):
                    k = trend(kind_series, tr.threshold_kib_min, args.warmup)
                    say(f"    {kind}: slope {k.slope_kib_min:+,.1f} KiB/min of "
                        f"{k.mean_kib / 1024:,.1f} MiB, drift {k.drift_kib:+,.0f} KiB")
        for name, lines in logged_errors.items():
            for line in lines[:5]:
                say(f"{name} logged: {line}")
        for p in problems:
            say("problem:", p)
        say(f"verdict: memory {result['verdict']}; "
            f"{'zero errors' if not problems else f'{len(problems)} problem(s)'}; "
            f"samples in {result['csv']}")
        if args.json:
            print(json.dumps(result, indent=1))
        return 1 if problems or growing else 0
    finally:
        if stream is not None:
            stream.close()
        for s in swarms.values():
            s.close()
        for p in reversed(daemons):
            p.stop()
        run_dir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
