"""What a cell needs beside its server -- its PostgreSQL, its Redis and Celery fleet -- and
the database's own Locust flag and field."""

from __future__ import annotations

import contextlib

from ...load.locustrun import DB_WAIT_ROW, number
from ...load.serve import Run
from ...services.fleet import Services, cell_services
from .base import CellPart, Context


class BesideServices(CellPart):
    """Started before the server (their addresses are its environment), ready before the
    load; their CPU metered as ``offload`` (redis-server and the Celery fleet)."""

    @classmethod
    def of(cls, ctx: Context) -> BesideServices | None:
        return cls(ctx) if ctx.cell.celery or ctx.cell.db else None

    services: Services | None = None

    def enter(self, run: Run, stack: contextlib.ExitStack) -> None:
        # the Celery workers boot (≈ 2 s of imports) while the server does
        self.services = stack.enter_context(
            cell_services(self.ctx.cell, self.ctx.cell_dir, wait=False))

    def env(self) -> tuple[tuple[str, str], ...]:
        return self.services.env if self.services else ()

    def ready(self, run: Run, stack: contextlib.ExitStack) -> None:
        self.services.wait_ready()

    def meters(self) -> dict:
        return {"offload": self.services.meter} if self.services.meter else {}

    def fields(self, run: Run) -> dict:
        return {"offload_cpu_pct": run.meter.percent("offload") if self.services.meter
                else None}


class DatabaseWait(CellPart):
    """The mean seconds a ``/db`` request waited for a pooled connection, as the app timed
    it; asgi's blocking driver inside the coroutine is the locustfile's ``--db-sync``."""

    @classmethod
    def of(cls, ctx: Context) -> DatabaseWait | None:
        return cls(ctx) if ctx.cell.db else None

    def locust_flags(self) -> tuple[str, ...]:
        return ("--db-sync",) if self.ctx.cell.db.sync else ()

    def fields(self, run: Run) -> dict:
        return {"db_pool_wait_ms": number(run.summary.rows.get(DB_WAIT_ROW, {}).get(
            "Average Response Time"))}
