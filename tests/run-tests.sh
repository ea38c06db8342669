#!/usr/bin/env bash
# The whole virtscale test suite, on a fresh Debian 12 machine, as root:
#   bash tests/run-tests.sh
# Installs what it needs, builds in a temporary directory (-Werror), checks
# formatting and lints, runs every ctest test (unit + integration on a real
# libvirtd, QEMU VMs and collectd; fault tests that freeze QEMUs and stop or
# kill libvirtd), then the unit tests again under ASan+UBSan, ThreadSanitizer
# and valgrind. Exits non-zero when anything fails.
#
# VIRTSCALE_BUILD_DIR=DIR  build there instead of a new temporary directory
# VIRTSCALE_TESTS=REGEX    run only the ctest tests matching REGEX
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${top}"

step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
bash tests/rig/install-deps.sh

work=$(mktemp -d /tmp/virtscale-tests.XXXXXX)
build=${VIRTSCALE_BUILD_DIR:-${work}/build}
trap 'rm -rf "${work}"' EXIT

step "build (${build})"
cmake -S . -B "${build}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVS_WERROR=ON >/dev/null
cmake --build "${build}" -j "$(nproc)"

step "format and lint"
mapfile -t c_files < <(git ls-files '*.c' '*.h' 2>/dev/null || find plugin startup-helper tests -name '*.[ch]')
clang-format --dry-run --Werror "${c_files[@]}"
mapfile -t sh_files < <(git ls-files '*.sh' 2>/dev/null || find . -name '*.sh')
shellcheck "${sh_files[@]}" .ci/run
cppcheck --quiet --enable=warning,portability --inline-suppr --error-exitcode=1 \
  --std=c11 -I plugin -I plugin/common plugin startup-helper
echo "format and lint: clean"

step "ctest: unit and integration"
(cd "${build}" && ctest --output-on-failure ${VIRTSCALE_TESTS:+-R "${VIRTSCALE_TESTS}"})

step "unit tests and fuzz corpora under ASan + UBSan"
cmake -S . -B "${work}/asan" -DCMAKE_BUILD_TYPE=Debug -DVS_WERROR=ON -DVS_ASAN=ON >/dev/null
cmake --build "${work}/asan" -j "$(nproc)"
# test_core runs real reads on short intervals: stretch them for the slower
# instrumented builds (VS_TEST_TIME_SCALE).
(cd "${work}/asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
  VS_TEST_TIME_SCALE=2 ctest -L "unit|fuzz" --output-on-failure)

step "unit tests under ThreadSanitizer"
cmake -S . -B "${work}/tsan" -DCMAKE_BUILD_TYPE=Debug -DVS_WERROR=ON -DVS_TSAN=ON >/dev/null
cmake --build "${work}/tsan" -j "$(nproc)"
(cd "${work}/tsan" && TSAN_OPTIONS="halt_on_error=1 suppressions=${top}/tests/tsan.supp" \
  VS_TEST_TIME_SCALE=3 ctest -L unit --output-on-failure)

step "unit tests under valgrind"
for t in "${build}"/tests/test_*; do
  # cmocka's exit code is its number of failures; keep valgrind's distinct.
  VS_TEST_TIME_SCALE=5 valgrind --quiet --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite "${t}" >/dev/null
  echo "valgrind clean: $(basename "${t}")"
done

step "all tests passed"
