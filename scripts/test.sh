#!/usr/bin/env bash
# Builds llmbench with its tests and runs them all with ctest.
# Usage: scripts/test.sh [--sanitize | --tsan | --fuzz SECONDS] [ctest args...]
#   --sanitize      builds into build-asan with ASan+UBSan and runs the unit tests there.
#   --tsan          builds into build-tsan with ThreadSanitizer and runs the multi-threaded network
#                   tests there: the server (fake engine and real engine) and the HTTP client, plus
#                   the load generator against scripted servers, the engine loop (sampling on the
#                   model's threads) and the kernels' thread pool.
#   --fuzz SECONDS  builds every libFuzzer target with clang into build-fuzz and runs each for
#                   SECONDS on a copy of its committed seed corpus; any crash, leak, timeout or
#                   out-of-memory fails (the input is kept under build-fuzz/artifacts/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$root/build"
cmake_args=()
ctest_args=()
mode=all
case "${1:-}" in
  --sanitize)
    shift
    mode=sanitize
    ;;
  --tsan)
    shift
    mode=tsan
    ;;
  --fuzz)
    [[ "${2:-}" =~ ^[0-9]+$ && "$2" -gt 0 ]] || {
      echo "usage: scripts/test.sh --fuzz SECONDS" >&2
      exit 2
    }
    fuzz_seconds=$2
    shift 2
    mode=fuzz
    ;;
esac

case "$mode" in
  all)
    # The HTML report test renders in headless Chromium, so the test set-up installs it.
    export LLMBENCH_WITH_BROWSER=${LLMBENCH_WITH_BROWSER:-1}
    ;;
  sanitize)
    build_dir="$root/build-asan"
    # The CUDA backend stays out of the sanitizer builds: host sanitizers cannot see GPU code (that is
    # compute-sanitizer's job) and trip over the CUDA runtime.
    cmake_args+=(-DLLMBENCH_SANITIZE=ON -DLLMBENCH_BUILD_BENCH=OFF -DLLMBENCH_BUILD_INTEGRATION_TESTS=OFF
      -DLLMBENCH_CUDA=OFF)
    ctest_args+=(-L unit)
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    ;;
  tsan)
    build_dir="$root/build-tsan"
    # What the tests below need, and nothing else: no benchmarks, no llmbench binary.
    tsan_targets=(server_http_test server_e2e_test server_hostile_clients_test net_http_client_test
      harness_integration_tests harness_net_server_tests llm_engine_test cpu_kernels_test)
    "$root/scripts/install_deps.sh"
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${LLMBENCH_BUILD_TYPE:-RelWithDebInfo} \
      -DLLMBENCH_TSAN=ON -DLLMBENCH_BUILD_BENCH=OFF -DLLMBENCH_CUDA=OFF >/dev/null
    # Old TSan runtimes cannot map their shadow under a high-entropy ASLR layout: build (test
    # discovery runs the binaries) and test without ASLR.
    norandom=()
    if setarch "$(uname -m)" -R true 2>/dev/null; then norandom=(setarch "$(uname -m)" -R); fi
    "${norandom[@]}" cmake --build "$build_dir" -j "${LLMBENCH_JOBS:-$(nproc)}" --target "${tsan_targets[@]}"
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:history_size=4:suppressions=$root/scripts/tsan.supp}
    # OpenBLAS's own threads are not instrumented; the engine's pool is.
    export OPENBLAS_NUM_THREADS=1
    cd "$build_dir"
    exec "${norandom[@]}" ctest --output-on-failure -j "${LLMBENCH_TEST_JOBS:-2}" \
      -R '^(ServerTest|ServeE2eTest|HostileClients|HttpClient|LoadRunner|LoadRunnerWithNetServer|LlmEngine|EngineOutput|CpuThreadPool)\.' "$@"
    ;;
  fuzz)
    build_dir="$root/build-fuzz"
    export LLMBENCH_WITH_CLANG=1
    "$root/scripts/install_deps.sh"
    # Clang-only warnings must not stop a fuzzing run: -Werror stays with the GCC builds.
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${LLMBENCH_BUILD_TYPE:-RelWithDebInfo} \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DLLMBENCH_BUILD_FUZZ=ON -DLLMBENCH_WERROR=OFF \
      -DLLMBENCH_BUILD_BENCH=OFF -DLLMBENCH_BUILD_INTEGRATION_TESTS=OFF -DLLMBENCH_CUDA=OFF >/dev/null
    mapfile -t fuzzers <"$build_dir/fuzz_targets.txt"
    ((${#fuzzers[@]})) || {
      echo "scripts/test.sh: no fuzz targets configured (is clang the compiler?)" >&2
      exit 1
    }
    names=()
    for line in "${fuzzers[@]}"; do names+=("${line%% *}"); done
    cmake --build "$build_dir" -j "${LLMBENCH_JOBS:-$(nproc)}" --target "${names[@]}"
    artifacts="$build_dir/artifacts"
    mkdir -p "$artifacts"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    failed=()
    for line in "${fuzzers[@]}"; do
      name=${line%% *}
      corpus=${line#* }
      bin=$(find "$build_dir/tests/fuzz" -type f -name "$name" -perm -u+x | head -n 1)
      # The fuzzer adds inputs to its corpus: give it a copy, never the committed folder. An input
      # that runs for 60 s is a hang (generous: a loaded CI machine stalls for seconds at times).
      mkdir -p "$work/$name"
      cp -r "$corpus/." "$work/$name/"
      seeds=$(find "$work/$name" -type f | wc -l)
      echo "== fuzz $name: ${fuzz_seconds}s from $seeds seeds"
      start=$SECONDS
      if "$bin" -max_total_time="$fuzz_seconds" -timeout=60 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$work/$name" >"$work/$name.log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$work/$name.log" | tr '\n' ' '
        echo "($((SECONDS - start))s)"
      else
        failed+=("$name")
        echo "!! $name failed after $((SECONDS - start))s; the end of its log:" >&2
        tail -n 60 "$work/$name.log" >&2
        for f in "$artifacts/$name"-*; do
          [[ -f "$f" ]] || continue
          echo "!! input $f (base64; keep it in $corpus as a regression input):" >&2
          base64 -w 100 "$f" | head -c 20000 >&2
          echo >&2
        done
      fi
    done
    if ((${#failed[@]})); then
      echo "scripts/test.sh: fuzzing found problems in: ${failed[*]}" >&2
      exit 1
    fi
    echo "== fuzz: all ${#fuzzers[@]} targets ran ${fuzz_seconds}s each without a finding"
    exit 0
    ;;
esac
"$root/scripts/build.sh" "$build_dir" "${cmake_args[@]}"
cd "$build_dir"
ctest --output-on-failure -j "${LLMBENCH_TEST_JOBS:-2}" "${ctest_args[@]}" "$@"
