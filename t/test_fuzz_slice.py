"""A bounded slice of tuneslot's fuzzing for CI: every libFuzzer target
(five status parsers and core's snapshot decoder) runs for a few seconds from
its checked-in seed corpus, built with clang, ASan and UBSan by
scripts/fuzz.sh.  Longer runs: scripts/fuzz.sh [SECONDS]."""

import os
import re
import shutil
import subprocess

import pytest

from harness import repo_dir

TARGETS = ["fuzz_load_xsl", "fuzz_icecast_admin", "fuzz_icecast_json", "fuzz_shoutcast1", "fuzz_shoutcast2",
           "fuzz_snapshot_decode", "fuzz_playlist_render"]
SECONDS = 15


def test_every_fuzz_target_runs_clean_for_a_slice():
    """Each fuzz target runs its slice without a crash, leak or sanitizer report, and really executes inputs."""
    if shutil.which("clang") is None:
        pytest.fail("clang is not installed (scripts/install-deps.sh installs it)", pytrace=False)
    env = dict(os.environ)
    env.setdefault("TUNESLOT_FUZZ_BUILD", str(repo_dir() / "build-fuzz"))
    env["TUNESLOT_FUZZ_TARGETS"] = " ".join(TARGETS)
    r = subprocess.run([str(repo_dir() / "scripts" / "fuzz.sh"), str(SECONDS)], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, f"fuzz.sh failed:\n{r.stderr[-4000:]}"
    runs = {m[1]: int(m[2]) for m in re.finditer(r"^(fuzz_\w+): Done (\d+) runs", r.stdout, re.M)}
    print("fuzz runs:", runs)
    assert sorted(runs) == sorted(TARGETS), r.stdout
    for target, n in runs.items():
        assert n >= 10000, f"{target} executed only {n} inputs in {SECONDS}s"
