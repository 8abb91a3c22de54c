#!/usr/bin/env python3
"""Writes sample result files (vllm bench serve field names + llmbench's telemetry block) for the
report and compare tests. Deterministic; re-run to regenerate: python3 make_sample_results.py"""
import json
import math
import random

rng = random.Random(42)
for c in (1, 4, 16):
    n = 24
    ttfts = [0.02 * c ** 0.5 * (1 + 0.3 * rng.random()) for _ in range(n)]
    itls = [[0.008 * (1 + c / 16) * (1 + 0.2 * rng.random()) for _ in range(31)] for _ in range(n)]
    dur = sum(ttfts) / c + sum(sum(x) for x in itls) / c
    t = [i * 0.5 for i in range(int(dur * 2) + 2)]
    result = {
        "date": "20261127-210000", "backend": "openai", "model_id": "opt-125m", "label": f"sample c={c}",
        "num_prompts": n, "max_concurrency": c, "request_rate": "inf", "duration": dur, "completed": n, "failed": 0,
        "total_input_tokens": 32 * n, "total_output_tokens": 32 * n,
        "request_throughput": n / dur, "output_throughput": 32 * n / dur, "total_token_throughput": 64 * n / dur,
        "mean_ttft_ms": 1e3 * sum(ttfts) / n, "median_ttft_ms": 1e3 * sorted(ttfts)[n // 2], "p99_ttft_ms": 1e3 * max(ttfts),
        "mean_tpot_ms": 1e3 * 0.008 * (1 + c / 16) * 1.1, "p99_itl_ms": 1e3 * max(max(x) for x in itls),
        "median_e2el_ms": 1e3 * (sorted(ttfts)[n // 2] + 0.27), "p99_e2el_ms": 1e3 * (max(ttfts) + 0.3),
        "ttfts": ttfts, "itls": itls, "output_lens": [32] * n, "input_lens": [32] * n,
        "llmbench": {
            "run": {"scenario": "load", "concurrency": c, "label": f"sample c={c}"},
            "timeseries": {"output_tokens_per_s": {"t": t, "v": [32 * n / dur * (1 - math.exp(-x)) for x in t]}},
            "telemetry": {
                "server": {"normalized": {
                    "kv_cache_usage": {"t": t, "v": [min(1.0, 0.04 * c * (1 - math.exp(-x))) for x in t], "peak": min(1.0, 0.04 * c)},
                    "requests_running": {"t": t, "v": [c for _ in t]},
                    "requests_waiting": {"t": t, "v": [0 for _ in t]}}},
                "gpu": [{"index": 0, "name": "NVIDIA H100 80GB HBM3",
                         "memory_used_bytes": {"t": t, "v": [2.0e9 + 1e8 * c for _ in t], "peak": 2.0e9 + 1e8 * c}}],
            },
        },
    }
    with open(f"sweep/load_c{c}.json", "w") as f:
        json.dump(result, f, indent=1)
print("ok")
