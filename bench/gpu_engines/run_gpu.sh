#!/usr/bin/env bash
# The seed's two benchmarks for two engines on one GPU, same workload: llmbench serve's CUDA
# backend (continuous batching, paged KV cache, through HTTP) and Hugging Face generate()
# in-process (adapters/hf_transformers.py, static batches of up to 32, through the exec backend).
# Dummy opt-125m in bf16, 32-token prompts, 128 output tokens with EOS ignored; Benchmark 1
# (single: 2 warm-ups, 5 trials) and Benchmark 2 (load at concurrency 1, 8, 32, 4 prompts per
# user), NVML and /metrics sampled every 0.5 s; then one `llmbench compare` table of all eight.
# Usage: bench/gpu_engines/run_gpu.sh [LLMBENCH_BINARY] [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/src/app/llmbench}
out=${2:-$root/results/gpu_engines-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
"$bin" serve --model opt-125m --load-format dummy --dtype bfloat16 --device cuda --port 0 >"$out/serve.log" 2>&1 &
spid=$!
trap 'kill "$spid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q listening "$out/serve.log" && break; sleep 0.2; done
url=$(grep -o 'http://[0-9.:]*' "$out/serve.log" | head -1)
[[ -n "$url" ]] || { cat "$out/serve.log"; exit 1; }
hf="python3 $root/adapters/hf_transformers.py --dummy opt-125m --device cuda --dtype bfloat16 --max-batch 32"
workload=(--random-input-len 32 --random-output-len 128 --ignore-eos --save-result --result-dir "$out" --no-progress
  --metrics-interval 0.5)
run_engine() {  # name, target flags...
  local name=$1
  shift
  "$bin" single "$@" "${workload[@]}" --num-warmups 2 --num-trials 5 --label "$name single" \
    --result-filename "${name}_single.json"
  for c in 1 8 32; do
    "$bin" load "$@" "${workload[@]}" --concurrency "$c" --num-prompts $((c * 4)) --num-warmups 2 \
      --label "$name c=$c" --result-filename "${name}_c$c.json"
  done
}
run_engine llmbench --base-url "$url" --model opt-125m
run_engine hf --backend exec --engine-cmd "$hf"
"$bin" compare "$out"/llmbench_single.json "$out"/hf_single.json "$out"/llmbench_c1.json "$out"/hf_c1.json \
  "$out"/llmbench_c8.json "$out"/hf_c8.json "$out"/llmbench_c32.json "$out"/hf_c32.json --format md --no-deltas
