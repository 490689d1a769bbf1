"""Which bound judges a cell: the model's ceiling on its primary throughput.

A scenario names its bound's kind (:attr:`loadtests.cells.Scenario.bound`);
this module turns the kind, the cell and the measured service times into
requests per second with the arithmetic of :mod:`loadtests.model.queueing`.

* ``io``: Little's law, min(users, slots) ÷ delay.
* ``db``: the same with the database's terms: a worker holds at most its pool's
  connections in queries, a driver that does not yield holds its whole worker (one query
  at a time), and all workers together at most the connections the cluster allows.
* ``cpu``: min(users, processes, cores) ÷ S -- threads and greenlets add nothing.
* ``closed``: a request waits ``delay`` then computes S (``/mixed``): each worker is a
  closed network of the requests it holds at once cycling between the wait and its one
  GIL (:func:`loadtests.model.closed_rps`, mean value analysis), the workers together
  at most cores ÷ S.
* ``nap``: the same with S_nap; ``offload``: the backend's processes count instead
  of the workers (the pool's, the dirty workers, or the Celery fleet's); ``gilfree``:
  threads count too (hashlib releases the GIL), with S_hash.
"""

from __future__ import annotations

import os

from webapp import offload

from ..model.queueing import closed_network_rps, cpu_bound_rps, io_bound_rps
from .cells import Cell, Scenario

#: The kinds whose ceiling is cores ÷ service time.
CPU_KINDS = ("cpu", "nap", "offload", "gilfree")


def parallelism(cell: Cell, scenario: Scenario) -> int:
    """How many of the cell's primary requests can run at once on its server."""
    spec, kind = cell.spec, scenario.bound
    if kind == "offload":
        if cell.celery:
            return cell.celery.parallelism
        if spec.offload == "dirty":
            return spec.dirty_workers
        return spec.workers * offload.pool.pool_size()
    if kind == "gilfree" and spec.model == "gthread":
        return spec.workers * spec.threads
    if kind == "gilfree" and spec.model == "asgi":
        # asyncio.to_thread's default executor: min(32, cores + 4) threads per worker
        return spec.workers * min(32, (os.cpu_count() or 1) + 4)
    return spec.workers


def db_slots(cell: Cell) -> float:
    """Queries the cell's server can have in PostgreSQL at once:
    min(workers × min(slots per worker, pool), connections allowed), where a worker whose
    driver does not cooperate with its model has one slot."""
    spec, db = cell.spec, cell.db
    per_worker = spec.slots / spec.workers if db.cooperates(spec.model) else 1
    return min(spec.workers * min(per_worker, db.pool), db.allowed)


def closed_bound(cell: Cell, users: int, delay: float, service: float, cores: int) -> float:
    """Per worker, mean value analysis of its requests in progress (its slots, or its share
    of the users if fewer: an even spread) cycling between ``delay`` and its GIL; summed,
    and at most ``cores`` ÷ S (the workers' GILs share the cores)."""
    spec = cell.spec
    return closed_network_rps(spec.slots, spec.workers, users, cores, delay, service)


def bound(cell: Cell, scenario: Scenario, *, delay: float, service: dict[str, float],
          cores: int) -> float | None:
    """The ceiling in requests per second, or None when no single resource bounds the cell.

    ``service`` maps a timing kind (cpu, nap, offload, gilfree) to its measured service time.
    """
    users = cell.users - scenario.heartbeat
    if scenario.bound == "io":
        return io_bound_rps(users, cell.spec.slots, delay)
    if scenario.bound == "db":
        return io_bound_rps(users, db_slots(cell), delay)
    if scenario.bound == "closed":
        return closed_bound(cell, users, delay, service["closed"], cores)
    if scenario.bound in CPU_KINDS:
        return cpu_bound_rps(users, parallelism(cell, scenario), cores,
                             service[scenario.timing])
    return None
