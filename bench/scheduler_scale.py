#!/usr/bin/python3
"""Scale benchmark of tuneslotd: how much CPU and memory it needs to poll
many backends every second.

One plain Debian nginx (no tuneslot module) on loopback stands in for all
backends: it answers every URL with the same static load.xsl document, and
each simulated backend polls a distinct URL (/b/<n>/load.xsl), so tuneslotd
does the full work per backend: one HTTP transfer, one XML parse, one
backend line and one slot line in the snapshot.

nginx listens on one port per backend (up to --ports ports), because real
backends are distinct servers: libcurl keeps its idle connections in one
list per host and port, and thousands of backends behind a single
127.0.0.1:PORT would make every reuse search a list of thousands, a cost no
real deployment has.  --ports 1 measures that case anyway.  For each size, tuneslotd
runs with interval 1s; after a warm-up, its CPU time is read from
/proc/PID/stat over a window (user + system, as % of one core) and its RSS
from /proc/PID/status at the start and at the end of the window.

    TUNESLOT_BUILD=$PWD/build bench/scheduler_scale.py                 # 100, 1000, 5000 backends
    TUNESLOT_BUILD=$PWD/build bench/scheduler_scale.py --sizes 20 --warmup 1 --window 2   # CI slice

Target at 1,000 backends polled every second: under 10% of one core, and
flat memory (RSS at the end of the window within 5% or 1 MiB of its start).
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "t"))

from harness import Redis, RunDir, decode_snapshot, free_port, tuneslotd_binary, wait_for_port  # noqa: E402
from harness.tuneslotd import toml_text  # noqa: E402

NGINX = "/usr/sbin/nginx"
LOAD = '<load><mount name="/demo" listeners="3" max="100">97</mount></load>'
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def start_nginx(run_dir: RunDir, ports: list[int]) -> subprocess.Popen:
    prefix = run_dir.subdir("nginx")
    for d in ("tmp", "logs"):
        (prefix / d).mkdir(exist_ok=True)
    root = "user root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{root}daemon off;\nmaster_process on;\nworker_processes 1;\n"
        "worker_rlimit_nofile 20000;\n"
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log warn;\n"
        "events { worker_connections 12000; }\n"
        "http {\n"
        "access_log off;\n"
        f"client_body_temp_path {prefix}/tmp/body;\nproxy_temp_path {prefix}/tmp/proxy;\n"
        f"fastcgi_temp_path {prefix}/tmp/fastcgi;\nuwsgi_temp_path {prefix}/tmp/uwsgi;\n"
        f"scgi_temp_path {prefix}/tmp/scgi;\n"
        "keepalive_requests 1000000;\nkeepalive_timeout 300s;\n"
        "server {\n"
        + "".join(f"listen 127.0.0.1:{port} backlog=4096;\n" for port in ports) +
        f"location / {{ default_type text/xml; return 200 '{LOAD}'; }}\n"
        "}\n}\n")
    log = open(run_dir / "nginx.log", "ab")
    p = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf)], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    for port in (ports[0], ports[-1]):
        wait_for_port("127.0.0.1", port, 30, alive=lambda: p.poll() is None)
    return p


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])    # utime, stime (fields 14 and 15 of stat)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def measure(run_dir: RunDir, redis: Redis, ports: list[int], size: int, warmup: float, window: float) -> dict:
    cfg = {"redis": redis.address, "interval": "1s", "timeout": "800ms",
           "backend": [{"name": f"ice-{i}", "status": f"http://127.0.0.1:{ports[i % len(ports)]}/b/{i}/load.xsl",
                        "public": f"http://radio-{i}.example.net:8000"} for i in range(size)],
           "stream": [{"name": "demo", "mount": "/demo"}]}
    path = run_dir / f"tuneslotd-{size}.toml"
    path.write_text(toml_text(cfg))
    redis.command("FLUSHALL")
    log = open(run_dir / f"tuneslotd-{size}.log", "ab")
    p = subprocess.Popen([str(tuneslotd_binary()), "-c", str(path)], stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=raise_fd_limit)
    try:
        watcher = redis.rounds()
        watcher.next(timeout=30)
        time.sleep(warmup)
        watcher.drain()
        t0, c0, r0 = time.monotonic(), cpu_ticks(p.pid), rss_kib(p.pid)
        time.sleep(window)
        t1, c1, r1 = time.monotonic(), cpu_ticks(p.pid), rss_kib(p.pid)
        rounds = len(watcher.drain())
        watcher.close()
        _, text = redis.snapshot()
        snap = decode_snapshot(text)
        up = sum(1 for b in snap.backends.values() if b.health == "up")
    finally:
        p.terminate()
        p.wait(timeout=10)
    cpu = (c1 - c0) / CLK_TCK / (t1 - t0) * 100
    growth = r1 - r0
    flat = growth <= max(1024, r0 * 0.05)
    return {"size": size, "rounds": rounds, "window": t1 - t0, "up": up, "cpu": cpu,
            "rss0": r0 / 1024, "rss1": r1 / 1024, "flat": flat}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,5000", help="backend counts, comma-separated")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds after the first round before measuring")
    ap.add_argument("--window", type=float, default=30.0, help="seconds to measure")
    ap.add_argument("--ports", type=int, default=5000, help="most nginx ports the backends are spread over")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    raise_fd_limit()

    run_dir = RunDir("scheduler_scale")
    redis = Redis(run_dir).start()
    wanted = min(args.ports, max(sizes))
    ports = set()
    while len(ports) < wanted:
        ports.add(free_port())
    ports = sorted(ports)
    nginx = start_nginx(run_dir, ports)
    results = []
    try:
        for size in sizes:
            results.append(measure(run_dir, redis, ports, size, args.warmup, args.window))
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        redis.stop()
        run_dir.cleanup()

    print(f"tuneslotd polling N backends every 1 s ({args.window:.0f} s window after {args.warmup:.0f} s warm-up, "
          f"backends spread over {len(ports)} nginx ports)")
    print()
    print("| backends | rounds in window | backends up | CPU % of one core | RSS start MiB | RSS end MiB | memory |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['size']:,} | {r['rounds']} in {r['window']:.1f} s | {r['up']:,} | {r['cpu']:.1f} | "
              f"{r['rss0']:.1f} | {r['rss1']:.1f} | {'flat' if r['flat'] else 'GROWING'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
