"""The matrix's presets, derived from the lessons: which cells run, with which windows.

``quick`` (``make demo``) runs each lesson's quick cells; ``full`` (``make
matrix``) runs those and each lesson's full-only cells, with longer windows.
A cell that two lessons need runs once.
"""

from __future__ import annotations

from ..lessons import LESSONS, SCENARIO
from .cells import Cell

#: (warm-up, measured) seconds for a scenario whose lesson sets no window of its own.
#: CPU cells complete one request per S per core, so they get longer windows than io's.
DEFAULT_WINDOW = {"quick": (0.5, 3.5), "full": (2.0, 10.0)}
NAMES = tuple(DEFAULT_WINDOW)
#: Runs per cell (``--repeat``): the full preset runs each cell twice, so that a spread can
#: tell noise from effect; make demo stays within its budget with one.
REPEAT = {"quick": 1, "full": 2}
#: Whether each cell's S is also timed in the runner, as a cross-check of the in-server S
#: (about half a second per CPU cell on the lab's slower VM: make demo goes without).
CROSS_CHECK = {"quick": False, "full": True}


def cells(preset: str) -> tuple[Cell, ...]:
    """The preset's cells in teaching order, each once."""
    chosen: dict[Cell, None] = {}
    for lesson in LESSONS:
        extra = lesson.full if preset == "full" else ()
        for cell in (*lesson.quick, *extra):
            if cell.scenario not in SCENARIO:
                raise ValueError(f"lesson {lesson.name!r} has a cell of unknown scenario "
                                 f"{cell.scenario!r}")
            chosen.setdefault(cell)
    return tuple(chosen)


def windows(preset: str) -> dict[str, tuple[float, float]]:
    """(warm-up, measured) seconds by scenario, "other" for the rest."""
    own = {name: lesson.windows[preset] for lesson in LESSONS if preset in lesson.windows
           for name in lesson.scenarios}
    return own | {"other": DEFAULT_WINDOW[preset]}


def traced(preset: str, chosen) -> frozenset:
    """The keys of the chosen cells whose timelines are drawn: every one with the full
    preset; otherwise those a lesson shows."""
    if preset == "full":
        return frozenset(cell.key() for cell in chosen)
    shown = {cell.key() for lesson in LESSONS for cell in lesson.timelines}
    return frozenset(cell.key() for cell in chosen if cell.key() in shown)
