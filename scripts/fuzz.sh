#!/usr/bin/env bash
# Builds tuneslot's libFuzzer targets with clang (ASan + UBSan + libFuzzer)
# in their own build directory and runs each for SECONDS (default 300), as
# many side by side as there are cores.
#
#   scripts/fuzz.sh [SECONDS]
#
# Environment: TUNESLOT_FUZZ_BUILD, the build directory (default
# build-fuzz/); TUNESLOT_FUZZ_TARGETS, the targets to run (default all);
# TUNESLOT_FUZZ_JOBS, how many run at once (default: the
# number of cores).  Each target starts from its checked-in seed corpus and
# its kept crash inputs (<part>/fuzz/corpus/<name>/ and
# <part>/fuzz/regressions/fuzz_<name>/) and keeps what it finds in
# BUILD/corpus/<target>/ (the checked-in directories are never written to).
# A crash, leak, sanitizer report, broken check, timeout or memory blow-up
# stops the script with status 1 after the other targets ran, leaves the
# reproducer in BUILD/artifacts/ and prints the cp command that keeps it as
# a regression input (ctest replays those in every build).  The last line
# of each run's log is printed: libFuzzer's "Done N runs in S second(s)".
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

seconds=${1:-300}
case $seconds in
    ''|*[!0-9]*|0) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac
jobs=${TUNESLOT_FUZZ_JOBS:-$(nproc)}
case $jobs in
    ''|*[!0-9]*|0) echo "fuzz.sh: TUNESLOT_FUZZ_JOBS must be a number of 1 or more" >&2; exit 2 ;;
esac
build=${TUNESLOT_FUZZ_BUILD:-$repo/build-fuzz}

# target -> the part of the tree that holds its corpus and regressions
declare -A part=()
for name in snapshot_decode playlist_render stream_name listen_url generation herd_reply allow \
            status refresh; do
    part[fuzz_$name]=core
done
for name in load_xsl icecast_admin icecast_json shoutcast1 shoutcast2 nginx_rtmp wowza mediamtx text metrics_request \
            http_listener drains; do
    part[fuzz_$name]=scheduler
done
all="fuzz_load_xsl fuzz_icecast_admin fuzz_icecast_json fuzz_shoutcast1 fuzz_shoutcast2 fuzz_nginx_rtmp
     fuzz_wowza fuzz_mediamtx fuzz_text fuzz_metrics_request fuzz_http_listener fuzz_drains fuzz_snapshot_decode
     fuzz_playlist_render fuzz_stream_name
     fuzz_listen_url fuzz_generation fuzz_herd_reply fuzz_allow fuzz_status fuzz_refresh"
targets=(${TUNESLOT_FUZZ_TARGETS:-$all})
declare -A listed=()
for t in "${targets[@]}"; do
    if [ -z "${part[$t]:-}" ]; then
        echo "fuzz.sh: unknown target $t (known: $(echo $all))" >&2
        exit 2
    fi
    # two runs of one target would share its log, corpus and verdict
    if [ -n "${listed[$t]:-}" ]; then
        echo "fuzz.sh: target $t is listed twice" >&2
        exit 2
    fi
    listed[$t]=1
done

if [ ! -f "$build/CMakeCache.txt" ]; then
    mkdir -p "$build"
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
        -DTUNESLOT_FUZZ=ON -DTUNESLOT_NGINX_MODULE=OFF -DTUNESLOT_APACHE_MODULE=OFF \
        -DTUNESLOT_CORE_TESTS=OFF > "$build/configure.log"
else
    # configured again: a target added since the first run must be known
    cmake -S "$repo" -B "$build" > "$build/configure.log"
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

mkdir -p "$build/artifacts"

# One target's run; its verdict goes to BUILD/<target>.verdict and a
# failure's report to BUILD/<target>.report, both read once every run has
# ended (the runs go side by side, see below, and their reports would mix).
fuzz_one() {
    local t=$1 name=${1#fuzz_}
    local seeds=${part[$t]}/fuzz/corpus/$name
    local kept=${part[$t]}/fuzz/regressions/$t
    local bin found log
    bin=$(find "$build" -name "$t" -type f -perm -u+x | head -n 1)
    if [ -z "$bin" ]; then
        echo "$t: no such program under $build (the build did not make it)" > "$build/$t.report"
        echo failed > "$build/$t.verdict"
        return
    fi
    found="$build/corpus/$t"
    mkdir -p "$found"
    log="$build/$t.log"
    echo "== $t: ${seconds}s" >&2
    # -rss_limit_mb: a parser that balloons on some input is a finding too
    if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=65536 -timeout=10 \
            -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
            "$found" "$repo/$seeds" "$repo/$kept" > "$log" 2>&1; then
        grep -E '^Done [0-9]+ runs' "$log" | sed "s/^/$t: /" || true
        echo ok > "$build/$t.verdict"
    else
        {
            echo "$t: FAILED (log: $log)"
            tail -n 40 "$log"
            # libFuzzer names the reproducer it wrote
            sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | while read -r unit; do
                echo "$t: keep the reproducer as a regression input (then fix, commit both):"
                echo "    cp '$unit' '$repo/$kept/'"
            done
        } > "$build/$t.report"
        echo failed > "$build/$t.verdict"
    fi
}

# Each target is one process on one core: as many run side by side as
# there are cores (TUNESLOT_FUZZ_JOBS), so a run of every target takes
# SECONDS x targets / cores, not SECONDS x targets.
for t in "${targets[@]}"; do
    rm -f "$build/$t.verdict" "$build/$t.report"
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    fuzz_one "$t" &
done
wait
status=0
for t in "${targets[@]}"; do
    if [ "$(cat "$build/$t.verdict" 2>/dev/null)" != ok ]; then
        [ -f "$build/$t.verdict" ] || echo "$t: ended without a verdict (log: $build/$t.log)" >&2
        [ ! -f "$build/$t.report" ] || cat "$build/$t.report" >&2
        status=1
    fi
done
exit $status
