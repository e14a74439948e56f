#!/usr/bin/env bash
# Builds tuneslot's libFuzzer targets with clang (ASan + UBSan + libFuzzer)
# in their own build directory and runs each for SECONDS (default 300).
#
#   scripts/fuzz.sh [SECONDS]
#
# Environment: TUNESLOT_FUZZ_BUILD, the build directory (default
# build-fuzz/); TUNESLOT_FUZZ_TARGETS, the targets to run (default all).
# Each target starts from its checked-in seed corpus and keeps what it finds
# in BUILD/corpus/<target>/ (the checked-in corpus is never written to).  A
# crash, leak, sanitizer report or broken check stops the script with status
# 1 and leaves the reproducer in BUILD/artifacts/.  The last line of each
# run's log is printed: libFuzzer's "Done N runs in S second(s)".
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

seconds=${1:-300}
case $seconds in
    ''|*[!0-9]*|0) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac
build=${TUNESLOT_FUZZ_BUILD:-$repo/build-fuzz}

declare -A seeds=(
    [fuzz_load_xsl]=scheduler/fuzz/corpus/load_xsl
    [fuzz_icecast_admin]=scheduler/fuzz/corpus/icecast_admin
    [fuzz_icecast_json]=scheduler/fuzz/corpus/icecast_json
    [fuzz_shoutcast1]=scheduler/fuzz/corpus/shoutcast1
    [fuzz_shoutcast2]=scheduler/fuzz/corpus/shoutcast2
    [fuzz_snapshot_decode]=core/fuzz/corpus/snapshot_decode
    [fuzz_playlist_render]=core/fuzz/corpus/playlist_render
)
targets=(${TUNESLOT_FUZZ_TARGETS:-fuzz_load_xsl fuzz_icecast_admin fuzz_icecast_json fuzz_shoutcast1
                                   fuzz_shoutcast2 fuzz_snapshot_decode fuzz_playlist_render})

if [ ! -f "$build/CMakeCache.txt" ]; then
    mkdir -p "$build"
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
        -DTUNESLOT_FUZZ=ON -DTUNESLOT_NGINX_MODULE=OFF -DTUNESLOT_CORE_TESTS=OFF > "$build/configure.log"
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
    bin=$(find "$build" -name "$t" -type f -perm -u+x | head -n 1)
    found="$build/corpus/$t"
    mkdir -p "$found"
    log="$build/$t.log"
    echo "== $t: ${seconds}s" >&2
    # -rss_limit_mb: a parser that balloons on some input is a finding too
    if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=65536 -timeout=10 \
            -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
            "$found" "$repo/${seeds[$t]}" > "$log" 2>&1; then
        grep -E '^Done [0-9]+ runs' "$log" | sed "s/^/$t: /" || true
    else
        echo "$t: FAILED (log: $log)" >&2
        tail -n 40 "$log" >&2
        status=1
    fi
done
exit $status
