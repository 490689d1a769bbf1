"""The event loop's own watchdog (gevent's hub, asyncio's loop): how long it was blocked."""

from __future__ import annotations

from ...load.serve import Run
from ..monitors import MONITORS, LoopMonitor
from .base import CellPart, Context


class LoopWatch(CellPart):
    @classmethod
    def of(cls, ctx: Context) -> LoopWatch | None:
        return cls(ctx) if ctx.cell.spec.model in MONITORS else None

    @property
    def monitor(self) -> LoopMonitor:
        return MONITORS[self.ctx.cell.spec.model]

    def env(self) -> tuple[tuple[str, str], ...]:
        return self.monitor.env

    def after_load(self, run: Run) -> None:
        self.log = run.server.log_text()

    def fields(self, run: Run) -> dict:
        hub, blocked_s = self.monitor.blocked(self.log, *run.meter.wall_window)
        return {"hub_blocked_reports": hub, "hub_blocked_s": blocked_s,
                # per worker: 100% = every worker's loop frozen for the whole window
                "hub_blocked_pct": 100 * blocked_s / (run.summary.window_s
                                                      * self.ctx.cell.spec.workers)}
