"""The cell's request timeline: the tracer in its workers, threads sampled through the
window, the spans flushed as the workers quit, the timeline drawn with the cell's numbers."""

from __future__ import annotations

import contextlib

from ...load.serve import Run
from ...timeline.record import FLUSH_TIMEOUT_S, CellTrace
from .base import CellPart, Context


class Timeline(CellPart):
    @classmethod
    def of(cls, ctx: Context) -> Timeline | None:
        wanted = ctx.cell.key() in ctx.settings.traced and ctx.cell.spec.runs_on.traces
        return cls(ctx) if wanted else None

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.trace = CellTrace(ctx.cell_dir, True)

    def env(self) -> tuple[tuple[str, str], ...]:
        return self.trace.env

    def locust_flags(self) -> tuple[str, ...]:
        return self.trace.locust_flags

    def during(self, run: Run) -> contextlib.AbstractContextManager:
        return self.trace.sampling(run.workers)

    def after_load(self, run: Run) -> None:
        # its workers write their spans as they quit
        run.server.quit(lambda: self.trace.flushed(run.workers), timeout=FLUSH_TIMEOUT_S)

    def finish(self, row: dict, run: Run) -> None:
        self.trace.finish(row, run.summary.window_wall)
