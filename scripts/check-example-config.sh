#!/usr/bin/env bash
# Checks the example configuration the packages install as
# /etc/tuneslot/tuneslotd.toml: as shipped, `tuneslotd --check` refuses it
# for its missing [[backend]] and [[stream]] (so the service cannot start
# before the operator says what to poll); with its commented-out examples
# taken in, it is valid.
#
#   check-example-config.sh TUNESLOTD EXAMPLE
set -euo pipefail

tuneslotd=$1 example=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

if "$tuneslotd" --check -c "$example" > "$dir/out" 2> "$dir/err"; then
    echo "check-example-config: $example as shipped passes --check" >&2
    exit 1
fi
expected="$example:1: backend: no [[backend]] defined (at least one is required)
$example:1: stream: no [[stream]] defined (at least one is required)
tuneslotd: invalid configuration in $example"
if [ "$(cat "$dir/err")" != "$expected" ]; then
    printf 'check-example-config: --check on %s said:\n%s\nnot:\n%s\n' "$example" "$(cat "$dir/err")" "$expected" >&2
    exit 1
fi

# the examples (the TOML lines from the first [[backend]] on) out of their
# comments
awk '/^# \[\[backend\]\]/ { on = 1 } on && /^# (\[\[|[a-z_]+ = )/ { sub(/^# /, "") } { print }' "$example" > "$dir/tuneslotd.toml"
chmod 600 "$dir/tuneslotd.toml"     # it holds an example password
"$tuneslotd" --check -c "$dir/tuneslotd.toml"
