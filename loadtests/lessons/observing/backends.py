"""What each offload backend costs beside its throughput: one trivial call's round trip,
and the processes and memory of a 2-worker server that offloads.

For each backend a fresh ``sync -w2`` server (with, for Celery, its own redis-server and a
``prefork -c2`` worker) is warmed, then answers ``/offload/prime/2`` one call at a time:
the ``elapsed`` the server reports is the backend's round trip alone (``is_prime(2)`` takes
well under a microsecond), without HTTP. Then every process of the deployment is counted,
with its RSS (resident memory, shared pages counted in each process) and USS (memory only
that process holds: the fair sum).
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
from pathlib import Path

import psutil

from webapp.offload import BACKENDS

from ...load.client import get
from ...matrix.cells import Fleet, cell
from ...servers import GunicornServer
from ...services.fleet import cell_services, unavailable

CALLS = 200
WARMUP = 20


def _memory(processes: list[psutil.Process]) -> tuple[int, float, float]:
    """How many processes, and their summed RSS and USS in MiB."""
    rss = uss = 0
    alive = 0
    for proc in processes:
        try:
            info = proc.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        alive += 1
        rss, uss = rss + info.rss, uss + info.uss
    return alive, rss / 2**20, uss / 2**20


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure(backend: str, calls: int = CALLS) -> dict:
    """One backend: the trivial call's round trip, and the deployment's processes and memory."""
    the_cell = cell("offload", "sync", 2, users=1, offload=backend,
                    celery=Fleet("prefork", 2) if backend == "celery" else None)
    with tempfile.TemporaryDirectory(prefix="offloadwatch-") as folder, \
            cell_services(the_cell, Path(folder)) as services:
        spec = dataclasses.replace(the_cell.spec, env=the_cell.spec.env + services.env)
        with GunicornServer(spec) as server:
            for _ in range(WARMUP):  # each new connection may land on either worker
                get(f"{server.url}/offload/prime/2")
            elapsed = [get(f"{server.url}/offload/prime/2").body["elapsed"] * 1000
                       for _ in range(calls)]
            web, web_rss, web_uss = _memory(server.processes())
            extra, extra_rss, extra_uss = _memory(services.processes())
    return {
        "backend": backend,
        "calls": calls,
        "p50_ms": statistics.median(elapsed),
        "p99_ms": _percentile(elapsed, 99),
        "processes": web + extra,
        "gunicorn_processes": web,
        "rss_mb": web_rss + extra_rss,
        "uss_mb": web_uss + extra_uss,
    }


def watch() -> list[dict]:
    """Every backend whose programs this machine has (Celery needs redis-server)."""
    rows = []
    for backend in BACKENDS:
        why = unavailable(cell("offload", "sync", users=1, offload=backend))
        rows.append({"backend": backend, "skipped": why} if why else measure(backend))
    return rows
