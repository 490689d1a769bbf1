"""What an optional part of a matrix cell is: a :class:`~loadtests.load.serve.Part` of the
served load that also writes its own fields into the cell's result.

A part is made for a cell by its class's :meth:`CellPart.of` (None: the cell does not use
it); :mod:`loadtests.matrix.parts` lists the classes in the order their hooks run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...load.serve import Part, Run
from ..cells import Cell, Scenario
from ..settings import Settings


@dataclass(frozen=True)
class Context:
    """What a part may read of the cell it is made for."""

    cell: Cell
    scenario: Scenario
    settings: Settings
    cell_dir: Path
    port: int  # the server's
    front: int  # where the load and the slow clients connect: the server, or its proxy

    @property
    def front_url(self) -> str:
        return f"http://127.0.0.1:{self.front}"


class CellPart(Part):
    """A part of a cell run. Subclasses say when a cell uses them and what they record."""

    @classmethod
    def of(cls, ctx: Context) -> CellPart | None:
        """This part for ``ctx``'s cell, or None when the cell does not use it."""
        return cls(ctx)

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def fields(self, run: Run) -> dict:
        """Its fields in the cell's result (:class:`~loadtests.matrix.result.CellResult`)."""
        return {}

    def finish(self, row: dict, run: Run) -> None:
        """Once the result is built (a trace draws its timeline with the cell's numbers)."""
