"""Short, bounded slices of the benchmarks in bench/, so CI notices when one
stops working.  They check that a benchmark runs and reports its figures;
they assert nothing about speed (figures come from the full runs)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from harness import build_dir

REPO = Path(__file__).resolve().parents[1]


def run_redirect_slice(script: str) -> str:
    """bench/<script> for one 1 s round per mode; its output, after checking
    that it reports both modes with figures."""
    env = dict(os.environ, TUNESLOT_BUILD=str(build_dir()))
    p = subprocess.run([sys.executable, str(REPO / "bench" / script),
                        "--duration", "1", "--rounds", "1", "--streams", "10", "--backends", "3"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = re.findall(r"^\| (keep-alive|connection per request) \| ([\d,]+) \| ([\d,]+) \| ([\d.]+)x",
                      p.stdout, re.M)
    assert [r[0] for r in rows] == ["keep-alive", "connection per request"], p.stdout
    for _, ceiling, tune, ratio in rows:
        assert int(ceiling.replace(",", "")) > 0 and int(tune.replace(",", "")) > 0
        assert float(ratio) > 0
    paired = re.findall(r"^(keep-alive|connection per request): median of the rounds' own ratios: "
                        r"req/s ([\d.]+)x, p99 ([\d.]+)x$", p.stdout, re.M)
    assert [r[0] for r in paired] == ["keep-alive", "connection per request"], p.stdout
    assert all(float(r[1]) > 0 and float(r[2]) > 0 for r in paired), p.stdout
    return p.stdout


def test_redirect_bench_slice():
    """bench/redirect.py runs one 1 s round per mode and reports both ratios."""
    run_redirect_slice("redirect.py")


def test_apache_redirect_bench_slice():
    """bench/apache_redirect.py (mod_tune against `Redirect 302`, event MPM) runs one 1 s
    round per mode and reports both ratios."""
    out = run_redirect_slice("apache_redirect.py")
    assert "Apache event MPM" in out, out


def test_scheduler_scale_bench_slice():
    """bench/scheduler_scale.py polls 20 backends for a 2 s window and reports CPU and RSS."""
    env = dict(os.environ, TUNESLOT_BUILD=str(build_dir()))
    p = subprocess.run([sys.executable, str(REPO / "bench" / "scheduler_scale.py"),
                        "--sizes", "20", "--warmup", "1", "--window", "2"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = re.findall(r"^\| 20 \| (\d+) in [\d.]+ s \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (flat|GROWING) \|$",
                      p.stdout, re.M)
    assert len(rows) == 1, p.stdout
    rounds, up, cpu, rss0, rss1, _ = rows[0]
    assert int(rounds) > 0 and int(up) == 20
    assert float(rss0) > 0 and float(rss1) > 0


def test_proxy_bench_slice():
    """bench/proxy.py puts 50 listeners through every front end (mod_tune's under event and
    prefork too) for a 2 s window: each reports memory and CPU, and every listener received
    bytes."""
    env = dict(os.environ, TUNESLOT_BUILD=str(build_dir()))
    p = subprocess.run([sys.executable, str(REPO / "bench" / "proxy.py"), "--listeners", "50",
                        "--window", "2", "--settle", "1", "--connect-timeout", "60", "--json",
                        "--only", "a,b,c,d,e,f"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout)
    assert out["problems"] == []
    assert {"a", "c"} <= set(out["results"]), out     # b may be skipped by an older build
    assert set(out["results"]) | set(out["skipped"]) == {"a", "b", "c", "d", "e", "f"}
    for v, row in out["results"].items():
        assert row["connected"] == row["received_in_window"] == 50, (v, row)
        assert row["kib_per_listener"] is not None and row["cpu_pct"] >= 0, (v, row)
    assert out["ratios"]["c/a"]["memory"] is not None
    assert {"e/b", "e/c", "f/c"} <= set(out["ratios"]), out["ratios"]


def test_blackhole_bench_slice():
    """bench/blackhole.py runs one 1 s round per mode and reports both p99 ratios."""
    env = dict(os.environ, TUNESLOT_BUILD=str(build_dir()))
    p = subprocess.run([sys.executable, str(REPO / "bench" / "blackhole.py"),
                        "--duration", "1", "--rounds", "1", "--streams", "10", "--backends", "3",
                        "--silent-for", "1"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = re.findall(r"^\| (keep-alive|connection per request) \| ([\d,]+) \| ([\d,]+) \| [\d.]+x "
                      r"\| [\d.]+ ms \| [\d.]+ ms \| ([\d.]+)x \|$", p.stdout, re.M)
    assert [r[0] for r in rows] == ["keep-alive", "connection per request"], p.stdout
    for _, healthy, blackholed, p99_ratio in rows:
        assert int(healthy.replace(",", "")) > 0 and int(blackholed.replace(",", "")) > 0
        assert float(p99_ratio) > 0
    assert re.search(r"Redis black hole: [1-9]\d* connection", p.stdout), p.stdout


def test_soak_bench_slice(tmp_path):
    """bench/soak.py for 2 minutes: 200 listeners with churn (sessions of 5 to 20 s)
    through nginx's and Apache's proxy mode and 100 redirects a second: zero errors,
    Icecast drained, and no component's RSS growing after the warm-up (a trend
    threshold of 512 bytes per tune-in, which a leak of 1 KiB per tune-in crosses
    twice over: test_harness.py's trend tests show it)."""
    env = dict(os.environ, TUNESLOT_BUILD=str(build_dir()))
    samples = tmp_path / "soak.csv"
    p = subprocess.run([sys.executable, str(REPO / "bench" / "soak.py"), "--minutes", "2",
                        "--listeners", "200", "--redirect-rate", "100", "--listen", "5,20",
                        "--sample", "2", "--csv", str(samples), "--json"],
                       capture_output=True, text=True, timeout=480, env=env)
    print(p.stderr)     # the soak's report, for pytest -s
    out = json.loads(p.stdout) if p.stdout.strip().startswith("{") else None
    assert out is not None, p.stdout + p.stderr
    assert out["problems"] == [], out["problems"]
    assert out["verdict"] == "flat", out["trends"]
    assert p.returncode == 0, p.stderr
    assert set(out["trends"]) == {"nginx", "httpd", "tuneslotd"}
    for c, tr in out["trends"].items():
        assert tr["samples"] >= 40 and tr["threshold_kib_min"] > 0, (c, tr)
    for name in ("nginx", "apache"):
        lst, red = out["listener_results"][name], out["redirect_results"][name]
        # every slot came back several times, every redirect was answered
        assert lst["errors"] == {} and lst["sessions"] >= 2 * 100, (name, lst)
        assert red["errors"] == {} and red["good"] == red["sent"] > 0, (name, red)
    rows = samples.read_text().splitlines()
    assert rows[0].startswith("t_s,component,processes,rss_kib")
    assert sum(1 for r in rows if ",httpd," in r) >= 55


def test_fleet_bench_slice():
    """bench/fleet.py --quick (2 front-ends, 20 backends, 2,000 tune-ins/s, the real
    choice, herd table and herd_claim.lua in a real Redis) runs herd control on and off
    and with Redis away for a second, and reports the overshoot, the refusals and Redis's
    load of each."""
    env = dict(os.environ, TUNESLOT_BUILD=str(build_dir()))
    p = subprocess.run([sys.executable, str(REPO / "bench" / "fleet.py"), "--quick", "--json",
                        "--outage", "1000,1000"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "### F=2, B=20, peak 2,000/s" in p.stdout, p.stdout
    rows = re.findall(r"^\| (on, W 2000 ms|off \(W 0\)|on, W 2000 ms, Redis away 1 to 2 s) \| ([\d,]+) "
                      r"\| ([\d,]+) \| ", p.stdout, re.M)
    assert [r[0] for r in rows] == ["on, W 2000 ms", "off (W 0)", "on, W 2000 ms, Redis away 1 to 2 s"], p.stdout
    runs = json.loads(p.stdout.splitlines()[-1])
    on, off, away = runs
    assert on["window"] == 2000 and off["window"] == 0
    for r in runs:
        assert r["tuneins"] > 0 and r["sent"] > 0 and r["sent"] + r["refused"] == r["tuneins"], r
        assert r["storm"] > 0 and 0 <= r["worst_share"] and 0 <= r["p99"] <= r["worst"], r
    # the herd claimed through the script, and Redis's load was measured
    assert on["claims"] > 0 and on["claim_errors"] == 0 and on["granted"] > 0, on
    assert on["redis_evalsha_per_s"] > 0 and on["redis_in_per_s"] > 0, on
    assert off["claims"] == 0, off
    assert away["claims_away"] > 0 and away["outage"] == "1000,1000", away
