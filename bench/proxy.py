#!/usr/bin/python3
"""Proxy benchmark: memory and CPU per listener of proxying a live stream.

One Icecast with a 128 kbit/s MP3 source (ffmpeg) and N listeners (one
asyncio process, each reading at most twice the stream rate) through each
of these front ends in turn, all under /listen/demo:

  a  nginx, plain `proxy_pass` with `proxy_buffering off` (the baseline)
  b  nginx with the tune module in proxy mode (`tune_mode proxy;`,
     `proxy_pass $tune_url;`), the snapshot in Redis naming the Icecast
     mount; skipped with a message while the module build rejects it
  c  Apache 2.4 prefork + mod_proxy_http (`ProxyPass`)
  d  Apache 2.4 event + mod_proxy_http
  e  Apache 2.4 event + mod_tune in proxy mode (`SetHandler tune`,
     `TuneMode proxy`), the same snapshot as b
  f  Apache 2.4 prefork + mod_tune in proxy mode (not run by default: prefork
     forks at most 32 children a second)

Each front end is started fresh for its turn (a prefork parent keeps the
children a load made it fork, which would hide them in the next idle
figure) and stopped after it; the order alternates from round to round.
Memory per listener is the change of Pss_Anon + Pss_Shmem summed over the
front end's process tree between idle and N listeners receiving, divided by
the listeners connected; CPU is the tree's user + system time over the
window, in % of one core.  Figures are medians over the rounds.

    bench/proxy.py                                   # 1,000 listeners, a b c d e
    bench/proxy.py --listeners 200 --window 5 --only a,c --rounds 3
    bench/proxy.py --listeners 50 --window 2 --json  # the slice CI runs
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "t"))

from harness import Icecast, Redis, RunDir, Source  # noqa: E402
from harness.apache import APACHE, Apache, module_path as apache_module_path, tune_lines  # noqa: E402
from harness.listeners import Swarm, raise_nofile  # noqa: E402
from harness.nginx import Nginx, module_path  # noqa: E402
from harness.proctree import tree_cpu_seconds, tree_memory  # noqa: E402
from redirect import Poller  # noqa: E402

MOUNT = "/demo"
PATH = "/listen/demo"
STREAM_BYTES_PER_S = 128000 // 8

VARIANTS = {
    "a": "nginx proxy_pass (baseline)",
    "b": "nginx + tune proxy mode",
    "c": "Apache prefork + mod_proxy_http",
    "d": "Apache event + mod_proxy_http",
    "e": "Apache event + mod_tune proxy mode",
    "f": "Apache prefork + mod_tune proxy mode",
}
#: the variants that read the snapshot from Redis
TUNED = ("b", "e", "f")
HERD_WINDOW_S = 2.0         # the modules' default herd window
POLL_S = 1.0                # the Poller's interval
#: mod_tune's proxy-mode location (apache_module/README.md)
TUNE_PROXY = """<Location "/listen/">
    SetHandler tune
    TuneMode proxy
    Require all granted
</Location>
"""


class Skip(Exception):
    """A variant that cannot run here, and why."""


def one_slot_snapshot(url: str, capacity: int) -> str:
    now = int(time.time() * 1000)
    return "\n".join([
        "tuneslot-snapshot\t1", f"written_ms\t{now}", "interval_ms\t1000",
        f"backend\tice-0\tup\t{now}",
        "\t".join(["slot", "demo", "ice-0", "up", "0", str(capacity), str(capacity), "100", "",
                   str(now), url]),
        "end"]) + "\n"


def nginx_location(variant: str, ice: Icecast) -> str:
    if variant == "a":
        upstream = f"proxy_pass http://{ice.host}:{ice.port}/;\n"
    else:
        upstream = "tune;\ntune_mode proxy;\nproxy_pass $tune_url;\n"
    return ("location /listen/ {\n" + upstream
            + "proxy_buffering off;\nproxy_read_timeout 1h;\n}\n"
            + "location / { return 404; }\n")


def make_server(variant: str, run_dir: RunDir, ice: Icecast, redis: Redis | None, args):
    """The front end of variant, configured (not started)."""
    if variant in ("a", "b"):
        if variant == "b" and not module_path().exists():
            raise Skip(f"{module_path()} is not built")
        n = Nginx(run_dir, redis.address if variant == "b" else None, name=f"nginx-{variant}",
                  workers=args.workers, module=variant == "b",
                  worker_connections=2 * args.listeners + 256,
                  http_conf="access_log off;\n", locations=nginx_location(variant, ice))
        if variant == "b":
            t = n.test_config()
            if t.returncode != 0:
                first = next((line for line in t.stderr.splitlines() if "emerg" in line), t.stderr)
                raise Skip(f"this build rejects the proxy-mode config (nginx -t: {first.strip()})")
        return n
    if not Path(APACHE).exists():
        raise Skip(f"{APACHE} is not installed (scripts/install-deps.sh)")
    if variant in TUNED and not apache_module_path().exists():
        raise Skip(f"{apache_module_path()} is not built")
    conf = (tune_lines(redis.address, refresh=None) + TUNE_PROXY if variant in TUNED
            else f"ProxyPass /listen/ http://{ice.host}:{ice.port}/\n")
    return Apache(run_dir, name=f"apache-{variant}", mpm="prefork" if variant in "cf" else "event",
                  modules=("proxy", "proxy_http"), workers=args.listeners + 50,
                  tune=variant in TUNED, conf=conf)


def icecast_listeners(ice: Icecast) -> int:
    m = ice.mounts().get(MOUNT)
    return int(m["listeners"]) if m else 0


def wait_icecast_drained(ice: Icecast, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while icecast_listeners(ice) > 0:
        if time.monotonic() >= deadline:
            raise SystemExit(f"bench: Icecast still has {icecast_listeners(ice)} listeners "
                             f"{timeout:.0f}s after the last front end closed")
        time.sleep(0.5)


def measure(variant: str, server, ice: Icecast, args) -> dict:
    """One turn: idle figures, N listeners, figures under load."""
    t0 = time.monotonic()
    server.start()
    start_s = time.monotonic() - t0
    time.sleep(1.0)
    idle = tree_memory(server.pid)
    swarm = Swarm(server.url(PATH), args.listeners, rate=2 * STREAM_BYTES_PER_S,
                  head_timeout=args.connect_timeout, max_seconds=args.connect_timeout + 300)
    swarm.start()
    try:
        swarm.wait_connected(timeout=args.connect_timeout)
        connect_s = time.monotonic() - swarm.started_at if swarm.started_at else None
        swarm.wait_receiving(timeout=30, within=2.0)
        time.sleep(args.settle)
        loaded = tree_memory(server.pid)
        upstream = icecast_listeners(ice)
        marks = swarm.marks()
        cpu0, w0 = tree_cpu_seconds(server.pid), time.monotonic()
        time.sleep(args.window)
        cpu1, w1 = tree_cpu_seconds(server.pid), time.monotonic()
        received = swarm.grown_since(marks)
    finally:
        swarm.close()
    summary = swarm.summary()
    connected = summary["connected"]
    return {
        "variant": variant,
        "server": VARIANTS[variant],
        "listeners": args.listeners,
        "connected": connected,
        "received_in_window": received,
        "failed": summary["failed"],
        "errors": summary["errors"],
        "icecast_listeners": upstream,
        "start_s": round(start_s, 2),
        "connect_s": round(connect_s, 1) if connect_s is not None else None,
        "processes_idle": idle.processes,
        "processes_loaded": loaded.processes,
        "idle_kib": idle.kib,
        "loaded_kib": loaded.kib,
        "kib_per_listener": round((loaded.kib - idle.kib) / connected, 1) if connected else None,
        "rss_kib_per_listener": (round((loaded.rss_kib - idle.rss_kib) / connected, 1)
                                 if connected else None),
        "cpu_pct": round(100.0 * (cpu1 - cpu0) / (w1 - w0), 1),
    }


def median_row(rows: list[dict]) -> dict:
    out = dict(rows[-1])
    for key in ("kib_per_listener", "rss_kib_per_listener", "cpu_pct", "connect_s"):
        values = [r[key] for r in rows if r[key] is not None]
        out[key] = round(statistics.median(values), 1) if values else None
    for key in ("connected", "received_in_window"):
        out[key] = min(r[key] for r in rows)
    out["rounds"] = len(rows)
    return out


def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listeners", type=int, default=1000)
    ap.add_argument("--window", type=float, default=10.0, help="seconds of CPU measurement")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds between all receiving and measuring")
    ap.add_argument("--only", default="a,b,c,d,e", help="variants, comma-separated (a to f)")
    ap.add_argument("--rounds", type=int, default=1, help="turns per variant, order alternating")
    ap.add_argument("--workers", type=int, default=2, help="nginx worker processes")
    ap.add_argument("--connect-timeout", type=float, default=180.0,
                    help="seconds for all listeners to get their head (prefork forks slowly)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON only")
    ap.add_argument("--build", default=os.environ.get("TUNESLOT_BUILD", str(REPO / "build")))
    args = ap.parse_args()
    os.environ["TUNESLOT_BUILD"] = args.build
    variants = [v.strip() for v in args.only.split(",") if v.strip()]
    if not variants or any(v not in VARIANTS for v in variants) or args.listeners < 1:
        ap.error(f"--only takes some of {','.join(VARIANTS)}; --listeners at least 1")
    if not 1 <= args.rounds <= 20 or not 0 < args.window <= 600:
        ap.error("--rounds 1..20, --window up to 600 s")
    # the swarm's sockets, and every daemon started from here inherits it
    raise_nofile(4 * args.listeners + 1024)

    def say(*a):
        print(*a, file=sys.stderr if args.json else sys.stdout, flush=True)

    run_dir = RunDir("bench-proxy")
    daemons = []
    poller = None
    try:
        ice = Icecast(run_dir, clients=args.listeners + 100)
        daemons.append(ice.start())
        daemons.append(Source(run_dir, ice, MOUNT).start())
        redis = None
        if set(variants) & set(TUNED):
            redis = Redis(run_dir)
            daemons.append(redis.start())
            # written again every second, as tuneslotd would: a snapshot never
            # renewed goes stale (tune_stale) during a run of several minutes
            poller = Poller(redis, lambda: one_slot_snapshot(ice.url(MOUNT), 10 * args.listeners),
                            interval=POLL_S)
        say(f"Icecast {ice.url(MOUNT)} fed 128 kbit/s MP3; {args.listeners} listeners per front end, "
            f"reading at most {2 * STREAM_BYTES_PER_S} B/s each; window {args.window:g} s; "
            f"{args.rounds} round(s), order alternating")

        results: dict[str, list[dict]] = {v: [] for v in variants}
        herd_clear_at = 0.0
        skipped: dict[str, str] = {}
        problems: list[str] = []
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else list(reversed(variants))
            for v in order:
                if v in skipped:
                    continue
                try:
                    server = make_server(v, run_dir, ice, redis, args)
                except Skip as e:
                    skipped[v] = str(e)
                    say(f"{v}: skipped: {e}")
                    continue
                wait_icecast_drained(ice)
                if v in TUNED:
                    # the herd reservations of the last front end on this Redis count until a
                    # poll W (2 s) after them: the next one would find no credits before that
                    time.sleep(max(0.0, herd_clear_at - time.monotonic()))
                say(f"{v}: {VARIANTS[v]} ...")
                try:
                    row = measure(v, server, ice, args)
                finally:
                    server.stop()
                    if v in TUNED:
                        herd_clear_at = time.monotonic() + HERD_WINDOW_S + POLL_S + 0.5
                results[v].append(row)
                say(f"{v}: {row['connected']}/{row['listeners']} connected in {row['connect_s']} s, "
                    f"{row['received_in_window']} received in the window, "
                    f"{row['kib_per_listener']} KiB/listener, CPU {row['cpu_pct']}%")
                if row["received_in_window"] < args.listeners:
                    problems.append(f"{v}: only {row['received_in_window']} of {args.listeners} "
                                    f"listeners received bytes in the window ({row['errors']})")
                problems.extend(server.problems())

        rows = {v: median_row(rs) for v, rs in results.items() if rs}

        def fig(v, key):
            return rows[v][key] if v in rows else None

        ratios = {}
        for num, den in (("b", "a"), ("c", "b"), ("c", "a"), ("d", "a"), ("e", "c"), ("e", "b"),
                         ("e", "d"), ("f", "c")):
            ratios[f"{num}/{den}"] = {"memory": ratio(fig(num, "kib_per_listener"), fig(den, "kib_per_listener")),
                                      "cpu": ratio(fig(num, "cpu_pct"), fig(den, "cpu_pct"))}
        for p in daemons:
            problems.extend(p.problems())

        if args.json:
            print(json.dumps({"listeners": args.listeners, "window_s": args.window,
                              "rounds": args.rounds, "results": rows, "skipped": skipped,
                              "ratios": ratios, "problems": problems}, indent=1))
        else:
            print()
            print("| | server | connected | received in window | connect s | memory KiB/listener "
                  "| (RSS KiB/listener) | CPU % of one core | processes loaded |")
            print("|---|---|---|---|---|---|---|---|---|")
            for v, row in rows.items():
                print(f"| {v} | {row['server']} | {row['connected']} | {row['received_in_window']} "
                      f"| {row['connect_s']} | {row['kib_per_listener']} | {row['rss_kib_per_listener']} "
                      f"| {row['cpu_pct']} | {row['processes_loaded']} |")
            for v, why in skipped.items():
                print(f"| {v} | {VARIANTS[v]} | skipped: {why} |||||||")
            print()
            for name, r in ratios.items():
                if r["memory"] is not None or r["cpu"] is not None:
                    print(f"{name}: memory {r['memory']}x, CPU {r['cpu']}x")
            for p in problems:
                print("problem:", p)
        return 1 if problems else 0
    finally:
        if poller is not None:
            poller.stop()
        for p in reversed(daemons):
            p.stop()
        run_dir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
