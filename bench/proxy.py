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

Icecast 2.4 listens with a backlog of 5, fixed in its source: a burst of
listeners through a proxy is a burst of connects to Icecast, and past that
queue the kernel drops them (with syncookies, after the proxy believes it
connected), so a proxied listener waits for TCP's retransmissions, up to
~100 s, or gets a 502 when the connection is reset.  The benchmark measures
the front ends, not that queue: its Icecast is given a deep one
(bench/listen_backlog.c preloaded, --icecast-backlog; 0 runs Icecast as it
comes).  A tuned front end's burst starts once its status says it holds the
snapshot.

    bench/proxy.py                                   # 1,000 listeners, a b c d e
    bench/proxy.py --listeners 200 --window 5 --only a,c --rounds 3
    bench/proxy.py --listeners 50 --window 2 --json  # the slice CI runs
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "t"))

from harness import Icecast, Redis, RunDir, Source  # noqa: E402
from harness.apache import (APACHE, STATUS_LOCATION, Apache, module_path as apache_module_path,  # noqa: E402
                            tune_lines)
from harness.listeners import Swarm, raise_nofile  # noqa: E402
from harness.nginx import Nginx, module_path  # noqa: E402
from harness.proctree import tree_cpu_seconds, tree_memory  # noqa: E402
from redirect import Poller  # noqa: E402

MOUNT = "/demo"
PATH = "/listen/demo"
STATUS = "/tune-status"
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
#: Icecast 2.4 listens with a backlog of 5, fixed in its source; the
#: benchmark's Icecast asks for this one through bench/listen_backlog.c
ICECAST_BACKLOG = 1024
SHIM = Path(__file__).resolve().with_name("listen_backlog.c")


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
    status = f"location = {STATUS} {{ tune_status; }}\n" if variant == "b" else ""
    return ("location /listen/ {\n" + upstream
            + "proxy_buffering off;\nproxy_read_timeout 1h;\n}\n"
            + status + "location / { return 404; }\n")


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
    conf = (tune_lines(redis.address, refresh=None) + TUNE_PROXY + STATUS_LOCATION if variant in TUNED
            else f"ProxyPass /listen/ http://{ice.host}:{ice.port}/\n")
    return Apache(run_dir, name=f"apache-{variant}", mpm="prefork" if variant in "cf" else "event",
                  modules=("proxy", "proxy_http"), workers=args.listeners + 50,
                  tune=variant in TUNED, conf=conf)


def somaxconn() -> int:
    try:
        return int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        return 4096


def icecast_listeners(ice: Icecast) -> int:
    m = ice.mounts().get(MOUNT)
    return int(m["listeners"]) if m else 0


def start_icecast(run_dir: RunDir, clients: int, backlog: int) -> Icecast:
    """The benchmark's Icecast, its listen socket's accept queue backlog
    deep (bench/listen_backlog.c preloaded; 0: Icecast's own 5).  A burst
    of listeners proxied by a front end is a burst of connects to Icecast:
    past its queue the kernel drops them, and a proxied listener then
    waits for TCP's retransmissions or is reset (README, proxy.py)."""
    ice = Icecast(run_dir, clients=clients)
    if not backlog:
        return ice.start()
    shim = run_dir / "listen_backlog.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(shim), str(SHIM), "-ldl"], check=True)
    os.chmod(shim, 0o755)
    saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "TUNESLOT_BENCH_LISTEN_BACKLOG")}
    os.environ["LD_PRELOAD"] = str(shim)
    os.environ["TUNESLOT_BENCH_LISTEN_BACKLOG"] = str(backlog)
    try:
        ice.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return ice


def accept_queue(port: int) -> int | None:
    """The backlog of the socket listening on 127.0.0.1:port (ss's Send-Q)."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].endswith(f":{port}"):
            return int(fields[2])
    return None


def wait_snapshot_installed(server, timeout: float = 30.0) -> None:
    """Waits until the tuned front end holds a snapshot with the demo
    stream's slot (its tune-status document), so a burst never meets a
    front end that has not read Redis yet."""
    deadline = time.monotonic() + timeout
    st = None
    while True:
        try:
            r = server.get(STATUS)
            st = json.loads(r.body) if r.status == 200 else None
        except (OSError, ValueError):
            st = None
        streams = (st or {}).get("streams") or []
        if any(s.get("name") == MOUNT[1:] and s.get("slots") for s in streams):
            return
        if time.monotonic() >= deadline:
            raise SystemExit(f"bench: {server.name} holds no snapshot with {MOUNT[1:]!r} "
                             f"{timeout:.0f}s after its start: {st}")
        time.sleep(0.05)


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
    if variant in TUNED:
        wait_snapshot_installed(server)
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
    ap.add_argument("--icecast-backlog", type=int, default=ICECAST_BACKLOG,
                    help="accept queue of Icecast's listen socket (0: Icecast 2.4's own, 5)")
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
        ice = start_icecast(run_dir, args.listeners + 100, args.icecast_backlog)
        daemons.append(ice)
        queue = accept_queue(ice.port)
        if args.icecast_backlog and queue is not None and queue < min(args.icecast_backlog, somaxconn()):
            raise SystemExit(f"bench: Icecast listens with a backlog of {queue}, "
                             f"not {args.icecast_backlog}: the preload did not take")
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
            f"reading at most {2 * STREAM_BYTES_PER_S} B/s each; Icecast's accept queue {queue}; "
            f"window {args.window:g} s; "
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
                    f"{row['failed']} failed {row['errors'] or ''}, "
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
                              "icecast_accept_queue": queue,
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
