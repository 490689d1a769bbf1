"""Blocking I/O: slots, not cores, bound throughput (Little's law)."""

from __future__ import annotations

from ..matrix.cells import Scenario, cell
from .base import Lesson, Results, cells_table


def section(results: Results) -> str:
    cells = results.scenario("io")
    if not cells:
        return ""
    return "\n".join([
        "### Blocking I/O: slots, not cores",
        "",
        f"Each `/io` request sleeps {results.settings['delay_s']:g} s. By Little's law a closed "
        "loop of users with no think time completes X = (requests in progress) ÷ (time each "
        "takes), so the ceiling is min(users, slots) ÷ delay, where a sync worker holds one "
        "request, a gthread worker one per thread, and a gevent worker up to "
        "`worker_connections` greenlets. `time.sleep` releases the GIL under threads and yields "
        "to the hub under gevent's monkey-patching, so the CPU hardly matters here:",
        "",
        cells_table(cells),
    ])


QUICK = (cell("io", "sync", 2, users=100), cell("io", "gthread", 2, 8, users=100),
         cell("io", "gevent", 1, users=100))

LESSON = Lesson(
    book="A Bit of Jargon — concurrency: how many requests are in progress at once",
    name="io",
    section=section,
    scenarios={"io": Scenario("io", "/io", "io")},
    assumptions={"io": "Little's law for a closed loop without think time: X = min(users, "
                       "slots) / delay, slots = workers (sync), workers × threads (gthread), "
                       "workers × worker_connections (gevent); assumes the server's own CPU "
                       "per request is small beside the delay."},
    quick=QUICK,
    # sync -w2: two requests at a time, one after another; gthread: sixteen sleeping side by
    # side; gevent: a hundred greenlets
    timelines=QUICK,
    full=(cell("io", "gevent", 2, users=100), cell("io", "sync", 1, users=100),
          cell("io", "gthread", 1, 4, users=100)),
    # io cells reach thousands of requests in 2 s; half a second warms 100 users' connections
    windows={"quick": (0.5, 2.0), "full": (2.0, 8.0)},
)
