#!/usr/bin/env bash
# Reproduces the in-process Hugging Face generate() runs recorded in docs/benchmarks.md: llmbench
# drives adapters/hf_transformers.py (dummy opt-125m, fp16, CUDA) through the adapter protocol:
# Benchmark 1 (single) and Benchmark 2 at concurrency 1, 8 and 32, with NVML telemetry.
# Usage: bench/hf_adapter/run_h100.sh [LLMBENCH_BINARY] [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/src/app/llmbench}
out=${2:-$root/results/hf_adapter-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
engine="python3 $root/adapters/hf_transformers.py --dummy opt-125m --device cuda --dtype float16 --max-batch 32"
common=(--backend exec --engine-cmd "$engine" --random-input-len 32 --random-output-len 128 --ignore-eos
        --save-result --result-dir "$out" --no-progress --metrics-interval 0.5)
"$bin" single "${common[@]}" --num-warmups 2 --num-trials 5 --label "HF generate() (single)" \
  --result-filename hf_single.json
for c in 1 8 32; do
  "$bin" load "${common[@]}" --concurrency "$c" --num-prompts $((c * 4)) --num-warmups 2 \
    --label "HF generate() (c=$c)" --result-filename "hf_load_c$c.json"
done
"$bin" compare "$out"/hf_single.json "$out"/hf_load_c1.json "$out"/hf_load_c8.json "$out"/hf_load_c32.json --format md
