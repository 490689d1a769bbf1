"""The matrix: every (worker model, scenario) cell under Locust, beside its theoretical bound.

    python -m loadtests.matrix            # --quick preset (make demo, under 3 min on 2 cores)
    python -m loadtests.matrix --full     # every cell twice, longer windows (about 36 min)
    python -m loadtests.matrix --scenarios cpu --models sync,gevent --duration 10

The command line: which cells (the presets of :mod:`loadtests.matrix.presets`, narrowed
by ``--scenarios``, ``--models``, ``--users``) with which windows; each cell is
run by :mod:`loadtests.matrix.runner` and the whole run reported by
:mod:`loadtests.matrix.report`. Fidelity = measured rps ÷ the cell's bound.
Results go to ``reports/<timestamp>/`` (results.json, report.md, PNG charts).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from webapp.offload import BACKENDS
from webapp.work.primes import QUICK_PRIME, SHORT_PRIME

from ..harness.argtypes import add_presets, csv_choice, positive
from ..harness.machine import machine_info, time_calls
from ..lessons import ASSUMPTIONS, LESSONS, SCENARIO, SCENARIOS
from ..lessons.base import Results, ms
from ..model.queueing import drift
from ..servers import MODELS, ROOT, SERVERS
from ..services.fleet import unavailable
from . import presets
from .cells import Cell
from .repeats import aggregate, spread, verdict
from .runner import LOCUST_CPU_LIMIT, run_cell
from .settings import Settings

FIDELITY_BAND = (0.85, 1.05)
#: Timings of S at the start: how much this machine's speed moves by itself (its drift).
DRIFT_TIMINGS = 5


def select_cells(cells, scenarios: set[str], models: set[str], users: int | None,
                 backends: set[str] = frozenset(BACKENDS),
                 servers: set[str] = frozenset(SERVERS)) -> list[Cell]:
    """The cells of those scenarios, models (in the lab's terms: granian's WSGI and waitress
    are thread pools, gthread; uvicorn is asgi), offload backends and servers."""
    chosen = [c for c in cells if c.scenario in scenarios and c.spec.model in models
              and c.spec.offload in backends and c.spec.server in servers]
    if users is not None:
        chosen = [dataclasses.replace(c, users=users + SCENARIO[c.scenario].heartbeat)
                  for c in chosen]
    return chosen


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.matrix",
                                     description=__doc__.splitlines()[0])
    add_presets(parser, quick="one cell per lesson, short windows",
                full="every cell, longer windows")
    parser.add_argument("--scenarios", type=csv_choice(SCENARIOS), default=set(SCENARIOS),
                        help="comma-separated subset of: " + ", ".join(SCENARIOS))
    parser.add_argument("--models", type=csv_choice(MODELS), default=set(MODELS),
                        help="comma-separated subset of: " + ", ".join(MODELS))
    parser.add_argument("--servers", type=csv_choice(tuple(SERVERS)), default=set(SERVERS),
                        help="comma-separated subset of: " + ", ".join(SERVERS))
    parser.add_argument("--offload", type=csv_choice(BACKENDS), default=set(BACKENDS),
                        help="comma-separated subset of the cells' OFFLOAD_BACKEND: "
                             + ", ".join(BACKENDS))
    parser.add_argument("--users", type=positive(int),
                        help="users per cell (heartbeat cells add their one heartbeat user)")
    parser.add_argument("--duration", type=positive(float), help="measured seconds per cell")
    parser.add_argument("--warmup", type=positive(float), help="warm-up seconds per cell")
    parser.add_argument("--n", type=positive(int), default=QUICK_PRIME,
                        help="number for /prime (default %(default)s, about 0.2 s)")
    parser.add_argument("--short-n", type=positive(int), default=SHORT_PRIME,
                        help="number for /prime in the throughput cells (cpu; default "
                             "%(default)s, about 25-55 ms)")
    parser.add_argument("--delay", type=positive(float), default=0.1,
                        help="seconds per /io request (default %(default)s)")
    parser.add_argument("--mb", type=positive(int), default=64,
                        help="MiB per /hash request (default %(default)s, about 40 ms)")
    parser.add_argument("--locust-processes", type=positive(int), default=1,
                        help="Locust --processes: more load generators when one is the limit")
    parser.add_argument("--repeat", type=positive(int),
                        help="runs per cell, reported as median and min–max "
                             "(default: 1 quick, 2 full)")
    parser.add_argument("--proxy", choices=("nginx",),
                        help="run every chosen cell behind the lab's own nginx (the buffering "
                             "reverse proxy), not only the cells that have it")
    parser.add_argument("--trace", action=argparse.BooleanOptionalAction, default=None,
                        help="record and draw every chosen cell's request timeline "
                             "(timeline.png, trace.json; default: the cells the lessons "
                             "show, every cell with --full)")
    parser.add_argument("--cells", action=argparse.BooleanOptionalAction, default=True,
                        help="--no-cells: only the observations turned on (e.g. make hosts: "
                             "--no-cells --hosts)")
    parser.add_argument("--lesson", choices=[lesson.name for lesson in LESSONS],
                        metavar="LESSON",
                        help="one lesson alone: its cells in the preset and its observation "
                             "(one of: " + ", ".join(lesson.name for lesson in LESSONS) + ")")
    parser.add_argument("--out", type=Path, help="report folder (default reports/<timestamp>)")
    for lesson in LESSONS:
        if lesson.observation:
            lesson.observation.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.lesson:  # its observation on, every other one off, unless a flag says otherwise
        for lesson in LESSONS:
            if lesson.observation and getattr(args, lesson.observation.dest) is None:
                setattr(args, lesson.observation.dest, lesson.name == args.lesson)
    # the whole preset (make matrix), not a subset of its cells: what a heavy observation of
    # its own (the hosts lesson's) waits for before it runs by default
    args.whole_preset = args.cells and not args.lesson and all(
        getattr(args, name) == set(choices) for name, choices in (
            ("scenarios", SCENARIOS), ("models", MODELS), ("servers", SERVERS),
            ("offload", BACKENDS)))
    return args


def render_table(rows: list[dict]) -> Table:
    table = Table(title="Worker-model matrix: measured throughput beside the model's bound")
    table.add_column("scenario")
    table.add_column("model")
    for name in ("users", "rps", "bound", "fidelity", "p50 ms", "p99 ms",
                 "heartbeat p99/max ms", "server CPU", "locust CPU", "fail"):
        table.add_column(name, justify="right")
    low, high = FIDELITY_BAND
    for row in rows:
        if "error" in row:
            table.add_row(row["scenario"], row["label"], str(row["users"]), "[red]error[/]",
                          *[""] * 7, "")
            continue
        fid = spread(row, "fidelity")
        style = {"finding": "yellow", "noise": "cyan"}.get(verdict(row, FIDELITY_BAND))
        if style:
            fid = f"[{style}]{fid}[/]"
        beat = ("—" if row["heartbeat_p99_ms"] is None
                else f"{row['heartbeat_p99_ms']:.0f} / {row['heartbeat_max_ms']:.0f}")
        locust = f"{row['locust_cpu_pct']:.0f}%" + (" [red]![/]" if row["locust_limited"] else "")
        table.add_row(
            row["scenario"], row["label"], str(row["users"]), f"{row['rps']:.1f}",
            "—" if row["bound_rps"] is None else f"{row['bound_rps']:.1f}", fid,
            ms(row["p50_ms"]), ms(row["p99_ms"]), beat,
            f"{row['server_cpu_pct']:.0f}%", locust, str(row["failures"]),
        )
    table.caption = (f"fidelity = rps ÷ bound (expected {low}–{high}; yellow: outside in every "
                     f"run, cyan: runs on both sides, noise); CPU in % of one core; "
                     f"'!' = a Locust process above {LOCUST_CPU_LIMIT:.0f}% of a core")
    return table


def choose_cells(args: argparse.Namespace) -> list[Cell] | int:
    """The cells to run, those whose programs are missing skipped with one line (an exit
    status instead when nothing matches, or when CI=true forbids a skip)."""
    if args.lesson and (refused := lesson_refusal(args)):
        print(refused, file=sys.stderr)
        return 2
    chosen = (next(item for item in LESSONS if item.name == args.lesson).cells(args.preset)
              if args.lesson else presets.cells(args.preset))
    cells = select_cells(chosen if args.cells else [], args.scenarios,
                         args.models, args.users, args.offload, args.servers)
    if args.lesson and not chosen:  # an observation alone
        return []
    if args.proxy:  # a cell that two selections now make equal runs once
        cells = list(dict.fromkeys(dataclasses.replace(c, proxy=args.proxy) for c in cells))
    if not cells and args.cells:
        print("no cell matches those --scenarios, --models and --servers", file=sys.stderr)
        return 2
    missing = {cell: why for cell in cells if (why := unavailable(cell))}
    if missing:
        reason = "; ".join(sorted(set(missing.values())))
        if os.environ.get("CI") == "true":
            print(f"matrix: {reason} (CI=true: nothing may be skipped)", file=sys.stderr)
            return 2
        print(f"matrix: skipping {len(missing)} cell(s): {reason}", file=sys.stderr)
        cells = [cell for cell in cells if cell not in missing]
    return cells


def lesson_refusal(args: argparse.Namespace) -> str | None:
    """Why ``--lesson`` cannot run as asked (one line), or None."""
    lesson = next(item for item in LESSONS if item.name == args.lesson)
    if lesson.cells(args.preset) or lesson.observation:
        return None
    if lesson.cells("full"):
        return (f"lesson {lesson.name!r} has cells in --full only: python -m loadtests.matrix "
                f"--lesson {lesson.name} --full")
    return (f"lesson {lesson.name!r} has nothing the matrix runs: its page's commands are "
            f"run by hand (docs/lessons/{lesson.name}.md)")


def make_settings(args: argparse.Namespace, cells: list[Cell]) -> Settings:
    return Settings(
        windows={name: (args.warmup or warmup, args.duration or duration)
                 for name, (warmup, duration) in presets.windows(args.preset).items()},
        delay=args.delay, n=args.n, short_n=args.short_n,
        locust_processes=args.locust_processes,
        mb=args.mb, start_samples=time_calls(args.n, repeats=DRIFT_TIMINGS),
        cores=os.cpu_count() or 1, cross_check=presets.CROSS_CHECK[args.preset],
        traced=(frozenset(c.key() for c in cells) if args.trace else frozenset()
                if args.trace is False else presets.traced(args.preset, cells)),
    )


def announce(console: Console, cells: list[Cell], settings: Settings, repeat: int,
             out: Path) -> None:
    windows = "; ".join(f"{name}: {w:g} s warm-up + {d:g} s"
                        for name, (w, d) in settings.windows.items())
    if not cells:
        console.print(f"[bold]no cells[/]: the observations turned on only; report in {out}")
        return
    console.print(f"[bold]{len(cells)} cells[/] × {repeat} run(s) ({windows}); "
                  f"S = {settings.start_s * 1000:.0f} ms for is_prime({settings.n}) "
                  f"(±{drift(settings.start_samples):.0%} over {DRIFT_TIMINGS} timings: the "
                  f"machine's own noise); {settings.cores} cores; report in {out}")


def run_all(cells: list[Cell], settings: Settings, repeat: int, out: Path,
            args: argparse.Namespace, console: Console) -> tuple[list[dict], dict]:
    """Every cell ``repeat`` times, in rounds (a cell's repeats lie minutes apart), each
    cell's runs aggregated; then the lessons' observations. A cell that fails is a row with
    its error, and the others still run."""
    progress = Progress(TextColumn("{task.description}"), BarColumn(),
                        TextColumn("cell {task.completed}/{task.total}"), TimeElapsedColumn(),
                        console=console)
    with progress:
        task = progress.add_task("starting", total=len(cells) * repeat)
        runs: list[list[dict]] = [[] for _ in cells]
        for round_ in range(1, repeat + 1):
            for index, cell in enumerate(cells, 1):
                progress.update(task, description=f"{cell.label} (run {round_}/{repeat})")
                name = f"{index:02d}-{cell.slug}" + (f"-r{round_}" if repeat > 1 else "")
                try:
                    row = run_cell(cell, settings, out / "cells" / name)
                except (RuntimeError, TimeoutError, OSError) as error:
                    row = {"scenario": cell.scenario, "label": cell.spec.label,
                           "users": cell.users, "error": str(error)}
                    progress.console.print(f"[red]{cell.label}: {error}[/]")
                runs[index - 1].append(row)
                progress.advance(task)
        observed = {}
        for lesson in LESSONS:
            if lesson.observation:
                progress.update(task, description=f"observing: {lesson.name}")
                observed[lesson.name] = lesson.observation.run(args) or []
    return [aggregate(cell_runs) for cell_runs in runs], observed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cells = choose_cells(args)
    if isinstance(cells, int):
        return cells
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 150)
    settings = make_settings(args, cells)
    repeat = args.repeat or presets.REPEAT[args.preset]
    out = args.out = args.out or ROOT / "reports" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)  # an observation keeps its logs there too
    announce(console, cells, settings, repeat, out)
    started = time.monotonic()
    rows, observed = run_all(cells, settings, repeat, out, args, console)
    from .report import write_report

    results = {
        "machine": machine_info(),
        "settings": {
            "preset": args.preset, "windows_s": settings.windows,
            "delay_s": settings.delay, "n": settings.n, "short_n": settings.short_n,
            "mb": settings.mb,
            "service_time_s": settings.start_s,
            "service_start_samples_s": settings.start_samples,
            "locust_processes": settings.locust_processes, "repeat": repeat,
            "fidelity_band": list(FIDELITY_BAND), "assumptions": dict(ASSUMPTIONS),
        },
        "elapsed_s": time.monotonic() - started,
        "cells": rows,
        **observed,
    }
    write_report(results, out)
    if rows:
        console.print(render_table(rows))
    for lesson in LESSONS:
        if observed.get(lesson.name) and lesson.summary:
            console.print(lesson.summary(Results(results)))
    console.print(f"report: {out / 'report.md'}  ({results['elapsed_s']:.0f} s)")
    return 1 if any("error" in row for row in rows) else 0
