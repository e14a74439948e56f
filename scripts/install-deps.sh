#!/usr/bin/env bash
# Installs, from Debian's packages, whatever tuneslot needs to build, run its
# demo and run its tests, and the packages named as arguments (the
# packaging tools, for scripts/package.sh).  Idempotent: packages already
# there are left alone.  Waits for the apt lock another apt holds.  Uses
# sudo only when not root.
#
#   scripts/install-deps.sh [PACKAGE...]
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config
    libhiredis-dev libcurl4-openssl-dev libxml2-dev libtomlplusplus-dev
    libcmocka-dev libgtest-dev
    nlohmann-json3-dev
    # fuzzing (scripts/fuzz.sh): clang with libFuzzer and the sanitizers
    clang libclang-rt-14-dev
    # the nginx modules, built against Debian's own nginx (and its stream
    # module, which ngx_stream_tune_module needs)
    nginx nginx-dev libnginx-mod-stream
    # mod_tune, built with apxs against Debian's Apache
    apache2 apache2-dev
    # demo and integration tests
    redis-server redis-tools icecast2 ffmpeg curl python3 python3-pytest
    # the nginx-rtmp status format's test, against Debian's nginx-rtmp-module
    libnginx-mod-rtmp
    # HTTPS tune-ins' test: a self-signed certificate made by the test
    openssl
    # the status page's test, in a real browser driven over DevTools
    chromium python3-websocket
    # benchmarks (bench/)
    wrk
    # the man pages' check, the systemd unit's check (systemd-analyze)
    man-db systemd
    "$@"
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

# another apt (unattended-upgrades, a second CI job) may hold the lock: wait
apt_lock=(-o DPkg::Lock::Timeout=600)
"${sudo[@]}" apt-get "${apt_lock[@]}" update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_lock[@]}" install -y -qq \
    --no-install-recommends "${missing[@]}"
