"""How long CPython's garbage collector stopped this process: each collection, by
generation, timed through ``gc.callbacks``.

A collection runs on whichever thread allocated past a threshold and holds the GIL the
while: every thread of the process, and every greenlet or task of its one event loop,
waits. A young collection takes well under a millisecond; a full one (generation 2) walks
every tracked object -- the whole app with its imports -- and, in a fresh worker of the
lab's Flask app, stops it for tens of milliseconds, about once in its first few thousand
requests. ``gc.freeze()`` once the app is loaded (the lab's ``GC_FREEZE=1``) moves those
objects out of the collector's reach, so later full collections are rarer and shorter.
The open-traffic lesson measures both.
"""

from __future__ import annotations

import gc
import time

#: Per generation: collections seen, their longest and total seconds.
_counts = [0, 0, 0]
_longest = [0.0, 0.0, 0.0]
_total = [0.0, 0.0, 0.0]
_began: list[float] = []


def _timed(phase: str, info: dict) -> None:
    if phase == "start":
        _began[:] = [time.perf_counter()]
        return
    if not _began:
        return
    took, generation = time.perf_counter() - _began.pop(), info["generation"]
    _counts[generation] += 1
    _total[generation] += took
    _longest[generation] = max(_longest[generation], took)


def install() -> None:
    """Time every collection from now on (once per process)."""
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)


def snapshot() -> dict:
    """The collections timed so far, by generation (0, 1, 2), and the objects frozen."""
    return {"timed": _timed in gc.callbacks,
            "collections": list(_counts),
            "longest_ms": [round(s * 1000, 3) for s in _longest],
            "total_ms": [round(s * 1000, 3) for s in _total],
            "frozen": gc.get_freeze_count()}
