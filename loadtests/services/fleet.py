"""The services a cell's offload backend needs, started before its server, stopped after.

``OFFLOAD_BACKEND=celery``: a redis-server of the cell's own and the cell's Celery fleet
(``processes`` workers, each standing for a host). The other backends need nothing
outside gunicorn (its pool processes and dirty workers are the master's descendants).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ..cells import Cell
from .celeryworker import CeleryWorker
from .daemon import Missing, require
from .redis import RedisServer

#: Seconds a Celery worker gets to finish its tasks once the load is over (then SIGKILL).
STOP_GRACE_S = 1.0


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
    needs = ["redis-server"] * bool(cell.celery) + ["nginx"] * bool(cell.proxy)
    for program in needs:
        try:
            require(program)
        except Missing as missing:
            return str(missing)
    return None


@contextlib.contextmanager
def offload_services(cell: Cell, log_dir: Path, extra_env: dict[str, str] | None = None,
                     *, wait: bool = True) -> Iterator[Services]:
    """Start what ``cell`` offloads to; stop and reap it all on the way out, whatever happens.

    Everything is ready on entry -- or, with ``wait=False``, Redis is and the Celery workers
    boot (≈ 2 s of imports) while the caller starts its server: the caller then calls
    :meth:`Services.wait_ready` before the load.
    """
    if cell.celery is None:
        yield Services()
        return
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(RedisServer(log_path=log_dir / "redis.log"))
        services = Services(env=(("REDIS_URL", redis.url),), daemons=[redis])
        workers = [CeleryWorker(redis.url, pool=cell.celery.pool,
                                concurrency=cell.celery.concurrency, extra_env=extra_env,
                                log_path=log_dir / f"celery-{k}.log")
                   for k in range(1, cell.celery.processes + 1)]
        for worker in workers:
            worker.stop_grace = STOP_GRACE_S
            stack.callback(worker.stop)
            worker.launch()
            services.daemons.append(worker)
        if wait:
            services.wait_ready()
        yield services
