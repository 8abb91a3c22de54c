#!/usr/bin/env python3
"""llmbench adapter for vLLM's asynchronous engine (AsyncLLM, V1) (docs/adapter-protocol.md).

    llmbench load --backend exec --engine-cmd "python3 adapters/vllm_engine.py facebook/opt-125m" --concurrency 32

Each request is streamed with RequestOutputKind.DELTA, so every engine step that produces tokens
for it becomes one `token` event with the number of new tokens. `--load-format dummy` gives random
weights, as `vllm bench` does. Written against vLLM's documented API
(examples/offline_inference/async_llm_streaming.py, vllm.v1.engine.async_llm.AsyncLLM); NOT tested
against a live vLLM: vLLM cannot be installed on this project's machines. The protocol is tested
with tests/support/standin_adapter.py.
"""
import argparse
import asyncio
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _protocol import log, now_ns, read_messages, send  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="model name or folder, as for `vllm serve`")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--load-format", default="auto", help="auto or dummy (random weights)")
    p.add_argument("--max-num-seqs", type=int, default=256)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--max-model-len", type=int, default=None)
    p.add_argument("--enforce-eager", action="store_true")
    return p.parse_args()


async def serve(args):
    from vllm import SamplingParams
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.sampling_params import RequestOutputKind
    from vllm.v1.engine.async_llm import AsyncLLM

    t0 = time.perf_counter()
    engine_args = AsyncEngineArgs(model=args.model, dtype=args.dtype, load_format=args.load_format,
                                  max_num_seqs=args.max_num_seqs, gpu_memory_utilization=args.gpu_memory_utilization,
                                  max_model_len=args.max_model_len, enforce_eager=args.enforce_eager)
    engine = AsyncLLM.from_engine_args(engine_args)
    import vllm
    send({"type": "ready", "engine": "vllm", "model": args.model, "startup_s": time.perf_counter() - t0,
          "max_batch": args.max_num_seqs, "monotonic_ns": now_ns(), "version": vllm.__version__})

    loop = asyncio.get_running_loop()
    inbox = asyncio.Queue()
    tasks = {}

    def reader():
        for msg in read_messages():
            loop.call_soon_threadsafe(inbox.put_nowait, msg)
        loop.call_soon_threadsafe(inbox.put_nowait, None)

    threading.Thread(target=reader, daemon=True).start()

    async def run_request(msg):
        rid = str(msg["id"])
        try:
            params = SamplingParams(max_tokens=int(msg.get("max_tokens", 16)), min_tokens=int(msg.get("min_tokens", 0)),
                                    ignore_eos=bool(msg.get("ignore_eos", False)),
                                    temperature=float(msg.get("temperature", 0.0) or 0.0),
                                    top_p=float(msg.get("top_p", 1.0) or 1.0), top_k=int(msg.get("top_k", -1) or -1),
                                    seed=msg.get("seed"), output_kind=RequestOutputKind.DELTA)
            if msg.get("prompt_token_ids") is not None:
                prompt = {"prompt_token_ids": [int(x) for x in msg["prompt_token_ids"]]}
            else:
                prompt = msg.get("prompt", "")
            generated = 0
            prompt_tokens = 0
            async for out in engine.generate(request_id=rid, prompt=prompt, sampling_params=params):
                t = now_ns()
                prompt_tokens = len(out.prompt_token_ids or [])
                completion = out.outputs[0]
                n = len(completion.token_ids)
                if n:
                    generated += n
                    send({"type": "token", "id": rid, "tokens": n, "text": completion.text, "t_ns": t})
                if out.finished:
                    send({"type": "done", "id": rid, "prompt_tokens": prompt_tokens, "completion_tokens": generated,
                          "finish_reason": completion.finish_reason or "stop", "t_ns": now_ns()})
        except asyncio.CancelledError:
            send({"type": "done", "id": rid, "prompt_tokens": 0, "completion_tokens": 0, "finish_reason": "abort",
                  "t_ns": now_ns()})
        except Exception as e:  # noqa: BLE001 - that request fails, the adapter goes on
            send({"type": "error", "id": rid, "message": f"{type(e).__name__}: {e}"})
        finally:
            tasks.pop(rid, None)

    while True:
        msg = await inbox.get()
        if msg is None:
            break
        if msg.get("type") == "request":
            tasks[str(msg["id"])] = asyncio.create_task(run_request(msg))
        elif msg.get("type") == "cancel":
            rid = str(msg.get("id"))
            await engine.abort(rid)
            task = tasks.get(rid)
            if task:
                task.cancel()
    for task in list(tasks.values()):
        task.cancel()
    engine.shutdown()


def main():
    args = parse_args()
    try:
        asyncio.run(serve(args))
    except Exception as e:  # noqa: BLE001
        send({"type": "error", "message": f"vLLM engine failed: {type(e).__name__}: {e}"})
        log(f"vllm_engine.py: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
