"""The matrix: every (worker model, scenario) cell under Locust, beside its theoretical bound.

    python -m loadtests.matrix            # --quick preset (the demo, about 2 min on 2 cores)
    python -m loadtests.matrix --full     # every cell, longer windows (about 10 min)
    python -m loadtests.matrix --scenarios cpu --models sync,gevent --duration 10

For each cell it starts gunicorn on a free port, runs Locust headless (warm-up,
then a measured window), samples CPU of the server and of Locust with psutil,
stops and reaps everything, and computes fidelity = measured rps ÷ bound.
Results go to ``reports/<timestamp>/`` (results.json, report.md, PNG charts).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from webapp import offload
from webapp.gilfree import sha256_megabytes
from webapp.hubwatch import LINE as HUB_LINE
from webapp.primes import QUICK_PRIME, SLOW_PRIME, is_prime_napping

from .cpu import CpuMeter
from .locustrun import Load, run_locust
from .model import cpu_bound_rps, io_bound_rps, measure_service_time
from .procs import run_main, tree
from .server import ROOT, GunicornServer, ServerSpec
from .spinwatch import watch as watch_spinner

MODELS = ("sync", "gthread", "gevent")
FIDELITY_BAND = (0.85, 1.05)
#: A Locust process busier than this (percent of one core) may itself be the limit.
LOCUST_CPU_LIMIT = 85.0
#: gevent's monitor thread checks the hub this often (GEVENT_MAX_BLOCKING_TIME). A period
#: holding any greenlet switch is not reported, so reports × period is a lower bound on the
#: blocked time. Each report costs the worker CPU (gevent formats its stacks even when it
#: prints nothing): at 0.02 s the gevent CPU cells lost about 10 % of their throughput.
HUB_CHECK_S = 0.1


@dataclass(frozen=True)
class Scenario:
    """How a scenario loads the server, and which bound it is judged by."""

    tag: str  # the locustfile tag
    primary: str  # the Locust request name whose throughput counts
    bound: str | None  # io, cpu, nap, offload, gilfree, or None
    heartbeat: bool = False  # one of the users is the heartbeat
    extra: tuple[str, ...] = ()  # locustfile flags

    @property
    def timing(self) -> str | None:
        """Which work's service time the bound rests on (offload runs plain is_prime)."""
        return "cpu" if self.bound == "offload" else self.bound


SCENARIO = {
    "io": Scenario("io", "/io", "io"),
    "cpu": Scenario("cpu", "/prime", "cpu"),
    "heartbeat": Scenario("heartbeat", "/prime", "cpu", heartbeat=True),
    "mixed": Scenario("mixed", "Aggregated", None),
    "nap": Scenario("heartbeat", "/prime", "nap", heartbeat=True, extra=("--nap",)),
    "offload": Scenario("heartbeat", "/prime", "offload", heartbeat=True, extra=("--offload",)),
    "gilfree": Scenario("gilfree", "/hash", "gilfree"),
    "switch": Scenario("heartbeat", "/prime", "cpu", heartbeat=True),
}
SCENARIOS = tuple(SCENARIO)


@dataclass(frozen=True)
class Cell:
    scenario: str
    spec: ServerSpec
    users: int

    @property
    def switch_interval(self) -> float | None:
        value = dict(self.spec.env).get("SWITCH_INTERVAL")
        return float(value) if value else None

    @property
    def model_label(self) -> str:
        if self.switch_interval is None:
            return self.spec.label
        return f"{self.spec.label} si={self.switch_interval:g}"

    @property
    def label(self) -> str:
        return f"{self.scenario} | {self.model_label} | {self.users} users"

    @property
    def slug(self) -> str:
        text = f"{self.scenario}-{self.model_label}-u{self.users}"
        return text.replace(" ", "").replace("--", "-").replace("=", "")


def _spec(model: str, workers: int = 1, threads: int = 1, switch: float | None = None
          ) -> ServerSpec:
    env = (("SWITCH_INTERVAL", f"{switch:g}"),) if switch else ()
    return ServerSpec(model, workers=workers, threads=threads, env=env)


QUICK_CELLS = (
    Cell("io", _spec("sync", 2), 100),
    Cell("io", _spec("gthread", 2, 8), 100),
    Cell("io", _spec("gevent", 1), 100),
    Cell("io", _spec("gevent", 2), 100),
    Cell("cpu", _spec("sync", 1), 8),
    Cell("cpu", _spec("sync", 2), 8),
    Cell("cpu", _spec("gthread", 1, 1), 8),
    Cell("cpu", _spec("gthread", 1, 4), 8),
    Cell("cpu", _spec("gevent", 1), 8),
    Cell("cpu", _spec("gevent", 2), 8),
    Cell("heartbeat", _spec("sync", 1), 3),
    Cell("heartbeat", _spec("sync", 2), 3),
    Cell("heartbeat", _spec("gthread", 1, 4), 3),
    Cell("heartbeat", _spec("gevent", 1), 3),
    Cell("heartbeat", _spec("gevent", 2), 3),
    # one cell per deeper lesson
    Cell("nap", _spec("gevent", 1), 3),
    Cell("offload", _spec("gevent", 1), 3),
    Cell("gilfree", _spec("gthread", 1, 4), 4),
    Cell("switch", _spec("gthread", 1, 4, switch=0.0005), 3),
)
FULL_CELLS = (
    Cell("io", _spec("sync", 1), 100),
    *QUICK_CELLS[:4],
    Cell("io", _spec("gthread", 1, 4), 100),
    *QUICK_CELLS[4:10],
    Cell("cpu", _spec("sync", 4), 8),
    Cell("cpu", _spec("gthread", 2, 4), 8),
    *QUICK_CELLS[10:],
    Cell("nap", _spec("gthread", 1, 4), 3),
    Cell("offload", _spec("gthread", 1, 4), 3),
    Cell("gilfree", _spec("gthread", 1, 1), 4),
    Cell("gilfree", _spec("sync", 2), 4),
    Cell("switch", _spec("gthread", 1, 4, switch=0.005), 3),
    Cell("switch", _spec("gthread", 1, 4, switch=0.05), 3),
    Cell("mixed", _spec("sync", 2), 20),
    Cell("mixed", _spec("gthread", 2, 8), 20),
    Cell("mixed", _spec("gevent", 1), 20),
    Cell("mixed", _spec("gevent", 2), 20),
)
PRESETS = {
    # (warm-up, measured) seconds: io cells reach thousands of requests in 2 s; CPU cells
    # complete one request per S per core, so they get the longer windows.
    # nap completes interleaved requests in bunches every ~0.65 s: it gets a longer window.
    "quick": {"cells": QUICK_CELLS,
              "windows": {"io": (1.0, 2.0), "nap": (0.5, 6.5), "other": (0.5, 3.5)}},
    "full": {"cells": FULL_CELLS, "windows": {"io": (2.0, 8.0), "other": (2.0, 10.0)}},
}

ASSUMPTIONS = {
    "io": "Little's law for a closed loop without think time: X = min(users, slots) / delay, "
          "slots = workers (sync), workers × threads (gthread), workers × worker_connections "
          "(gevent); assumes the server's own CPU per request is small beside the delay.",
    "cpu": "Pure-Python is_prime holds the GIL: X = min(users, workers, cores) / S, whatever the "
           "threads or greenlets; S is is_prime(n) timed in the runner's process just before and "
           "just after the cell (their mean), because this machine's speed drifts by several "
           "per cent over minutes; assumes nothing else competes for the cores.",
    "heartbeat": "The /prime users follow the cpu bound with users − 1 (one user is the "
                 "heartbeat); the heartbeat's latency is reported apart.",
    "mixed": "No single-resource bound: I/O and CPU requests share the workers, so no "
             "fidelity is computed.",
    "nap": "The cpu bound with S_nap, the napping check's own time in the runner (its modulo "
           "test on every division costs more than the naps).",
    "offload": "The cpu bound with the pool's processes as the parallelism: min(cpu users, "
               "workers × OFFLOAD_PROCESSES, cores) / S; the gunicorn worker only waits.",
    "gilfree": "hashlib releases the GIL, so threads count: X = min(users, parallel, cores) / "
               "S_hash, parallel = workers × threads (gthread) or workers (sync; gevent, whose "
               "hub still waits for the C call); assumes memory bandwidth is not the limit.",
    "switch": "The cpu bound; what changes with SWITCH_INTERVAL is the heartbeat's latency.",
}


def parallelism(cell: Cell) -> int:
    """How many of the cell's primary requests can run at once on its server."""
    spec, kind = cell.spec, SCENARIO[cell.scenario].bound
    if kind == "offload":
        return spec.workers * offload.pool_size()
    if kind == "gilfree" and spec.worker_class == "gthread":
        return spec.workers * spec.threads
    return spec.workers


def bound(cell: Cell, *, delay: float, service: dict[str, float], cores: int) -> float | None:
    """The model's ceiling on the cell's primary throughput, in requests per second.

    ``service`` maps a bound kind (cpu, nap, gilfree) to its measured service time.
    """
    scenario = SCENARIO[cell.scenario]
    users = cell.users - scenario.heartbeat
    if scenario.bound == "io":
        return io_bound_rps(users, cell.spec.slots, delay)
    if scenario.bound in ("cpu", "nap", "offload", "gilfree"):
        s = service[scenario.timing]
        return cpu_bound_rps(users, parallelism(cell), cores, s)
    return None


def machine_info() -> dict:
    versions = {name: metadata.version(name) for name in ("gunicorn", "gevent", "locust", "flask")}
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "versions": versions,
    }


def _number(text: str | None) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


@dataclass
class Settings:
    windows: dict[str, tuple[float, float]]  # scenario or "other" -> (warm-up, measured) s
    delay: float
    n: int
    mb: int
    locust_processes: int
    start_s: float  # is_prime(n) timed once at the start (each cell's bound is timed anew)
    cores: int

    def window(self, cell: Cell) -> tuple[float, float]:
        return self.windows.get(cell.scenario, self.windows["other"])

    def time_service(self, kind: str | None) -> float | None:
        """A timing, now, of the work a bound of this kind rests on (None for io, mixed)."""
        if kind == "cpu":
            return measure_service_time(self.n, repeats=2)
        if kind == "nap":
            return measure_service_time(self.n, repeats=2, check=is_prime_napping)
        if kind == "gilfree":
            return measure_service_time(self.mb, repeats=3, check=sha256_megabytes)
        return None


#: gevent's own blocked-hub monitor, collected by webapp.hubwatch (one log line per report).
HUB_MONITOR_ENV = (("GEVENT_MONITOR_THREAD_ENABLE", "true"),
                   ("GEVENT_MAX_BLOCKING_TIME", str(HUB_CHECK_S)),
                   ("GEVENT_MONITOR_PRINT_BLOCKING_REPORTS", "false"))


def hub_reports(log_text: str, start: float, end: float) -> int:
    """How many of gevent's blocked-hub reports fall inside [start, end] (wall clock)."""
    count = 0
    for line in log_text.splitlines():
        if HUB_LINE in line and " at=" in line:
            at = float(line.split(" at=", 1)[1].split()[0])
            count += start <= at <= end
    return count


def run_cell(cell: Cell, settings: Settings, cell_dir: Path) -> dict:
    """Serve, load, measure and stop one cell; return its results row."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    scenario = SCENARIO[cell.scenario]
    warmup, duration = settings.window(cell)
    kind = scenario.timing
    before = settings.time_service(kind)
    load = Load(tag=scenario.tag, users=cell.users, duration=duration,
                warmup=warmup, delay=settings.delay, prime_n=settings.n,
                mb=settings.mb, processes=settings.locust_processes, extra=scenario.extra)
    spec = cell.spec
    gevent = spec.worker_class == "gevent"
    if gevent:
        spec = dataclasses.replace(spec, env=spec.env + HUB_MONITOR_ENV)
    locust_pids: list[int] = []
    server = GunicornServer(spec, log_path=cell_dir / "gunicorn.log")
    server.start()
    try:
        meter = CpuMeter({
            "server": server.processes,  # master, workers and offload pools
            "locust": lambda: [p for pid in locust_pids for p in tree(pid)],
        })
        summary = run_locust(load, server.url, cell_dir / "locust", cell_dir / "locust.log",
                             meter, locust_pids)
        server_log = server.log_text()
    finally:
        server.stop(graceful=False)  # the load is over: gunicorn's quick shutdown (SIGQUIT)
    primary = summary.rows.get(scenario.primary, {})
    requests = int(primary.get("Request Count", 0))
    rps = requests / summary.window_s
    # The service time this cell's bound uses: timed right before and right after it.
    after = settings.time_service(kind)
    service_s = (before + after) / 2 if before and after else None
    limit = bound(cell, delay=settings.delay, service={kind: service_s} if service_s else {},
                  cores=settings.cores)
    hub = hub_reports(server_log, *meter.wall_window) if gevent else None
    row = {
        "scenario": cell.scenario,
        "label": cell.model_label,
        "worker_class": cell.spec.worker_class,
        "workers": cell.spec.workers,
        "threads": cell.spec.threads,
        "worker_connections": cell.spec.worker_connections,
        "users": cell.users,
        "cpu_count": settings.cores,
        "duration_s": summary.window_s,
        "warmup_s": warmup,
        "requests": requests,
        "failures": int(primary.get("Failure Count", 0)),
        "rps": rps,
        "p50_ms": _number(primary.get("50%")),
        "p95_ms": _number(primary.get("95%")),
        "p99_ms": _number(primary.get("99%")),
        "max_ms": _number(primary.get("100%")),
        "bound_rps": limit,
        "fidelity": rps / limit if limit else None,
        "service_time_ms": service_s and service_s * 1000,
        "service_before_ms": before and before * 1000,
        "service_after_ms": after and after * 1000,
        "switch_interval": cell.switch_interval,
        "hub_blocked_reports": hub,
        "hub_blocked_s": None if hub is None else hub * HUB_CHECK_S,
        # per worker: 100% = every worker's hub frozen for the whole window
        "hub_blocked_pct": None if hub is None else
        100 * hub * HUB_CHECK_S / (summary.window_s * cell.spec.workers),
        "server_cpu_pct": meter.percent("server"),
        # The busiest server process: 100% with a total of 100% means one worker did it all.
        "server_max_process_cpu_pct": meter.max_process_percent("server"),
        # CPU the server spent per request: for cpu cells, compare with S.
        "server_cpu_ms_per_request": (meter.percent("server") * 10 / rps) if rps else None,
        "locust_cpu_pct": meter.percent("locust"),
        "locust_max_process_cpu_pct": meter.max_process_percent("locust"),
        "locust_processes": settings.locust_processes,
        "heartbeat_requests": None,
        "heartbeat_p50_ms": None,
        "heartbeat_p99_ms": None,
        "heartbeat_max_ms": None,
    }
    row["locust_limited"] = row["locust_max_process_cpu_pct"] > LOCUST_CPU_LIMIT
    if scenario.heartbeat:
        beat = summary.rows.get("heartbeat", {})
        row.update(
            heartbeat_requests=int(beat.get("Request Count", 0)),
            heartbeat_p50_ms=_number(beat.get("50%")),
            heartbeat_p99_ms=_number(beat.get("99%")),
            heartbeat_max_ms=_number(beat.get("100%")),
        )
    return row


def select_cells(cells, scenarios: set[str], models: set[str], users: int | None) -> list[Cell]:
    chosen = [c for c in cells if c.scenario in scenarios and c.spec.worker_class in models]
    if users is not None:
        chosen = [
            Cell(c.scenario, c.spec, users + SCENARIO[c.scenario].heartbeat) for c in chosen
        ]
    return chosen


def _csv_choice(allowed: tuple[str, ...]):
    def parse(text: str) -> set[str]:
        chosen = {part.strip() for part in text.split(",") if part.strip()}
        unknown = chosen - set(allowed)
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"choose from {', '.join(allowed)} (comma-separated), got {text!r}")
        return chosen
    return parse


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value
    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.matrix",
                                     description=__doc__.splitlines()[0])
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument("--quick", dest="preset", action="store_const", const="quick",
                        help="one cell per lesson, short windows (default)")
    preset.add_argument("--full", dest="preset", action="store_const", const="full",
                        help="every cell, longer windows")
    parser.set_defaults(preset="quick")
    parser.add_argument("--scenarios", type=_csv_choice(SCENARIOS), default=set(SCENARIOS),
                        help="comma-separated subset of: " + ", ".join(SCENARIOS))
    parser.add_argument("--models", type=_csv_choice(MODELS), default=set(MODELS),
                        help="comma-separated subset of: " + ", ".join(MODELS))
    parser.add_argument("--users", type=_positive(int),
                        help="users per cell (heartbeat cells add their one heartbeat user)")
    parser.add_argument("--duration", type=_positive(float), help="measured seconds per cell")
    parser.add_argument("--warmup", type=_positive(float), help="warm-up seconds per cell")
    parser.add_argument("--n", type=_positive(int), default=QUICK_PRIME,
                        help="number for /prime (default %(default)s, about 0.2 s)")
    parser.add_argument("--delay", type=_positive(float), default=0.1,
                        help="seconds per /io request (default %(default)s)")
    parser.add_argument("--mb", type=_positive(int), default=64,
                        help="MiB per /hash request (default %(default)s, about 40 ms)")
    parser.add_argument("--locust-processes", type=_positive(int), default=1,
                        help="Locust --processes: more load generators when one is the limit")
    parser.add_argument("--spinner", action=argparse.BooleanOptionalAction, default=None,
                        help="also watch /spin/<n> per model (default: on with --full)")
    parser.add_argument("--spin-n", type=_positive(int), default=SLOW_PRIME,
                        help="number for the spinner (default %(default)s, about 1.6 s)")
    parser.add_argument("--out", type=Path, help="report folder (default reports/<timestamp>)")
    return parser.parse_args(argv)


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
        fidelity = row["fidelity"]
        fid = "—" if fidelity is None else f"{fidelity:.2f}"
        if fidelity is not None and not low <= fidelity <= high:
            fid = f"[yellow]{fid}[/]"
        beat = ("—" if row["heartbeat_p99_ms"] is None
                else f"{row['heartbeat_p99_ms']:.0f} / {row['heartbeat_max_ms']:.0f}")
        locust = f"{row['locust_cpu_pct']:.0f}%" + (" [red]![/]" if row["locust_limited"] else "")
        table.add_row(
            row["scenario"], row["label"], str(row["users"]), f"{row['rps']:.1f}",
            "—" if row["bound_rps"] is None else f"{row['bound_rps']:.1f}", fid,
            _fmt(row["p50_ms"]), _fmt(row["p99_ms"]), beat,
            f"{row['server_cpu_pct']:.0f}%", locust, str(row["failures"]),
        )
    table.caption = (f"fidelity = rps ÷ bound (expected {low}–{high}); CPU in % of one core; "
                     f"'!' = a Locust process above {LOCUST_CPU_LIMIT:.0f}% of a core")
    return table


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    preset = PRESETS[args.preset]
    cells = select_cells(preset["cells"], args.scenarios, args.models, args.users)
    if not cells:
        print("no cell matches those --scenarios and --models", file=sys.stderr)
        return 2
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 150)
    cores = os.cpu_count() or 1
    settings = Settings(
        windows={name: (args.warmup or warmup, args.duration or duration)
                 for name, (warmup, duration) in preset["windows"].items()},
        delay=args.delay, n=args.n, locust_processes=args.locust_processes,
        mb=args.mb, start_s=measure_service_time(args.n, repeats=3), cores=cores,
    )
    out = args.out or ROOT / "reports" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    windows = "; ".join(f"{name}: {w:g} s warm-up + {d:g} s"
                        for name, (w, d) in settings.windows.items())
    console.print(f"[bold]{len(cells)} cells[/] ({windows}); "
                  f"S = {settings.start_s * 1000:.0f} ms for "
                  f"is_prime({args.n}); {cores} cores; report in {out}")
    rows: list[dict] = []
    started = time.monotonic()
    progress = Progress(TextColumn("{task.description}"), BarColumn(),
                        TextColumn("cell {task.completed}/{task.total}"), TimeElapsedColumn(),
                        console=console)
    with progress:
        task = progress.add_task("starting", total=len(cells))
        for index, cell in enumerate(cells, 1):
            progress.update(task, description=cell.label)
            try:
                row = run_cell(cell, settings, out / "cells" / f"{index:02d}-{cell.slug}")
            except (RuntimeError, TimeoutError, OSError) as error:
                row = {"scenario": cell.scenario, "label": cell.spec.label,
                       "users": cell.users, "error": str(error)}
                progress.console.print(f"[red]{cell.label}: {error}[/]")
            rows.append(row)
            progress.advance(task)
        spinner = []
        if args.spinner if args.spinner is not None else args.preset == "full":
            progress.update(task, description=f"spinner: /spin/{args.spin_n} per model")
            spinner = watch_spinner(args.spin_n)
    from .report import write_report

    results = {
        "machine": machine_info(),
        "settings": {
            "preset": args.preset, "windows_s": settings.windows,
            "delay_s": settings.delay, "n": settings.n, "mb": settings.mb,
            "service_time_s": settings.start_s,
            "locust_processes": settings.locust_processes,
            "fidelity_band": list(FIDELITY_BAND), "assumptions": ASSUMPTIONS,
        },
        "elapsed_s": time.monotonic() - started,
        "cells": rows,
        "spinner": spinner,
    }
    write_report(results, out)
    console.print(render_table(rows))
    console.print(f"report: {out / 'report.md'}  ({results['elapsed_s']:.0f} s)")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    run_main(main)
