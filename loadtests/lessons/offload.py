"""Offload to processes: one worker waits while its pool computes on every core."""

from __future__ import annotations

from ..matrix.cells import Scenario, cell
from .base import Lesson, Results, heartbeat_table


def section(results: Results) -> str:
    cells = [r for r in results.scenario("offload") if r.get("offload", "pool") == "pool"]
    if not cells:
        return ""
    plain = [results.twin(r, "heartbeat") for r in cells]
    return "\n".join([
        "### Offload to processes: one worker, every core",
        "",
        "`/offload/prime/<n>` runs `is_prime` in the worker's own `ProcessPoolExecutor` "
        "(spawned after the fork, shut down with the worker). The worker only waits on the "
        "result — cooperatively under gevent — so it keeps answering, and the pool's processes "
        "compute on all cores: CPU throughput reaches cores ÷ S with a single gunicorn worker.",
        "",
        heartbeat_table([r for r in plain if r] + cells),
    ])


LESSON = Lesson(
    book="A Homegrown Process Pool — the process-based solution",
    name="offload",
    section=section,
    scenarios={"offload": Scenario("heartbeat", "/prime", "offload", heartbeat=True,
                                   extra=("--offload",))},
    assumptions={"offload": "The cpu bound with the backend's processes as the parallelism: "
                            "min(cpu users, P, cores) / S, P = workers × OFFLOAD_PROCESSES "
                            "(pool), DIRTY_WORKERS (dirty), or per Celery worker process its "
                            "prefork concurrency, 1 for threads, gevent and solo (celery); S "
                            "the mean CPU seconds each check took in the backend's process "
                            "during the window (the `cpu` of /offload/prime's answers: a "
                            "queue's own latency overlaps the work under load, so an idle "
                            "round trip overstates it); the gunicorn worker only waits."},
    quick=(cell("offload", "gevent", 1, users=3),),
    timelines=(cell("offload", "gevent", 1, users=3),),  # the worker waits; the pool computes
    full=(cell("offload", "gthread", 1, 4, users=3),),
)
