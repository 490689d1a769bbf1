"""The lessons, in teaching order: the one list the presets, the runner and the report read.

To add a lesson, write one module here that builds a :class:`~.base.Lesson`
(its scenarios, cells, bound assumptions, report section, chart) and add it
to ``LESSONS`` below.
"""

from __future__ import annotations

from ..matrix.cells import Scenario
from . import (
    backends,
    balance,
    celerypools,
    convoy,
    cores,
    coroutines,
    dbasync,
    dbbudget,
    dbpool,
    dbyield,
    gil,
    gilfree,
    heartbeat,
    hosts,
    hub,
    io,
    mixed,
    nap,
    offload,
    opentraffic,
    overhead,
    overload,
    peerservers,
    slowclients,
    spinner,
    switch,
)
from .base import Lesson, Observation, Results

LESSONS: tuple[Lesson, ...] = tuple(module.LESSON for module in (
    io, gil, cores, heartbeat, nap, gilfree, offload, backends, celerypools, switch, hub,
    spinner, coroutines, overhead, slowclients, balance, mixed, convoy,
    dbyield, dbpool, dbbudget, dbasync, peerservers, hosts, opentraffic, overload,
))


def _scenarios(lessons: tuple[Lesson, ...]) -> dict[str, Scenario]:
    merged: dict[str, Scenario] = {}
    for lesson in lessons:
        for name, scenario in lesson.scenarios.items():
            if name in merged:
                raise ValueError(f"scenario {name!r} is introduced by two lessons")
            merged[name] = scenario
    return merged


#: Every scenario by name, each introduced by exactly one lesson.
SCENARIO: dict[str, Scenario] = _scenarios(LESSONS)
SCENARIOS = tuple(SCENARIO)
#: The bound's assumptions per scenario, as the report lists them.
ASSUMPTIONS: dict[str, str] = {name: text for lesson in LESSONS
                               for name, text in lesson.assumptions.items()}

__all__ = ["ASSUMPTIONS", "LESSONS", "SCENARIO", "SCENARIOS", "Lesson", "Observation",
           "Results"]
