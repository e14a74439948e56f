#!/usr/bin/env bash
# Installs what is missing, builds, and starts the demo stack on loopback:
# Redis, two Icecast servers of different capacities each fed a live tone,
# tuneslotd, and nginx with ngx_http_tune_module.  Prints the tune-in URL;
# Ctrl-C stops everything.  Extra arguments go to scripts/demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > build-configure.log
cmake --build build -j"$(nproc)"

exec /usr/bin/python3 scripts/demo.py --build "$PWD/build" "$@"
