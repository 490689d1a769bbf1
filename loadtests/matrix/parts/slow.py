"""Slow clients (slowloris) held open against the cell's front through the measured window."""

from __future__ import annotations

import contextlib

from ...load.serve import Run
from ...load.trickle import SlowClients
from .base import CellPart


class Slowloris(CellPart):
    """Every cell has one (``cell.slow`` of them: none is a run with no slow client), so
    that every result says how many it had."""

    clients: SlowClients | None = None

    def before_load(self, run: Run, stack: contextlib.ExitStack) -> None:
        self.clients = stack.enter_context(
            SlowClients("127.0.0.1", self.ctx.front, self.ctx.cell.slow))

    def after_load(self, run: Run) -> None:
        self.clients.stop()

    def fields(self, run: Run) -> dict:
        # how many there were is the cell's identity (slow_clients); what they met is ours
        return {k: v for k, v in self.clients.summary().items() if k != "slow_clients"}
