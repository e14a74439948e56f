#!/usr/bin/env bash
# Installs, from Debian's packages, whatever tuneslot needs to build, run its
# demo and run its tests.  Idempotent: packages already there are left alone.
# Uses sudo only when not root.
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config
    libhiredis-dev libcurl4-openssl-dev libxml2-dev libtomlplusplus-dev
    libcmocka-dev libgtest-dev
    nlohmann-json3-dev
    # fuzzing (scripts/fuzz.sh): clang with libFuzzer and the sanitizers
    clang libclang-rt-14-dev
    # the nginx module, built against Debian's own nginx
    nginx nginx-dev
    # mod_tune, built with apxs against Debian's Apache
    apache2 apache2-dev
    # demo and integration tests
    redis-server redis-tools icecast2 ffmpeg curl python3 python3-pytest
    # benchmarks (bench/)
    wrk
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "tuneslot: installing ${missing[*]}" >&2

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi

"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
