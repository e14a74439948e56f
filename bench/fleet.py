#!/usr/bin/python3
"""The herd bound at fleet scale (issue 17): F front-ends, B backends, a
show's start at up to 50,000 tune-ins/s, on the real code.

Runs build/bench/tune_fleet (bench/fleet.c), which answers every tune-in
with core's tune_choose_begin()/tune_choose_pick() on a herd table per
front-end and claims credits with the real redis/herd_claim.lua in a real
Redis (started here on a free port, stopped by its PID), once with herd
control on (W 2 s, the default) and once off (W 0: the snapshot's free
counts alone, the baseline), and prints a markdown table per scenario:
overshoot per slot (listeners connected in a poll window over the free
count that poll reported), tune-ins refused while some slot had room, and
Redis's load (INFO commandstats and stats deltas, per simulated second).

Simulated: time, the backends, the listeners and the claim's round trip;
real: the choice, the herd accounting, the snapshots (written and decoded
by core), the script and Redis (bench/README.md, "fleet.py").

    TUNESLOT_BUILD=$PWD/build bench/fleet.py             # the matrix: F 2,5,20 x B 20,200,2000 at 50k/s
    TUNESLOT_BUILD=$PWD/build bench/fleet.py --quick     # CI slice: F 2, B 20, 2,000/s, seconds
    TUNESLOT_BUILD=$PWD/build bench/fleet.py --fronts 20 --backends 2000 --peaks 5000,50000
    TUNESLOT_BUILD=$PWD/build bench/fleet.py --fronts 20 --backends 200 --outage 1500,2000
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "t"))

from harness.net import free_port, wait_for_port  # noqa: E402
from harness.redis import RedisClient  # noqa: E402

WINDOW = 2000


def build() -> Path:
    return Path(os.environ.get("TUNESLOT_BUILD", REPO / "build"))


def start_redis(run: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = open(run / "redis.log", "ab")
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--dir", str(run)],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    wait_for_port("127.0.0.1", port, 10, alive=lambda: p.poll() is None)
    return p, port


def info(port: int) -> dict:
    """INFO stats and commandstats as one dict of numbers."""
    with RedisClient("127.0.0.1", port) as r:
        text = r.command("INFO", "all")
    text = text.decode() if isinstance(text, bytes) else text
    out = {}
    for line in text.splitlines():
        if ":" not in line or line.startswith("#"):
            continue
        key, value = line.split(":", 1)
        if key.startswith("cmdstat_"):
            fields = dict(f.split("=", 1) for f in value.split(","))
            out[key] = {k: float(v) for k, v in fields.items() if k in ("calls", "usec")}
        elif key in ("total_net_input_bytes", "total_net_output_bytes", "total_commands_processed"):
            out[key] = int(value)
    return out


def run_one(binary: Path, port: int, args: list[str], window: int, timeout: float) -> dict:
    cmd = [str(binary), "--port", str(port), "--window", str(window),
           "--script", str(REPO / "redis" / "herd_claim.lua")] + args
    if window:
        with RedisClient("127.0.0.1", port) as r:
            r.command("CONFIG", "RESETSTAT")
        before = info(port)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise SystemExit(f"tune_fleet failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    res = json.loads(p.stdout)
    if "--outage" in args:
        res["outage"] = args[args.index("--outage") + 1]
    if window:
        after = info(port)
        sim = res["sim_s"]
        ev = after.get("cmdstat_evalsha", {"calls": 0, "usec": 0})
        ev0 = before.get("cmdstat_evalsha", {"calls": 0, "usec": 0})
        res["redis_evalsha_per_s"] = (ev["calls"] - ev0["calls"]) / sim
        res["redis_cpu_share"] = (ev["usec"] - ev0["usec"]) / 1e6 / sim
        res["redis_in_per_s"] = (after["total_net_input_bytes"] - before["total_net_input_bytes"]) / sim
        res["redis_out_per_s"] = (after["total_net_output_bytes"] - before["total_net_output_bytes"]) / sim
        res["redis_cmds_per_s"] = (after["total_commands_processed"]
                                   - before["total_commands_processed"]) / sim
    return res


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def num(x: float) -> str:
    return f"{x:,.0f}"


def table(f: int, b: int, peak: int, rows: list[dict]) -> str:
    r0 = rows[0]
    lines = [f"### F={f}, B={b}, peak {num(peak)}/s",
             "",
             f"capacity {num(r0['capacity'])} listeners, {num(r0['room_start'])} free at the show's start; "
             f"{num(r0['tuneins'])} tune-ins with herd control on ({num(r0['storm'])} of them the reconnect "
             f"storm of a backend of {num(r0['dead_capacity'])}); {r0['sim_s']:.1f} s simulated, "
             f"{r0['real_s']:.1f} s real",
             "",
             "| herd control | tune-ins | sent | refused | refused while a slot had room "
             "| room left at the show's end | worst overshoot (slot of) | worst, share of capacity "
             "| worst share, slots of 50+ | p99 over slots | p99 share | slots over "
             "| sent to a slot its snapshot said full | EVALSHA/s | keys claimed/s | Redis in/out per s "
             "| Redis CPU (script) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        on = r["window"] != 0
        what = "off (W 0)"
        if on:
            what = f"on, W {r['window']} ms"
            if r.get("outage"):
                at, ms = (int(x) for x in r["outage"].split(","))
                what += f", Redis away {at / 1000:g} to {(at + ms) / 1000:g} s"
        redis = (f"| {num(r['redis_evalsha_per_s'])} | {num(r['claim_keys'] / r['sim_s'])} "
                 f"| {r['redis_in_per_s'] / 1e6:.2f} / {r['redis_out_per_s'] / 1e6:.2f} MB "
                 f"| {pct(r['redis_cpu_share'])} of a core |") if on else "| - | - | - | - |"
        lines.append(
            f"| {what} | {num(r['tuneins'])} "
            f"| {num(r['sent'])} | {num(r['refused'])} | {num(r['refused_room'])} | {num(r['room_end'])} "
            f"| {r['worst']} ({num(r['worst_cap'])}) | {pct(r['worst_share'])} "
            f"| {pct(r['worst_share50'])} | {r['p99']} | {pct(r['p99_share'])} | {r['slots_over']} "
            f"| {num(r['sent_full'])} " + redis)
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the CI slice: F 2, B 20, 2,000/s, a 3 s show")
    ap.add_argument("--fronts", default="2,5,20")
    ap.add_argument("--backends", default="20,200,2000")
    ap.add_argument("--peaks", default="50000", help="peak tune-ins/s, comma-separated")
    ap.add_argument("--outage", metavar="AT,MS",
                    help="a third run a scenario: Redis away from AT ms into the show for MS ms "
                         "(no claim answered, no snapshot fetched)")
    ap.add_argument("--rtt", type=int, default=2, help="modelled claim round trip, ms")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600, help="per run, s")
    ap.add_argument("--json", action="store_true", help="print the runs' figures as JSON too")
    a = ap.parse_args()

    extra = ["--rtt", str(a.rtt), "--seed", str(a.seed)]
    if a.quick:
        a.fronts, a.backends, a.peaks = "2", "20", "2000"
        extra += ["--warmup", "2000", "--show", "3000", "--ramp", "500", "--hold", "500",
                  "--storm-at", "1500"]
    binary = build() / "bench" / "tune_fleet"
    if not binary.exists():
        raise SystemExit(f"{binary} is missing: cmake --build {build()}")

    out = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tuneslot-fleet-") as tmp:
        redis, port = start_redis(Path(tmp))
        try:
            for peak in (int(x) for x in a.peaks.split(",")):
                for f in (int(x) for x in a.fronts.split(",")):
                    for b in (int(x) for x in a.backends.split(",")):
                        args = extra + ["--fronts", str(f), "--backends", str(b), "--peak", str(peak)]
                        rows = [run_one(binary, port, args, w, a.timeout) for w in (WINDOW, 0)]
                        if a.outage:
                            rows.append(run_one(binary, port, args + ["--outage", a.outage], WINDOW,
                                                a.timeout))
                        out.extend(rows)
                        print(table(f, b, peak, rows), end="\n\n", flush=True)
        finally:
            redis.terminate()
            try:
                redis.wait(10)
            except subprocess.TimeoutExpired:
                redis.kill()
                redis.wait()
    print(f"{len(out)} runs in {time.monotonic() - started:.0f} s")
    if a.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
