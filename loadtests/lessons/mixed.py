"""Mixed load: I/O requests stuck behind CPU work on the same workers (no single bound)."""

from __future__ import annotations

from ..cells import Scenario, cell
from .base import Lesson, Results


def section(results: Results) -> str:
    return ""  # its cells stand in the main table; no single-resource bound to discuss


LESSON = Lesson(
    name="mixed",
    section=section,
    scenarios={"mixed": Scenario("mixed", "Aggregated", None)},
    assumptions={"mixed": "No single-resource bound: I/O and CPU requests share the workers, "
                          "so no fidelity is computed."},
    full=(cell("mixed", "sync", 2, users=20), cell("mixed", "gthread", 2, 8, users=20),
          cell("mixed", "gevent", 1, users=20), cell("mixed", "gevent", 2, users=20)),
)
