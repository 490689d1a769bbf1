"""Offload backends side by side: the worker's own pool, gunicorn's dirty workers, Celery.

The same ``/offload/prime/<n>`` load on the same ``gevent -w1`` server, three places the
check can run: throughput against cores ÷ S, the heartbeat meanwhile; and, observed once per
run (:mod:`loadtests.lessons.observing.backends`), one trivial call's round trip and what each
deployment costs in processes and memory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..matrix.cells import cell
from .base import Lesson, Results, ms, switched

CELLS = {backend: cell("offload", "gevent", 1, users=3, offload=backend)
         for backend in ("pool", "dirty", "celery")}
WHERE = {"pool": "the worker's ProcessPoolExecutor (one per worker)",
         "dirty": "gunicorn's dirty workers (one pool per server)",
         "celery": "Celery over Redis (workers on any host)"}


def _fidelity(row: dict | None) -> str:
    return "—" if not row or row["fidelity"] is None else f"{row['fidelity']:.2f}"


def section(results: Results) -> str:
    rows = {b: results.row(c) for b, c in CELLS.items()}
    watched = {r["backend"]: r for r in results.extra("backends") if "skipped" not in r}
    if sum(1 for r in rows.values() if r) < 2 and not watched:
        return ""
    lines = [
        "### Offload backends: where the CPU work goes",
        "",
        "`OFFLOAD_BACKEND` moves `/offload/prime/<n>` between three places; the web worker "
        "(`gevent -w1` here) only waits, cooperatively. Throughput against cores ÷ S, the "
        "heartbeat meanwhile, and one trivial call's round trip (`/offload/prime/2`, the "
        "server's own `elapsed`: the backend alone, no HTTP) with the processes and memory "
        "of a `sync -w2` server that offloads (Celery: with its redis-server and a "
        "`prefork -c2` worker):",
        "",
        "| backend | where | /prime rps | fidelity | heartbeat p99 ms | trivial call p50 / p99 "
        "ms | processes | RSS MiB | USS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, row in rows.items():
        seen = watched.get(backend)
        if not row and not seen:
            continue
        call = f"{seen['p50_ms']:.2f} / {seen['p99_ms']:.2f}" if seen else "—"
        memory = (f"{seen['processes']} | {seen['rss_mb']:.0f} | {seen['uss_mb']:.0f}"
                  if seen else "— | — | —")
        lines.append(f"| {backend} | {WHERE[backend]} | "
                     f"{row['rps']:.1f} | {_fidelity(row)} | {ms(row['heartbeat_p99_ms'])} | "
                     if row else f"| {backend} | {WHERE[backend]} | — | — | — | ")
        lines[-1] += f"{call} | {memory} |"
    lines += [
        "",
        "All three reach cores ÷ S: the work leaves the web worker's process, so its loop "
        "keeps answering. They differ in what a call costs and where they can grow. The pool "
        "is the cheapest call (a pipe) but W workers × cores processes; dirty workers are one "
        "pool per server (fewer processes, less memory, a Unix-socket hop through the "
        "arbiter); Celery pays a Redis round trip twice (the task, then its result) and two "
        "more programs to run — and is the only one whose workers can be on other machines.",
    ]
    return "\n".join(lines)


def chart(results: Results, out: Path) -> list[str]:
    from ..matrix.charts import bars, figure, save

    watched = [r for r in results.extra("backends") if "skipped" not in r]
    if not watched:
        return []
    fig, ax = figure(6)
    bars(ax, [r["backend"] for r in watched],
         {"p50 ms": [r["p50_ms"] for r in watched], "p99 ms": [r["p99_ms"] for r in watched]})
    ax.set_title("/offload/prime/2: the backend's round trip (server-side elapsed)")
    ax.set_ylabel("ms")
    return [save(fig, out, "offload-backends.png")]


def observe(args: argparse.Namespace) -> list[dict]:
    from .observing.backends import watch

    return watch()


LESSON = Lesson(
    book="Python in the Multicore World — distributed task queues",
    name="backends",
    section=section,
    chart=chart,
    observation=switched("backends", "also time a trivial offload call and count processes "
                                     "and memory per offload backend", observe,
                         needs=("Redis",)),
    # make demo: the pool cell (offload lesson) beside Celery's
    quick=(CELLS["celery"],),
    full=(CELLS["dirty"],),
)
