"""A bounded slice of tuneslot's fuzzing for CI: every libFuzzer target (the
eight status parsers, text cleaning, /metrics requests and the drain hash of
the scheduler; the snapshot decoder, playlists, stream names, listen URLs,
the allowlist, generations, herd replies, the status document and the
Redis refresher of the core) runs for a few seconds from its checked-in
seed corpus and kept crash inputs, built with clang, ASan and UBSan by
scripts/fuzz.sh.  Twenty-one targets at 8 s, one per core side by side,
keep the slice under a minute and a half of fuzzing on two cores.  Longer runs: scripts/fuzz.sh [SECONDS].  Seeds and
kept crash inputs are also replayed by ctest in every build
(fuzz.<name>.replay)."""

import os
import re
import shutil
import subprocess

import pytest

from harness import repo_dir

TARGETS = ["fuzz_load_xsl", "fuzz_icecast_admin", "fuzz_icecast_json", "fuzz_shoutcast1", "fuzz_shoutcast2",
           "fuzz_nginx_rtmp", "fuzz_wowza", "fuzz_mediamtx",
           "fuzz_text", "fuzz_metrics_request", "fuzz_http_listener", "fuzz_drains",
           "fuzz_snapshot_decode", "fuzz_playlist_render", "fuzz_stream_name", "fuzz_listen_url",
           "fuzz_generation", "fuzz_herd_reply", "fuzz_allow", "fuzz_status",
           "fuzz_refresh"]
SECONDS = 8
# the slowest target (a libxml2 parser or the drain hash's whole round)
# runs thousands of inputs a second under ASan; 625 a second is the floor
# the 15 s slice used to check (10,000), so a target that stalls on its
# seeds or no longer reaches its entry point fails
MIN_RUNS = SECONDS * 625


def test_every_fuzz_target_runs_clean_for_a_slice():
    """Each fuzz target runs its slice without a crash, leak or sanitizer report, and really executes inputs."""
    if shutil.which("clang") is None:
        pytest.fail("clang is not installed (scripts/install-deps.sh installs it)", pytrace=False)
    env = dict(os.environ)
    env.setdefault("TUNESLOT_FUZZ_BUILD", str(repo_dir() / "build-fuzz"))
    env["TUNESLOT_FUZZ_TARGETS"] = " ".join(TARGETS)
    r = subprocess.run([str(repo_dir() / "scripts" / "fuzz.sh"), str(SECONDS)], capture_output=True, text=True,
                       env=env, timeout=900)
    assert r.returncode == 0, f"fuzz.sh failed:\n{r.stderr[-4000:]}"
    runs = {m[1]: int(m[2]) for m in re.finditer(r"^(fuzz_\w+): Done (\d+) runs", r.stdout, re.M)}
    print("fuzz runs:", runs)
    assert sorted(runs) == sorted(TARGETS), r.stdout
    for target, n in runs.items():
        assert n >= MIN_RUNS, f"{target} executed only {n} inputs in {SECONDS}s"

