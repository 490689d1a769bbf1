"""S timed in the cell's own idle server, through its front, just before the load."""

from __future__ import annotations

import contextlib

from ...load.serve import Run
from .base import CellPart


class IdleTiming(CellPart):
    """The ``elapsed`` of a few requests of the work the bound rests on (none for a bound
    that is not timed): the hashing bound's S, and the idle S beside S under load."""

    def __init__(self, ctx):
        super().__init__(ctx)
        self.samples: list[float] = []

    def ready(self, run: Run, stack: contextlib.ExitStack) -> None:
        ctx = self.ctx
        self.samples = ctx.settings.time_in_server(ctx.front_url, ctx.scenario.timing,
                                                   ctx.settings.prime_n(ctx.cell))

    def fields(self, run: Run) -> dict:
        return {"service_samples_ms": [s * 1000 for s in self.samples]}
