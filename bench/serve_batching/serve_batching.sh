#!/usr/bin/env bash
# Continuous batching through the HTTP server: starts `llmbench serve` (opt-125m, dummy bf16
# weights), measures output tokens/s with `llmbench load` at concurrency 1 and 32 (32-token
# prompts, 128 output tokens, --ignore-eos), TTFT of 128- and 1024-token prompts with `llmbench
# single`, and the server's resident memory; prints a table. Everything on 127.0.0.1, bounded.
#
#   bench/serve_batching/serve_batching.sh [path/to/llmbench] [extra llmbench serve flags...]
set -euo pipefail
bin=${1:-build/src/app/llmbench}
shift || true
out=$(mktemp -d)
trap 'kill "$spid" 2>/dev/null || true; rm -rf "$out"' EXIT
"$bin" serve --model opt-125m --load-format dummy --dtype bfloat16 --port 0 "$@" >"$out/serve.log" 2>&1 &
spid=$!
for _ in $(seq 300); do grep -q listening "$out/serve.log" && break; sleep 0.2; done
url=$(grep -o 'http://[0-9.:]*' "$out/serve.log" | head -1)
[[ -n "$url" ]] || { cat "$out/serve.log"; exit 1; }
rss_start=$(awk '/VmRSS/ {print $2}' "/proc/$spid/status")
common=(--base-url "$url" --model opt-125m --ignore-eos --no-server-metrics --save-result --result-dir "$out")
"$bin" load --concurrency 1 --num-prompts 8 --num-warmups 1 --random-input-len 32 --random-output-len 128 \
  --result-filename c1.json "${common[@]}" >"$out/c1.txt" 2>&1
"$bin" load --concurrency 32 --num-prompts 96 --num-warmups 4 --random-input-len 32 --random-output-len 128 \
  --result-filename c32.json "${common[@]}" >"$out/c32.txt" 2>&1
for n in 128 1024; do
  "$bin" single --num-warmups 1 --num-trials 5 --random-input-len "$n" --random-output-len 32 \
    --result-filename "s$n.json" "${common[@]}" >"$out/s$n.txt" 2>&1
done
rss_end=$(awk '/VmRSS/ {print $2}' "/proc/$spid/status")
python3 - "$out" "$rss_start" "$rss_end" "$(grep -o 'kv_blocks=[0-9]*' "$out/serve.log")" <<'PY'
import json, sys
d, rss0, rss1, kv = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = {k: json.load(open(f"{d}/{k}.json")) for k in ("c1", "c32", "s128", "s1024")}
a, b = r["c1"], r["c32"]
print("| c=1 output tok/s (TPOT) | c=32 output tok/s (TPOT, mean TTFT) | c=32 / c=1 | TTFT 128 / 1024 tokens (mean) | RSS start / end |")
print("|---|---|---|---|---|")
print(f"| {a['output_throughput']:.1f} ({a['mean_tpot_ms']:.2f} ms) | {b['output_throughput']:.1f} "
      f"({b['mean_tpot_ms']:.1f} ms, {b['mean_ttft_ms']:.0f} ms) | {b['output_throughput'] / a['output_throughput']:.2f}x | "
      f"{r['s128']['mean_ttft_ms']:.1f} / {r['s1024']['mean_ttft_ms']:.0f} ms | {rss0 / 1024:.0f} / {rss1 / 1024:.0f} MiB ({kv}) |")
PY
