#!/usr/bin/env bash
# Soak: `llmbench load` against `llmbench serve` for a set time, sampling the resident memory of
# both every few seconds. Memory must be flat once warm: the script compares the mean RSS of the
# last quarter of the run with the second quarter and prints the growth of each process.
#
# Usage: bench/soak/soak.sh [DURATION_S=600] [CONCURRENCY=8] [SAMPLE_EVERY_S=5]
# Env: LLMBENCH (binary, default build/src/app/llmbench), SOAK_OUT (folder, default results/soak-<time>),
#      SERVE_ARGS (extra `serve` flags, default "--model opt-125m --load-format dummy --dtype bfloat16").
# Loopback only; bounded by DURATION_S.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
duration_s=${1:-600}
concurrency=${2:-8}
every_s=${3:-5}
bin=${LLMBENCH:-$root/build/src/app/llmbench}
out=${SOAK_OUT:-$root/results/soak-$(date -u +%Y%m%d-%H%M%S)}
serve_args=${SERVE_ARGS:-"--model opt-125m --load-format dummy --dtype bfloat16"}
mkdir -p "$out"
[[ -x "$bin" ]] || { echo "soak: build llmbench first (scripts/build.sh)" >&2; exit 2; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# shellcheck disable=SC2086
"$bin" serve --host 127.0.0.1 --port 0 $serve_args >"$out/serve.log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 600); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$out/serve.log" | head -1 || true)
  [[ -n "$url" ]] && break
  kill -0 $serve_pid 2>/dev/null || { cat "$out/serve.log" >&2; exit 1; }
  sleep 0.2
done
[[ -n "$url" ]] || { echo "soak: server did not start" >&2; exit 1; }
echo "soak: server at $url (pid $serve_pid); load for ${duration_s}s at concurrency $concurrency"

"$bin" load --base-url "$url" --model opt-125m --concurrency "$concurrency" --duration "$duration_s" \
  --random-input-len 64 --random-output-len 64 --ignore-eos --no-progress \
  --save-result --result-dir "$out" --result-filename load.json >"$out/load.log" 2>&1 &
load_pid=$!

echo "t_s,serve_rss_kib,load_rss_kib" >"$out/rss.csv"
start=$(date +%s)
while kill -0 $load_pid 2>/dev/null; do
  now=$(date +%s)
  echo "$((now - start)),$(rss_kib $serve_pid),$(rss_kib $load_pid)" >>"$out/rss.csv"
  sleep "$every_s"
done
wait $load_pid || echo "soak: load exited with status $?" >&2

python3 - "$out/rss.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if int(r["load_rss_kib"]) > 0]
if len(rows) < 8:
    sys.exit("soak: too few samples to judge (run longer)")
n = len(rows)
q2, q4 = rows[n // 4: n // 2], rows[3 * n // 4:]
print(f"{'process':<8} {'warm mean (MiB)':>16} {'last-quarter mean (MiB)':>24} {'growth':>8} {'peak (MiB)':>11}")
for key, name in (("serve_rss_kib", "serve"), ("load_rss_kib", "load")):
    a = sum(int(r[key]) for r in q2) / len(q2) / 1024
    b = sum(int(r[key]) for r in q4) / len(q4) / 1024
    peak = max(int(r[key]) for r in rows) / 1024
    print(f"{name:<8} {a:>16.1f} {b:>24.1f} {100 * (b - a) / a:>7.2f}% {peak:>11.1f}")
PY
echo "soak: samples in $out/rss.csv, results in $out/load.json"
