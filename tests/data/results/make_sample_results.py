#!/usr/bin/env python3
"""Writes sample result files in llmbench's result format (vllm bench serve field names plus the
`llmbench` block: time_series, cdf, load, telemetry with server and GPU series) for the report and
compare tests, including GPU telemetry that a CPU-only machine cannot record. Deterministic;
re-run to regenerate: python3 make_sample_results.py"""
import json
import math
import random

rng = random.Random(42)
for c in (1, 4, 16):
    n = 24
    ttfts = sorted(20 * c ** 0.5 * (1 + 0.3 * rng.random()) for _ in range(n))
    itls = sorted(8 * (1 + c / 16) * (1 + 0.2 * rng.random()) for _ in range(n * 31))
    dur = (sum(ttfts) + sum(itls)) / 1e3 / c
    t = [i * 0.5 for i in range(int(dur * 2) + 2)]

    def series(values, peak=None):
        vals = list(values)
        return {"kind": "gauge", "samples": len(t), "peak": max(vals) if peak is None else peak, "mean": sum(vals) / len(vals),
                "points": [[x, v] for x, v in zip(t, vals)], "decimated": False}

    result = {
        "date": "20261127-210000", "backend": "openai", "model_id": "opt-125m", "label": f"sample c={c}",
        "num_prompts": n, "max_concurrency": c, "request_rate": "inf", "duration": dur, "completed": n, "failed": 0,
        "total_input_tokens": 32 * n, "total_output_tokens": 32 * n,
        "request_throughput": n / dur, "output_throughput": 32 * n / dur, "total_token_throughput": 64 * n / dur,
        "mean_ttft_ms": sum(ttfts) / n, "median_ttft_ms": ttfts[n // 2], "p99_ttft_ms": ttfts[-1],
        "mean_tpot_ms": 8 * (1 + c / 16) * 1.1, "p99_itl_ms": itls[-1],
        "median_e2el_ms": ttfts[n // 2] + 270, "p99_e2el_ms": ttfts[-1] + 300,
        "llmbench": {
            "scenario": "load", "mode": "closed", "label": f"sample c={c}",
            "load": {"concurrency": c, "request_rate": None},
            "time_series": {"bucket_s": 1.0, "output_tokens": [32 * n / dur * (1 - math.exp(-(k + 0.5))) for k in range(int(dur) + 1)]},
            "cdf": {"ttft_ms": [[v, (k + 1) / n] for k, v in enumerate(ttfts)],
                    "itl_ms": [[v, (k + 1) / len(itls)] for k, v in enumerate(itls)][::8]},
            "telemetry": {
                "server": {"normalized": {
                    "kv_cache_usage": series(min(1.0, 0.04 * c * (1 - math.exp(-x))) for x in t),
                    "requests_running": series(c for _ in t),
                    "requests_waiting": series(0 for _ in t)}},
                "gpu": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_total_bytes": 85e9,
                         "memory_used_bytes": series(2.0e9 + 1e8 * c for _ in t)}],
            },
        },
    }
    with open(f"sweep/load_c{c}.json", "w") as f:
        json.dump(result, f, indent=1)
print("ok")
