#!/usr/bin/python3
"""Redirect benchmark: /tune/<stream> against nginx's own `return 302`.

Both locations live in the same nginx (same workers, same server block, same
response headers, access log off), so the only difference is the module's
request path: name check, lookup under the zone mutex, selection.  Runs wrk
against each in turn, alternating the order every round (these machines are
shared and noisy), and reports medians and the ratios tune/ceiling.

The snapshot is synthetic but realistic in size: STREAMS streams on BACKENDS
backends, written into Redis with its generation as tuneslotd would.

    bench/redirect.py                     # 3 rounds of 10 s per mode
    bench/redirect.py --duration 1 --rounds 1   # the short slice CI runs
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "t"))

from harness import Redis, RunDir  # noqa: E402
from harness.nginx import Nginx  # noqa: E402

TARGET = "http://127.0.0.1:8000/demo"


def synthetic_snapshot(streams: int, backends: int, capacity: int = 1_000_000) -> str:
    """Slots with room for far more tune-ins than the benchmark makes: herd
    accounting (on, as by default) counts every tune-in, and slots that
    filled up would turn the measurement into one of 503s."""
    now = int(time.time() * 1000)
    lines = ["tuneslot-snapshot\t1", f"written_ms\t{now}", "interval_ms\t1000"]
    for b in range(backends):
        lines.append(f"backend\tice-{b}\tup\t{now}")
    for s in range(streams):
        name = "demo" if s == 0 else f"station-{s}"
        for b in range(backends):
            listeners = (s * 7 + b * 13) % 90
            lines.append("\t".join([
                "slot", name, f"ice-{b}", "up", str(listeners), str(capacity),
                str(capacity - listeners),
                "100", "eu", str(now), f"http://127.0.{b // 250}.{b % 250 + 1}:8000/{name}"]))
    lines.append("end")
    return "\n".join(lines) + "\n"


class Poller:
    """Stands in for tuneslotd: writes the snapshot again every interval,
    polled now, with the same free counts (the redirected tune-ins never
    connect to a backend).  Herd control reconciles its reservations with
    each poll, as in production; with a snapshot that is never polled again
    they would pile up until every slot looked full."""

    def __init__(self, redis, snapshot_text, interval: float = 1.0):
        """snapshot_text(): the text of a round polled now."""
        self.redis, self.snapshot_text = redis, snapshot_text
        self.interval = interval
        self.generation = int(time.time() * 1000)
        self.stop_event = threading.Event()
        self.publish()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def publish(self) -> None:
        self.generation += 1
        self.redis.put_snapshot(self.snapshot_text(), self.generation)

    def run(self) -> None:
        # bounded: a benchmark run is minutes, never a day
        for _ in range(86400):
            if self.stop_event.wait(self.interval):
                return
            try:
                self.publish()
            except OSError:
                return          # Redis stopped under the benchmark: it is over

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)


def wrk(url: str, seconds: float, connections: int, close: bool) -> dict:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if close:
        argv[1:1] = ["-H", "Connection: close"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    out = p.stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if p.returncode != 0 or found is None:
        raise SystemExit(f"bench: {' '.join(argv)} failed:\n{out}{p.stderr}")
    rps = float(found.group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Socket errors: (.*)", out)
    non3xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale,
            "errors": errors.group(1) if errors else "",
            "bad_status": int(non3xx.group(1)) if non3xx else 0, "raw": out}


def alternating_rounds(urls: dict[str, str], rounds: int, duration: int, connections: int,
                       problems: list[str]) -> dict[str, dict[str, list[dict]]]:
    """wrk runs of a baseline and a variant (urls: first key the baseline), in
    both connection modes, order alternating round by round so neither gets
    the machine's better moments; answers other than 2xx/3xx noted in
    problems."""
    base, other = list(urls)
    results = {}
    for mode, close in (("keep-alive", False), ("connection per request", True)):
        runs = {base: [], other: []}
        for r in range(rounds):
            for variant in ((base, other) if r % 2 == 0 else (other, base)):
                res = wrk(urls[variant], duration, connections, close)
                if res["bad_status"]:
                    problems.append(f"{variant} {mode}: {res['bad_status']} answers not 2xx/3xx")
                runs[variant].append(res)
        results[mode] = runs
    return results


def print_ratios(results: dict[str, dict[str, list[dict]]]) -> None:
    """The median req/s and p99 of each side, and the variant's ratios."""
    for mode, runs in results.items():
        base, other = list(runs)
        if mode == next(iter(results)):
            print(f"| mode | {base} req/s | {other} req/s | ratio | {base} p99 | {other} p99 | p99 ratio |")
            print("|---|---|---|---|---|---|---|")
        b_rps = statistics.median(x["rps"] for x in runs[base])
        o_rps = statistics.median(x["rps"] for x in runs[other])
        b_p99 = statistics.median(x["p99_ms"] for x in runs[base])
        o_p99 = statistics.median(x["p99_ms"] for x in runs[other])
        print(f"| {mode} | {b_rps:,.0f} | {o_rps:,.0f} | {o_rps / b_rps:.2f}x "
              f"| {b_p99:.2f} ms | {o_p99:.2f} ms | {o_p99 / b_p99:.2f}x |")
    # each round as it came, to see how far the medians stand from the noise,
    # and the median of each round's own ratio: the two runs of a round are
    # back to back, so a machine that slows down over the run moves both
    print()
    for mode, runs in results.items():
        base, other = list(runs)
        for variant, got in runs.items():
            print(f"{mode}, {variant}: "
                  + ", ".join(f"{x['rps']:,.0f}/s p99 {x['p99_ms']:.2f} ms" for x in got))
        pairs = list(zip(runs[base], runs[other]))
        rps = statistics.median(o["rps"] / b["rps"] for b, o in pairs)
        p99 = statistics.median(o["p99_ms"] / b["p99_ms"] for b, o in pairs)
        print(f"{mode}: median of the rounds' own ratios: req/s {rps:.2f}x, p99 {p99:.2f}x")


def wait_for_redirect(server, path: str = "/tune/demo", timeout: float = 10.0) -> str:
    """Waits until the module answers path with a 302 (its snapshot is in);
    the Location."""
    deadline = time.monotonic() + timeout
    while (r := server.get(path)).status != 302:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: the module never answered 302 ({r}); see {server.error_log}")
        time.sleep(0.05)
    return r.header("location")


def report(results: dict, problems: list[str], started) -> int:
    """Prints the ratios and the problems, checks the daemons' logs; the
    benchmark's exit status."""
    print()
    print_ratios(results)
    for p in problems:
        print("problem:", p)
    for p in started:
        p.check()
    return 1 if problems else 0


def wrk_arguments(description: str) -> argparse.ArgumentParser:
    """The options the wrk benchmarks share: run length, rounds, load, the
    synthetic snapshot's size and nginx's workers."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="runs per mode and variant (median)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument("--backends", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    return ap


def main() -> int:
    ap = wrk_arguments(__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("TUNESLOT_BUILD", str(REPO / "build")))
    args = ap.parse_args()
    os.environ["TUNESLOT_BUILD"] = args.build

    run_dir = RunDir("bench-redirect")
    started = []
    try:
        redis = Redis(run_dir)
        started.append(redis.start())
        text = synthetic_snapshot(args.streams, args.backends)
        poller = Poller(redis, lambda: synthetic_snapshot(args.streams, args.backends))

        nginx = Nginx(run_dir, redis.address, workers=args.workers,
                      http_conf="access_log off;\n",
                      locations=("location /tune/ { tune; }\n"
                                 f"location /ceiling/ {{ return 302 {TARGET}; "
                                 "add_header Cache-Control no-store; }\n"))
        started.append(nginx.start())

        tune_loc = wait_for_redirect(nginx)
        ceil_loc = nginx.get("/ceiling/demo").header("location")
        print(f"tune-in answers 302 -> {tune_loc}; ceiling answers 302 -> {ceil_loc}")
        print(f"snapshot: {args.streams} streams x {args.backends} backends, {len(text)} bytes; "
              f"nginx {args.workers} workers; wrk -t2 -c{args.connections} -d{args.duration}s, "
              f"{args.rounds} round(s), order alternating")

        # warm-up, not measured: caches, and herd credits sized to the load
        for path in ("/tune/demo", "/ceiling/demo"):
            wrk(nginx.url(path), 1, args.connections, False)

        problems = []
        results = alternating_rounds({"ceiling": nginx.url("/ceiling/demo"),
                                      "tune": nginx.url("/tune/demo")},
                                     args.rounds, args.duration, args.connections, problems)
        poller.stop()
        return report(results, problems, started)
    finally:
        for p in reversed(started):
            p.stop()
        run_dir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
