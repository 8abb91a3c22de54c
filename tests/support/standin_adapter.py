#!/usr/bin/env python3
"""A stand-in engine adapter (standard library only) for testing llmbench's exec backend.

It speaks docs/adapter-protocol.md and emits tokens at known times: the first token `--ttft-ms`
after a request starts, then one every `--itl-ms`. `--max-batch` requests run at once; more wait.
Faults on demand: --mode crash (exit after --after tokens), stall (stop writing after --after
tokens), garbage (write a non-JSON line after --after tokens), no-ready (exit before ready),
error (answer every request with an error).
"""
import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "adapters"))
from _protocol import now_ns, read_messages, send  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--startup-ms", type=float, default=50)
p.add_argument("--ttft-ms", type=float, default=20)
p.add_argument("--itl-ms", type=float, default=5)
p.add_argument("--max-batch", type=int, default=4)
p.add_argument("--mode", default="normal", choices=["normal", "crash", "stall", "garbage", "no-ready", "error"])
p.add_argument("--after", type=int, default=3, help="tokens emitted (in all) before the fault")
args = p.parse_args()

if args.mode == "no-ready":
    sys.exit(3)
time.sleep(args.startup_ms / 1e3)
send({"type": "ready", "engine": "standin", "model": "standin", "startup_s": args.startup_ms / 1e3,
      "max_batch": args.max_batch, "monotonic_ns": now_ns()})

slots = threading.Semaphore(args.max_batch)
emitted = [0]
emitted_lock = threading.Lock()
cancelled = set()


def fault_point():
    with emitted_lock:
        emitted[0] += 1
        n = emitted[0]
    if n < args.after:
        return
    if args.mode == "crash":
        os._exit(7)
    if args.mode == "stall":
        while True:
            time.sleep(3600)
    if args.mode == "garbage":
        sys.stdout.write("this is not json {\n")
        sys.stdout.flush()


def run(msg):
    rid = str(msg["id"])
    with slots:
        if args.mode == "error":
            send({"type": "error", "id": rid, "message": "stand-in engine refuses every request"})
            return
        n = int(msg.get("max_tokens", 16))
        prompt_tokens = len(msg.get("prompt_token_ids") or []) or len(str(msg.get("prompt", "")).split())
        start = time.monotonic()
        reason = "length"
        for i in range(n):
            due = start + (args.ttft_ms + i * args.itl_ms) / 1e3
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if rid in cancelled:
                reason = "abort"
                n = i
                break
            send({"type": "token", "id": rid, "tokens": 1, "text": f" t{i}", "t_ns": now_ns()})
            if args.mode != "normal":
                fault_point()
        send({"type": "done", "id": rid, "prompt_tokens": prompt_tokens, "completion_tokens": n,
              "finish_reason": reason, "t_ns": now_ns()})


threads = []
for msg in read_messages():
    if msg.get("type") == "request":
        t = threading.Thread(target=run, args=(msg,), daemon=True)
        t.start()
        threads.append(t)
    elif msg.get("type") == "cancel":
        cancelled.add(str(msg.get("id")))
for t in threads:
    t.join()
