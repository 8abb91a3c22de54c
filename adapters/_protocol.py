"""Shared helpers for llmbench engine adapters (standard library only). See docs/adapter-protocol.md."""
import json
import sys
import threading
import time

_out_lock = threading.Lock()


def send(message):
    """Writes one JSON line to stdout (thread-safe) and flushes it at once."""
    line = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def now_ns():
    return time.monotonic_ns()


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def read_messages(stream=None):
    """Yields the JSON messages read from stdin, one per line, until EOF or shutdown."""
    stream = stream or sys.stdin
    for line in stream:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except json.JSONDecodeError as e:
            send({"type": "error", "message": f"bad request line: {e}"})
            continue
        if msg.get("type") == "shutdown":
            return
        yield msg
