"""What a thread pays to take the GIL back while another thread computes: after a short
release, or after a wait.

The twin (:mod:`loadtests.model.gil`) makes a thread that comes back for the GIL while
another computes wait a switch interval (5 ms), then ask the holder to drop it: CPython's
rule for a thread that was *waiting* (``take_gil``). A *short* release is another matter:
``send`` of an answer, or ``recv`` of a request already in the socket's buffer, lets the
GIL go for a few microseconds, and CPython's ``take_gil`` takes it back at once if it is
still free -- the waiter it signalled is only now being woken. Here one thread computes
(pure Python, the GIL held) for the whole measurement, and this thread, :data:`TRIALS`
times, sleeps 3 ms (a wait: it comes back for the GIL behind the computing one) and then
times one step: a ``send`` of 200 bytes on a socket pair, a ``recv`` of bytes already
there, or the next 3 ms ``sleep`` itself (its overshoot: the wait a wake-up pays). The
share of each step that cost a millisecond or more says which of them the twin must charge
a switch interval.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Trials per step; each sleeps :data:`NAP_S` first (a wake behind the computing thread).
TRIALS, NAP_S = 200, 0.003
#: A step that took this long paid for a GIL hand-over (a switch interval is 5 ms).
PAID_S = 0.001
#: The steps, as the table names them, each after this many seconds of Python (a request
#: runs some between taking the GIL and its next read or write: gunicorn's own, the app's);
#: and the bytes sent or read.
STEPS = (("send", 0.0), ("recv", 0.0), ("send", GAP_S := 0.0001), ("recv", GAP_S),
         ("wake", 0.0))
PAYLOAD = b"x" * 200


def observe(trials: int = TRIALS) -> list[dict]:
    """A row per step: its time's percentiles, and the share that cost :data:`PAID_S`."""
    near, far = socket.socketpair()
    with near, far, computing():
        return [_row(step, gap, _timed(_step(step, near, far), gap, trials))
                for step, gap in STEPS]


@contextmanager
def computing() -> Iterator[None]:
    """Another thread running pure Python, holding the GIL whenever it can, while inside."""
    stop = threading.Event()

    def spin() -> None:
        count = 0
        while not stop.is_set():
            count += 1

    thread = threading.Thread(target=spin, name="computing", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _step(step: str, near: socket.socket,
          far: socket.socket) -> tuple[Callable, Callable, Callable]:
    """One step: (what runs untimed before the nap, what is timed after it, what runs
    untimed after). A ``send``'s bytes are read back after it; a ``recv``'s are sent before
    its nap, so that each ``recv`` finds its request already there."""
    def nothing():
        return None

    if step == "send":
        return nothing, lambda: near.send(PAYLOAD), lambda: far.recv(len(PAYLOAD))
    if step == "recv":
        return lambda: near.sendall(PAYLOAD), lambda: far.recv(len(PAYLOAD)), nothing
    return nothing, lambda: time.sleep(NAP_S), nothing


def _timed(steps: tuple[Callable, Callable, Callable], gap: float,
           trials: int) -> list[float]:
    """Each trial's step in seconds, timed after a nap and ``gap`` s of Python: the
    computing thread held the GIL during the nap and now waits to take it back."""
    before, act, after = steps
    seconds = []
    for _ in range(trials):
        before()
        time.sleep(NAP_S)
        _python(gap)
        began = time.perf_counter()
        act()
        seconds.append(time.perf_counter() - began)
        after()
    return seconds


def _python(seconds: float) -> None:
    """Run Python, the GIL held, for ``seconds``."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _row(step: str, gap: float, seconds: list[float]) -> dict:
    """A step's row: for the wake, what the nap took beyond its 3 ms."""
    paid = [s - NAP_S for s in seconds] if step == "wake" else seconds
    cuts = statistics.quantiles(paid, n=100, method="inclusive")
    return {"kind": "gilhop", "step": step, "gap_ms": gap * 1000, "trials": len(paid),
            "p50_ms": cuts[49] * 1000, "p90_ms": cuts[89] * 1000, "max_ms": max(paid) * 1000,
            "paid_share": sum(s >= PAID_S for s in paid) / len(paid)}


#: What each step is, as the table says it.
SAID = {"send": "`send` of a 200-byte answer", "recv": "`recv` of a request already there",
        "wake": "a wake-up: a 3 ms `sleep`, beyond its 3 ms"}


def lines(rows: list[dict]) -> list[str]:
    """The steps' table and what it says: lines of the open-traffic lesson's section (a
    blank line first)."""
    if not rows:
        return []
    out = ["", "What a thread pays to take the GIL back while another thread computes "
           f"({rows[0]['trials']} trials of each step, each after the thread came back for "
           "the GIL from a 3 ms sleep and then ran *Python ms* of Python; *paid*: the share "
           "that took a millisecond or more, a hand-over of the GIL):", "",
           "| step | Python ms | p50 ms | p90 ms | max ms | paid |",
           "|---|---:|---:|---:|---:|---:|"]
    out += [f"| {SAID[row['step']]} | {row['gap_ms']:g} | {row['p50_ms']:.3f} | "
            f"{row['p90_ms']:.3f} | {row['max_ms']:.1f} | {row['paid_share']:.2f} |"
            for row in rows]
    return [*out, "", *_reading(rows)]


def _reading(rows: list[dict]) -> list[str]:
    """What the shares say, where the table has every kind of step."""
    short = [row for row in rows if row["step"] != "wake"]
    wakes = [row for row in rows if row["step"] == "wake"]
    if not short or not wakes:
        return []
    at_once = [row["paid_share"] for row in short if not row["gap_ms"]]
    later = [row["paid_share"] for row in short if row["gap_ms"]]
    gap = max(row["gap_ms"] for row in short)
    shares = ", ".join(part for part in (
        at_once and f"{_span(at_once)} of the trials right after the hand-over",
        later and f"{_span(later)} after {gap:g} ms of Python") if part)
    return [f"A short release (`send`, `recv` of bytes already there) paid a hand-over in "
            f"{shares}: CPython's `take_gil` takes the GIL back at once if it is free, while "
            "the thread it signalled is still waking; right after a hand-over the thread "
            "that lost the GIL is still awake, and catches it more often. A wake-up paid in "
            f"{_span([row['paid_share'] for row in wakes])} (p50 "
            f"{statistics.median(row['p50_ms'] for row in wakes):.1f} ms): a waiting thread "
            "waits a switch interval, then asks the holder to drop the GIL. The twin "
            "therefore charges a gthread request a hand-over at each wake-up (the worker's "
            "main thread's, before the request has a thread and after it frees one; its "
            "thread's, taking it when idle) and none at its reads and writes."]


def _span(shares: list[float]) -> str:
    """Shares as the table writes them, a range where they differ ("0.04–0.41")."""
    low, high = (f"{share:.2f}" for share in (min(shares), max(shares)))
    return low if low == high else f"{low}–{high}"
