#!/usr/bin/env bash
# Checks tuneslotd's systemd unit as systemd 252 (Debian 12) reads it:
# `systemd-analyze verify` must print nothing (it exits 0 on some errors,
# so its output is what counts), and `systemd-analyze security` must rate
# the sandbox at most MAX_EXPOSURE (0 is the best, 10 the worst; the score
# is in docs/tuneslotd.md, "Running under systemd").  Verify wants the
# commands to exist, so it reads a copy whose tuneslotd is BINARY.
#
#   check-service-unit.sh UNIT BINARY MAX_EXPOSURE
set -euo pipefail

unit=$1 binary=$2 max=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/sbin/tuneslotd|$binary|g" "$unit" > "$dir/tuneslotd.service"

out=$(systemd-analyze verify --man=no "$dir/tuneslotd.service" 2>&1) || true
if [ -n "$out" ]; then
    printf 'systemd-analyze verify %s:\n%s\n' "$unit" "$out" >&2
    exit 1
fi

# systemd takes the threshold in tenths (100 is an exposure of 10.0)
threshold=$(awk -v m="$max" 'BEGIN { printf "%d", m * 10 + 0.5 }')
report=$(systemd-analyze security --offline=true --threshold="$threshold" "$dir/tuneslotd.service" 2>&1) || {
    printf '%s\n' "$report" >&2
    echo "check-service-unit: the sandbox of $unit is rated worse than $max" >&2
    exit 1
}
printf '%s\n' "$report" | tail -n 1
