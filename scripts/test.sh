#!/usr/bin/env bash
# Installs what is missing, builds everything, and runs every test: the unit
# tests (ctest), the Debian packages built and checked by lintian
# (scripts/package.sh), the integration tests of t/ (pytest, real daemons on
# loopback; as root they include installing and purging those packages),
# then the unit and integration tests again against a build with ASan and
# UBSan (scripts/test-sanitized.sh).  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > build-configure.log
cmake --build build -j"$(nproc)"

ctest --test-dir build --output-on-failure

scripts/package.sh

# Debian's interpreter: it sees python3-pytest (a pyenv python3 may not)
TUNESLOT_BUILD="$PWD/build" TUNESLOT_DEBS="$PWD/build-deb" /usr/bin/python3 -m pytest t/ "$@"

scripts/test-sanitized.sh "$@"
