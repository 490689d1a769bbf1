"""The lab's nginx in front of a cell's server: the load and the slow clients go through it."""

from __future__ import annotations

import contextlib

from ...load.serve import Run
from ...services.nginx import NginxProxy
from .base import CellPart, Context


class Proxy(CellPart):
    @classmethod
    def of(cls, ctx: Context) -> Proxy | None:
        return cls(ctx) if ctx.cell.proxy else None

    def ready(self, run: Run, stack: contextlib.ExitStack) -> None:
        stack.enter_context(NginxProxy(self.ctx.port, port=self.ctx.front,
                                       log_path=self.ctx.cell_dir / "nginx.log"))
