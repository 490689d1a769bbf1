"""Celery's worker pools repeat the chapter: processes, threads, greenlets -- and scale-out.

The same CPU task (``is_prime``) sent by the same ``gevent -w1`` server to Celery workers
whose pool differs: ``prefork`` (processes: one task per core), ``threads`` (the GIL: one
core's worth), ``gevent`` (a CPU task blocks the worker's loop), ``solo`` (one at a time).
Then scale-out: one Celery worker process of concurrency 1 against two -- two hosts' worth
of workers, shown on one machine.
"""

from __future__ import annotations

from ..matrix.cells import Fleet, cell
from .base import Lesson, Results, ms

#: Four CPU users and the heartbeat: enough to keep any pool of concurrency 2 busy.
USERS = 5
POOLS = tuple(cell("offload", "gevent", 1, users=USERS, celery=fleet) for fleet in (
    Fleet("prefork", 2), Fleet("threads", 2), Fleet("gevent", 2), Fleet("solo", 1)))
SCALE_OUT = tuple(cell("offload", "gevent", 1, users=USERS, celery=Fleet("prefork", 1, k))
                  for k in (1, 2))


def _row(row: dict) -> str:
    fleet = row["celery"]
    fidelity = "—" if row["fidelity"] is None else f"{row['fidelity']:.2f}"
    celery_cpu = "—" if row.get("offload_cpu_pct") is None else f"{row['offload_cpu_pct']:.0f}%"
    return (f"| {fleet['pool']} | {fleet['concurrency']} | {fleet['processes']} | "
            f"{row['rps']:.2f} | {row['bound_rps']:.2f} | {fidelity} | {celery_cpu} | "
            f"{ms(row['p50_ms'])} | {ms(row['heartbeat_p99_ms'])} |")


def section(results: Results) -> str:
    pools = [r for r in map(results.row, POOLS) if r]
    scale = [r for r in map(results.row, SCALE_OUT) if r]
    if not pools and not scale:
        return ""
    header = ["| pool | concurrency | worker processes | rps | bound | fidelity | Celery + "
              "Redis CPU | /prime p50 ms | heartbeat p99 ms |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines = [
        "### Celery's pools: the chapter again, one level down",
        "",
        f"{USERS - 1} CPU users send `/offload/prime/<n>` through a `gevent -w1` server to "
        "Celery workers (`celery -A webapp.tasks worker --pool P --concurrency C`). The bound "
        "counts what can compute at once: prefork's processes; one per worker process for "
        "threads (the GIL), gevent (one loop) and solo.",
        "",
        *header, *map(_row, pools),
        "",
        "prefork computes on every core; threads share one GIL; a gevent pool runs a CPU task "
        "on its loop, which then cannot even fetch the next message until the task ends; "
        "solo is one task at a time by design.",
    ]
    if scale:
        lines += [
            "",
            "Scale-out: `prefork -c1` worker processes, each standing for a host that runs "
            "`REDIS_URL=redis://HOST:6379/0 celery -A webapp.tasks worker` (README, "
            "\"Offload backends\"). A second worker doubles the ceiling while cores remain:",
            "",
            *header, *map(_row, scale),
        ]
    return "\n".join(lines)


def explain(row: dict, settings: dict) -> str:
    """A Celery cell above its bound whose S is the idle round trip: prefetch."""
    if not (row.get("celery") and row["fidelity"] > settings["fidelity_band"][1]
            and row.get("service_source") != "load"):
        return ""
    return (" Its S is one task's idle round trip (publish, the task, the result "
            "back); under load the worker already holds its next task when one ends "
            "(prefetch), so the queue's own latency overlaps the work and a task "
            "costs less than that round trip: the bound is low.")


LESSON = Lesson(name="celerypools", section=section, full=(*POOLS, *SCALE_OUT),
    book="Python in the Multicore World — distributed task queues",
                explain=explain)
