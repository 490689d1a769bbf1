"""The services a cell needs beside its server, started before it, stopped after.

``OFFLOAD_BACKEND=celery``: a redis-server of the cell's own and the cell's Celery fleet
(``processes`` workers, each standing for a host). The other backends need nothing
outside gunicorn (its pool processes and dirty workers are the master's descendants).
A cell with a database (``Cell.db``): a PostgreSQL cluster of its own, with the cell's
``max_connections``, reached through ``DATABASE_URL``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ..matrix.cells import Cell
from .celeryworker import CeleryWorker
from .daemon import Missing, require
from .postgres import PostgresServer, bindir
from .redis import RedisServer

#: Seconds a Celery worker gets to finish its tasks once the load is over (then SIGKILL).
CELERY_STOP_GRACE_S = 1.0


@dataclass
class Services:
    """What the server needs to reach them, and their processes for the CPU meter."""

    env: tuple[tuple[str, str], ...] = ()
    daemons: list = field(default_factory=list)

    def wait_ready(self) -> None:
        """Wait until every service is ready (the Celery workers boot meanwhile)."""
        for daemon in self.daemons:
            daemon.wait_ready()

    def processes(self) -> list[psutil.Process]:
        return [p for daemon in self.daemons for p in daemon.processes()]

    @property
    def meter(self) -> Callable[[], list[psutil.Process]] | None:
        return self.processes if self.daemons else None


def unavailable(cell: Cell) -> str | None:
    """Why ``cell`` cannot run on this machine (a program it needs is missing), else None."""
    return lacking(cell.needs)


def lacking(needs: Iterable[str]) -> str | None:
    """Why these services (``Cell.needs``' names) cannot run here: the one line that says
    how to get the first that is missing; None when all are installed."""
    try:
        for need in needs:
            if need == "PostgreSQL":
                bindir()
            elif program := {"Redis": "redis-server", "nginx": "nginx", "wrk": "wrk"}.get(need):
                require(program)
    except Missing as missing:
        return str(missing)
    return None


@contextlib.contextmanager
def cell_services(cell: Cell, log_dir: Path, extra_env: dict[str, str] | None = None,
                  *, wait: bool = True) -> Iterator[Services]:
    """Start what ``cell`` needs (its database, what it offloads to); stop and reap it all
    on the way out, whatever happens.

    Everything is ready on entry -- or, with ``wait=False``, the database and Redis are and
    the Celery workers
    boot (≈ 2 s of imports) while the caller starts its server: the caller then calls
    :meth:`Services.wait_ready` before the load.
    """
    with contextlib.ExitStack() as stack:
        services = Services()
        if cell.db:
            db = stack.enter_context(PostgresServer(max_connections=cell.db.max_connections,
                                                    log_path=log_dir / "postgres.log"))
            services = Services(env=(("DATABASE_URL", db.url),), daemons=[db])
        if cell.celery is None:
            yield services
            return
        redis = stack.enter_context(RedisServer(log_path=log_dir / "redis.log"))
        services = Services(env=(*services.env, ("REDIS_URL", redis.url)),
                            daemons=[*services.daemons, redis])
        workers = [CeleryWorker(redis.url, pool=cell.celery.pool,
                                concurrency=cell.celery.concurrency, extra_env=extra_env,
                                log_path=log_dir / f"celery-{k}.log")
                   for k in range(1, cell.celery.processes + 1)]
        for worker in workers:
            worker.stop_grace = CELERY_STOP_GRACE_S
            stack.callback(worker.stop)
            worker.launch()
            services.daemons.append(worker)
        if wait:
            services.wait_ready()
        yield services
