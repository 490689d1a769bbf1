"""GIL-free work: C code that releases the GIL (hashlib) lets threads use every core."""

from __future__ import annotations

from ..matrix.cells import Scenario, cell
from . import gil
from .base import Lesson, Results, cells_table


def section(results: Results) -> str:
    cells = results.scenario("gilfree")
    if not cells:
        return ""
    s_hash = cells[0]["service_time_ms"] or 0
    lines = [
        "### GIL-free work: threads scale when C releases the GIL",
        "",
        f"`/hash?mb={results.settings.get('mb', 64)}` hashes in C (S_hash = {s_hash:.0f} ms). "
        "The chapter's rule: every blocking I/O call and some CPU-intensive C code — hashlib, "
        "zlib, bz2, NumPy — releases the GIL, so threads of one process can use several cores:",
        "",
        cells_table(cells),
    ]
    one, four = results.row(gil.ONE), results.row(gil.FOUR)
    if one and four:
        lines += ["", f"Contrast `/prime` on the same worker: {one['rps']:.1f} rps with 1 thread, "
                  f"{four['rps']:.1f} with 4 — pure Python never leaves the GIL."]
    return "\n".join(lines)


LESSON = Lesson(
    book="Processes, Threads, and Python's Infamous GIL — C code that releases the GIL",
    name="gilfree",
    section=section,
    scenarios={"gilfree": Scenario("gilfree", "/hash", "gilfree")},
    assumptions={"gilfree": "hashlib releases the GIL, so threads count: X = min(users, "
                            "parallel, cores) / S_hash, parallel = workers × threads (gthread) "
                            "or workers (sync; gevent, whose hub still waits for the C call); "
                            "assumes memory bandwidth is not the limit."},
    quick=(cell("gilfree", "gthread", 1, 4, users=4),),
    full=(cell("gilfree", "gthread", 1, 1, users=4), cell("gilfree", "sync", 2, users=4)),
)
