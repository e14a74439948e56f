#!/usr/bin/env bash
# The unit and integration tests again, against a build with AddressSanitizer
# and UBSan (build-asan/, cmake -DTUNESLOT_SANITIZE=ON): tuneslotd, the unit
# tests, the nginx module and mod_tune are all sanitized; Debian's nginx and
# apache2 load the modules with the sanitizer runtime preloaded
# (t/harness/sanitizer.py).  A sanitizer report fails the run.  Run by
# scripts/test.sh after the regular suites; needs scripts/install-deps.sh.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTUNESLOT_SANITIZE=ON \
    > build-asan-configure.log
cmake --build build-asan -j"$(nproc)"

# nginx.config_add_module builds a static nginx with Debian's flags only,
# exactly as the regular run does: nothing of it is sanitized
ctest --test-dir build-asan --output-on-failure -E '^nginx\.config_add_module$'

# Left out, as nothing of their code would be checked any better:
# - test_bench_slices.py measures speed and memory, which ASan changes; its
#   benchmarks start their servers outside the tests' run directories;
# - test_fuzz_slice.py builds its own targets with clang, ASan and UBSan
#   (build-fuzz/), and the regular run already runs it;
# - test_install_packages.py installs the Debian packages, which are built
#   without sanitizers (scripts/package.sh).
TUNESLOT_BUILD="$PWD/build-asan" /usr/bin/python3 -m pytest t/ \
    --ignore=t/test_bench_slices.py --ignore=t/test_fuzz_slice.py \
    --ignore=t/test_install_packages.py "$@"
