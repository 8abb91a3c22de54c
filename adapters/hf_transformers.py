#!/usr/bin/env python3
"""llmbench adapter for Hugging Face Transformers `generate()` (docs/adapter-protocol.md).

    llmbench single --backend exec --engine-cmd "python3 adapters/hf_transformers.py --dummy opt-125m --device cuda --dtype float16"

The model is a local model folder (config.json, safetensors, tokenizer) or `--dummy opt-125m|gpt2`:
that architecture with random weights (no download), tokenized with GPT-2's vocabulary shipped in
data/gpt2. Every generated token is reported the moment `generate()` hands it to the streamer.
Engine start-up (loading, moving to the device, one warm-up generate) is timed and reported in
the `ready` message, never counted in a request. With `--max-batch N` > 1, requests that are
waiting when a batch starts run together as one static `generate()` batch (left-padded), as
`generate()` does; requests arriving meanwhile wait for the next batch. Sampling parameters of a
batch are the first request's (generate() takes one set per call).
"""
import argparse
import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _protocol import log, now_ns, read_messages, send  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="?", help="a Hugging Face model folder")
    p.add_argument("--dummy", choices=["opt-125m", "gpt2"], help="this architecture with random weights")
    p.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    p.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    p.add_argument("--max-batch", type=int, default=1, help="requests run together in one static batch")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if not a.model and not a.dummy:
        p.error("give a model folder or --dummy opt-125m|gpt2")
    return a


class Gpt2Vocabulary:
    """GPT-2's byte-level BPE from data/gpt2 through the tokenizers library (for dummy models)."""

    def __init__(self):
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers
        t = Tokenizer(models.BPE.from_file(os.path.join(REPO, "data/gpt2/vocab.json"),
                                           os.path.join(REPO, "data/gpt2/merges.txt")))
        t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        t.decoder = decoders.ByteLevel()
        self.t = t

    def encode(self, text):
        return self.t.encode(text, add_special_tokens=False).ids

    def decode(self, ids):
        return self.t.decode(ids)


class HfTokenizer:
    def __init__(self, folder):
        from transformers import AutoTokenizer
        self.t = AutoTokenizer.from_pretrained(folder, local_files_only=True)

    def encode(self, text):
        return self.t(text, add_special_tokens=True)["input_ids"]

    def decode(self, ids):
        return self.t.decode(ids, skip_special_tokens=True)


def load(args):
    import torch
    from transformers import AutoModelForCausalLM
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(args.seed)
    if args.dummy == "opt-125m":
        from transformers import OPTConfig, OPTForCausalLM
        cfg = OPTConfig(vocab_size=50272, hidden_size=768, num_hidden_layers=12, ffn_dim=3072, num_attention_heads=12,
                        max_position_embeddings=2048, word_embed_proj_dim=768, pad_token_id=1, bos_token_id=2,
                        eos_token_id=2)
        model = OPTForCausalLM(cfg)
        tok = Gpt2Vocabulary()
        name = "opt-125m (dummy weights)"
    elif args.dummy == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel
        model = GPT2LMHeadModel(GPT2Config())
        tok = Gpt2Vocabulary()
        name = "gpt2 (dummy weights)"
    else:
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype, local_files_only=True)
        tok = HfTokenizer(args.model)
        name = args.model
    model = model.to(device=args.device, dtype=dtype).eval()
    return model, tok, name


class Request:
    def __init__(self, msg, tok):
        self.id = str(msg["id"])
        if msg.get("prompt_token_ids") is not None:
            self.prompt_ids = [int(x) for x in msg["prompt_token_ids"]]
        else:
            self.prompt_ids = tok.encode(msg.get("prompt", ""))
        self.max_tokens = int(msg.get("max_tokens", 16))
        self.min_tokens = int(msg.get("min_tokens", 0))
        self.ignore_eos = bool(msg.get("ignore_eos", False))
        self.temperature = float(msg.get("temperature", 0.0) or 0.0)
        self.top_p = msg.get("top_p")
        self.top_k = msg.get("top_k")
        self.seed = msg.get("seed")
        self.generated = 0
        self.finished = False
        self.cancelled = False


def run_batch(model, tok, batch, device, eos_id, pad_id):
    import torch
    from transformers.generation.streamers import BaseStreamer
    from transformers import StoppingCriteria, StoppingCriteriaList

    longest = max(len(r.prompt_ids) for r in batch)
    ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for i, r in enumerate(batch):  # left padding, as decoder-only batching needs
        ids[i, longest - len(r.prompt_ids):] = torch.tensor(r.prompt_ids, dtype=torch.long)
        mask[i, longest - len(r.prompt_ids):] = 1
    ids, mask = ids.to(device), mask.to(device)

    def finish(r, reason):
        if not r.finished:
            r.finished = True
            send({"type": "done", "id": r.id, "prompt_tokens": len(r.prompt_ids), "completion_tokens": r.generated,
                  "finish_reason": reason, "t_ns": now_ns()})

    class Streamer(BaseStreamer):
        def __init__(self):
            self.prompt_seen = False

        def put(self, value):
            if not self.prompt_seen:  # generate() first hands over the prompt
                self.prompt_seen = True
                return
            t = now_ns()
            tokens = value.reshape(-1).tolist()
            for r, token in zip(batch, tokens):
                if r.finished:
                    continue
                r.generated += 1
                send({"type": "token", "id": r.id, "tokens": 1, "text": tok.decode([token]), "t_ns": t})
                if r.cancelled:
                    finish(r, "abort")
                elif not r.ignore_eos and token == eos_id and r.generated >= r.min_tokens:
                    finish(r, "stop")
                elif r.generated >= r.max_tokens:
                    finish(r, "length")

        def end(self):
            pass

    class PerRowStop(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.tensor([r.finished or r.cancelled for r in batch], device=input_ids.device)

    first = batch[0]
    kwargs = dict(max_new_tokens=max(r.max_tokens for r in batch), streamer=Streamer(), pad_token_id=pad_id,
                  stopping_criteria=StoppingCriteriaList([PerRowStop()]))
    if all(r.ignore_eos for r in batch):
        kwargs["min_new_tokens"] = kwargs["max_new_tokens"]
    elif first.min_tokens:
        kwargs["min_new_tokens"] = first.min_tokens
    if first.temperature > 0:
        kwargs.update(do_sample=True, temperature=first.temperature)
        if first.top_p is not None:
            kwargs["top_p"] = float(first.top_p)
        if first.top_k is not None and int(first.top_k) > 0:
            kwargs["top_k"] = int(first.top_k)
    else:
        kwargs.update(do_sample=False)
    if first.seed is not None:
        torch.manual_seed(int(first.seed))
    with torch.inference_mode():
        model.generate(input_ids=ids, attention_mask=mask, **kwargs)
    for r in batch:
        finish(r, "abort" if r.cancelled else "length")


def main():
    args = parse_args()
    t0 = time.perf_counter()
    try:
        import torch
        model, tok, name = load(args)
        eos_id = model.config.eos_token_id if model.config.eos_token_id is not None else -1
        pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else max(eos_id, 0)
        warm = Request({"id": "warmup", "prompt_token_ids": [2, 100, 200, 300], "max_tokens": 4, "ignore_eos": True}, tok)
        send_real = globals()["send"]
        globals()["send"] = lambda m: None  # the warm-up's events are not reported
        try:
            run_batch(model, tok, [warm], args.device, eos_id, pad_id)
        finally:
            globals()["send"] = send_real
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
    except Exception as e:  # noqa: BLE001 - reported to llmbench, which fails the run clearly
        send({"type": "error", "message": f"engine start-up failed: {type(e).__name__}: {e}"})
        return 1
    send({"type": "ready", "engine": "hf_transformers", "model": name, "startup_s": time.perf_counter() - t0,
          "max_batch": args.max_batch, "monotonic_ns": now_ns(), "device": args.device, "dtype": args.dtype,
          "version": __import__("transformers").__version__})

    pending = queue.Queue()
    requests = {}

    def reader():
        for msg in read_messages():
            if msg.get("type") == "request":
                try:
                    r = Request(msg, tok)
                except Exception as e:  # noqa: BLE001
                    send({"type": "error", "id": str(msg.get("id")), "message": f"bad request: {e}"})
                    continue
                requests[r.id] = r
                pending.put(r)
            elif msg.get("type") == "cancel":
                r = requests.get(str(msg.get("id")))
                if r:
                    r.cancelled = True
        pending.put(None)

    threading.Thread(target=reader, daemon=True).start()
    while True:
        r = pending.get()
        if r is None:
            return 0
        batch = [r]
        while len(batch) < args.max_batch:
            try:
                nxt = pending.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                pending.put(None)
                break
            batch.append(nxt)
        try:
            run_batch(model, tok, [b for b in batch if not b.cancelled] or batch, args.device, eos_id, pad_id)
        except Exception as e:  # noqa: BLE001 - that batch fails, the adapter goes on
            for b in batch:
                if not b.finished:
                    b.finished = True
                    send({"type": "error", "id": b.id, "message": f"{type(e).__name__}: {e}"})
        for b in batch:
            requests.pop(b.id, None)


if __name__ == "__main__":
    sys.exit(main())
