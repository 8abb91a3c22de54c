#!/usr/bin/env bash
# Builds llmbench with its tests and runs them all with ctest.
# Usage: scripts/test.sh [--sanitize] [ctest args...]
#   --sanitize  builds into build-asan with ASan+UBSan and runs the unit tests there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$root/build"
# The HTML report test renders in headless Chromium, so the test set-up installs it.
export LLMBENCH_WITH_BROWSER=${LLMBENCH_WITH_BROWSER:-1}
cmake_args=()
ctest_args=()
if [[ "${1:-}" == "--sanitize" ]]; then
  shift
  build_dir="$root/build-asan"
  cmake_args+=(-DLLMBENCH_SANITIZE=ON -DLLMBENCH_BUILD_BENCH=OFF -DLLMBENCH_BUILD_INTEGRATION_TESTS=OFF)
  ctest_args+=(-L unit)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
"$root/scripts/build.sh" "$build_dir" "${cmake_args[@]}"
cd "$build_dir"
ctest --output-on-failure -j "${LLMBENCH_TEST_JOBS:-2}" "${ctest_args[@]}" "$@"
