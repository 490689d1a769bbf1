"""Watch the spinner: how many frames ``/spin/<n>`` streams on each worker model.

The book's spinner over HTTP: a frame every 0.1 s while ``is_prime(n)`` runs
concurrently. Threads keep it turning; a plain gevent or asgi worker shows one
frame and then nothing until the answer (its event loop is blocked); napping
or a process pool makes it turn again.
"""

from __future__ import annotations

import re
import time
import urllib.request

from ...servers import GunicornServer, ServerSpec

RESULT = re.compile(r"\r(\d+) (?:is prime|is not prime) \((\d+\.\d\d) s, (\d+) frames\)\n$")

CASES = (
    ("gthread -w1 --threads 4", ServerSpec("gthread", threads=4), ""),
    ("sync -w1", ServerSpec("sync"), ""),
    ("gevent -w1", ServerSpec("gevent"), ""),
    ("gevent -w1", ServerSpec("gevent"), "nap=1"),
    ("gevent -w1", ServerSpec("gevent"), "offload=1"),
    ("asgi -w1", ServerSpec("asgi"), ""),
    ("asgi -w1", ServerSpec("asgi"), "nap=1"),
    ("asgi -w1", ServerSpec("asgi"), "offload=1"),
)


def watch_one(url: str) -> dict:
    """Read one spinner stream to its end: frames, seconds, and the longest gap between chunks."""
    start = last = time.perf_counter()
    longest_gap, text = 0.0, ""
    with urllib.request.urlopen(url, timeout=120) as response:
        while chunk := response.read1(4096):
            now = time.perf_counter()
            longest_gap = max(longest_gap, now - last)
            last, text = now, text + chunk.decode()
    match = RESULT.search(text)
    if not match:
        raise RuntimeError(f"unexpected spinner stream: {text[-120:]!r}")
    elapsed, frames = float(match.group(2)), int(match.group(3))
    return {"frames": frames, "elapsed_s": elapsed, "frames_per_s": frames / elapsed,
            "longest_gap_s": longest_gap, "wall_s": last - start}


def watch(n: int) -> list[dict]:
    """One stream per case, each on a fresh server."""
    rows = []
    for label, spec, query in CASES:
        with GunicornServer(spec) as server:
            row = watch_one(f"{server.url}/spin/{n}" + (f"?{query}" if query else ""))
        rows.append({"label": label, "query": query or "—", **row})
    return rows
