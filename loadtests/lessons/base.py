"""What a lesson is: the cells it needs, the bound that judges them, its section and chart.

A lesson module builds one :class:`Lesson`; :mod:`loadtests.lessons` lists them
in teaching order, and everything else -- the presets, the runner, the report
skeleton -- is derived from that list without knowing any lesson by name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..matrix.cells import Cell, Scenario
from ..matrix.result import row_key, upgrade


class Results:
    """A read-only view of one run's ``results.json`` for the lessons to render from."""

    def __init__(self, data: dict):
        data = self.data = upgrade(data)  # any version's results.json, as this one writes it
        self.settings: dict = data["settings"]
        self.machine: dict = data["machine"]
        self.rows = [row for row in data["cells"] if "error" not in row]

    def row(self, cell: Cell) -> dict | None:
        """The row measured for ``cell`` (found by what it is, whatever its users)."""
        return self._by_key(cell.key())

    def pairs(self, cells) -> list[tuple[dict, dict]]:
        """The rows of each (before, after) pair of cells whose both cells were measured."""
        rows = [(self.row(a), self.row(b)) for a, b in cells]
        return [(a, b) for a, b in rows if a and b]

    def twin(self, row: dict, scenario: str) -> dict | None:
        """The row of the same server under another scenario."""
        return self._by_key((scenario, *row_key(row)[1:]))

    def scenario(self, *names: str) -> list[dict]:
        return [row for row in self.rows if row["scenario"] in names]

    def extra(self, name: str) -> list[dict]:
        """What a lesson's observation recorded in this run (empty when it did not run)."""
        return self.data.get(name) or []

    def _by_key(self, key: tuple) -> dict | None:
        return next((row for row in self.rows if row_key(row) == key), None)


@dataclass(frozen=True)
class Observation:
    """Something a lesson watches once per run besides its cells (e.g. the spinner stream).

    ``add_arguments`` adds its command-line options; ``run`` returns its rows, stored in
    ``results.json`` under the lesson's name, or None when it is off this time.
    """

    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], list[dict] | None]
    #: The attribute of the parsed arguments that turns it on or off (None: not chosen).
    dest: str = ""
    #: What it needs beyond Python and the pins (see :data:`NEEDS`).
    needs: tuple[str, ...] = ()


#: The sections of *Fluent Python* (2nd ed.), chapter 19, in the book's order, and the
#: lab's own ground past it. A lesson's ``book`` starts with one, then says what it takes.
BOOK = ("A Bit of Jargon", "Processes, Threads, and Python's Infamous GIL",
        "A Concurrent Hello World", "The Real Impact of the GIL", "A Homegrown Process Pool",
        "Python in the Multicore World", "Past the chapter")
#: What a lesson can need beyond Python and the pinned packages, in the order shown.
NEEDS = ("Redis", "nginx", "PostgreSQL", "wrk", "root", "Linux")


def switched(flag: str, help_text: str, run: Callable[[argparse.Namespace], list[dict]],
             more: Callable[[argparse.ArgumentParser], None] | None = None, *,
             whole_preset: bool = False, needs: tuple[str, ...] = ()) -> Observation:
    """An observation behind ``--FLAG`` / ``--no-FLAG``, on by default with the full preset
    (``whole_preset``: only when no subset of its cells was chosen either -- ``make
    matrix``, not ``--full --scenarios ...``); ``more`` adds its other options."""
    dest = flag.replace("-", "_")
    default = ("on with --full and every cell (no --scenarios, --models, --servers or "
               "--offload subset)" if whole_preset else "on with --full")

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=None,
                            help=f"{help_text} (default: {default})")
        if more:
            more(parser)

    def observe(args: argparse.Namespace) -> list[dict] | None:
        chosen = getattr(args, dest)
        if chosen is None:
            chosen = args.preset == "full" and (
                not whole_preset or getattr(args, "whole_preset", True))
        return run(args) if chosen else None

    return Observation(add_arguments, observe, dest, needs)


@dataclass(frozen=True)
class Lesson:
    """One lesson of the chapter, as the matrix runs and reports it."""

    name: str
    #: Its report section, rendered from its own cells ("" when the run has none).
    section: Callable[[Results], str]
    #: Scenarios this lesson introduces, by name: how Locust loads, which bound judges.
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)
    #: One line per scenario it introduces: the bound's assumptions.
    assumptions: Mapping[str, str] = field(default_factory=dict)
    #: Cells in the quick preset; the full preset runs these and ``full``.
    quick: tuple[Cell, ...] = ()
    full: tuple[Cell, ...] = ()
    #: (warm-up, measured) seconds per preset for its scenarios, where the default won't do.
    windows: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: Cells whose request timelines its section shows (loadtests.timeline): traced by
    #: every preset that runs them (the full preset traces every cell).
    timelines: tuple[Cell, ...] = ()
    #: Writes its charts into the folder; returns their file names.
    chart: Callable[[Results, Path], list[str]] | None = None
    observation: Observation | None = None
    #: What the runner prints of its observation at the end (a rich renderable).
    summary: Callable[[Results], object] | None = None
    #: Why a cell outside the fidelity band fell there, where this lesson knows: text the
    #: report adds to the cell's outlier line, "" where it does not apply (row, settings).
    explain: Callable[[dict, dict], str] | None = None
    #: Where this lesson's diagnosis replaces the report's outlier line for a cell: the
    #: whole line, else None (row, settings).
    diagnose: Callable[[dict, dict], str | None] | None = None
    #: Named excerpts of its section that another page embeds, by name
    #: (``% generated: part LESSON NAME`` in the page).
    parts: Mapping[str, Callable[[Results], str]] = field(default_factory=dict)
    #: The section of *Fluent Python*'s chapter 19 it measures (see :data:`BOOK`), or one
    #: past the chapter ("Past the chapter: ...").
    book: str = ""

    def cells(self, preset: str) -> tuple[Cell, ...]:
        """Its cells in a preset: the quick ones, and with ``full`` the full-only ones."""
        return (*self.quick, *self.full) if preset == "full" else self.quick

    def needs(self) -> tuple[str, ...]:
        """What running it needs beyond Python and the pins: its cells' (``Cell.needs``)
        and its observation's."""
        found = set(self.observation.needs if self.observation else ())
        for cell in (*self.quick, *self.full):
            found |= set(cell.needs)
        return tuple(need for need in NEEDS if need in found)


def timelines(lesson: Lesson, results: Results, prefix: str = "") -> list[str]:
    """Markdown lines for the request timelines this lesson shows that the run drew: each
    PNG (its path in the run's folder, after ``prefix``) and its caption."""
    lines = []
    for cell in lesson.timelines:
        if (row := results.row(cell)) and row.get("timeline"):
            caption = timeline_caption(row)
            lines += [f"![{caption}]({prefix}{row['timeline']})", "", f"*{caption}*", ""]
    return lines


def timeline_caption(row: dict) -> str:
    """What a cell's timeline shows, in its trace's numbers (loadtests.timeline)."""
    trace = row["trace"]
    text = (f"Timeline of {row['scenario']} | {row['label']}: {trace['requests']} requests in "
            f"the window, at most {trace['max_overlap']} in progress at once in a worker")
    busy = [share for worker in trace["workers"].values() for share in worker["thread_cpu"]]
    if busy:
        text += ("; its threads ran " + ", ".join(f"{share:.2f}" for share in busy[:8])
                 + (" …" if len(busy) > 8 else "") + " of a core")
    if trace["heartbeats"]:  # beside primes
        text += ("; the heartbeat waited through a whole prime "
                 f"{trace['heartbeats_through_a_prime']} of {trace['heartbeats']} times")
    return text + "."


# -- text helpers the sections share -------------------------------------------------------

def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def rate(row: dict) -> str:
    text = f"**{row['rps']:.1f} rps**"
    if row.get("bound_rps"):
        text += f" against a bound of {row['bound_rps']:.1f} (fidelity {row['fidelity']:.2f})"
    return text


def cells_table(rows: list[dict]) -> str:
    """A table of cells: model, users, rate beside its bound, server CPU."""
    lines = ["| cell | users | rps | bound | fidelity | server CPU |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        bound = "—" if not row.get("bound_rps") else f"{row['bound_rps']:.1f}"
        fidelity = "—" if row.get("fidelity") is None else f"{row['fidelity']:.2f}"
        lines.append(f"| {row['label']} | {row['users']} | {row['rps']:.1f} | {bound} | "
                     f"{fidelity} | {row['server_cpu_pct']:.0f}% |")
    return "\n".join(lines)


def heartbeat_table(rows: list[dict]) -> str:
    """The heartbeat beside the load. A row of repeated runs shows its p99's range: in
    samples older than 2026-12-04 its p50 and max are the median-rps run's alone."""
    lines = ["| cell | heartbeat p50 ms | p99 ms | max ms | /prime rps | bound |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        bound = "—" if row["bound_rps"] is None else f"{row['bound_rps']:.1f}"
        p99 = ms(row["heartbeat_p99_ms"])
        if row.get("repeats", 1) > 1 and "heartbeat_p99_ms_min" in row:
            p99 += f" ({ms(row['heartbeat_p99_ms_min'])}–{ms(row['heartbeat_p99_ms_max'])})"
        lines.append(f"| {row['scenario']} {row['label']} | {ms(row['heartbeat_p50_ms'])} | "
                     f"{p99} | {ms(row['heartbeat_max_ms'])} | {row['rps']:.1f} | {bound} |")
    return "\n".join(lines)


def db_table(rows: list[dict], *, heartbeat: bool = False) -> str:
    """The database cells: rate beside the bound, the wait at the pool, latency, failures;
    with ``heartbeat``, the heartbeat's latency and the event loop's blocked share too."""
    head = "| cell | users | rps | bound | fidelity | pool wait ms | p50 ms | p99 ms | failed |"
    if heartbeat:
        head += " heartbeat p50 / p99 ms | loop blocked |"
    lines = [head, "|---|" + "---:|" * (head.count("|") - 2)]
    for row in rows:
        bound = "—" if not row.get("bound_rps") else f"{row['bound_rps']:.1f}"
        fidelity = "—" if row.get("fidelity") is None else f"{row['fidelity']:.2f}"
        line = (f"| {row['label']} | {row['users']} | {row['rps']:.1f} | {bound} | "
                f"{fidelity} | {ms(row.get('db_pool_wait_ms'))} | {ms(row['p50_ms'])} | "
                f"{ms(row['p99_ms'])} | {row['failures']} |")
        if heartbeat:
            blocked = row.get("hub_blocked_pct")
            line += (f" {ms(row.get('heartbeat_p50_ms'))} / {ms(row.get('heartbeat_p99_ms'))} | "
                     f"{'—' if blocked is None else f'{blocked:.0f}%'} |")
        lines.append(line)
    return "\n".join(lines)
