"""Run one matrix cell: serve, load, measure, reap -- and judge it by its bound.

:func:`run_cell` starts the cell's gunicorn on a free port, runs Locust
headless (a warm-up, statistics reset, then the measured window), samples the
CPU of the server and of Locust with psutil, stops and reaps everything, and
returns the cell's results row with its bound and fidelity. It knows no lesson
by name: the scenario says how to load and which bound judges.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from webapp.gilfree import sha256_megabytes
from webapp.primes import is_prime_napping

from .bounds import bound
from .cells import Cell
from .cpu import CpuMeter
from .lessons import SCENARIO
from .locustrun import Load, run_locust
from .model import measure_service_time
from .monitors import MONITORS
from .procs import tree
from .server import GunicornServer

#: A Locust process busier than this (percent of one core) may itself be the limit.
LOCUST_CPU_LIMIT = 85.0


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
    monitor = MONITORS.get(spec.worker_class)
    if monitor:
        spec = dataclasses.replace(spec, env=spec.env + monitor.env)
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
    limit = bound(cell, scenario, delay=settings.delay,
                  service={kind: service_s} if service_s else {}, cores=settings.cores)
    hub, blocked_s = (monitor.blocked(server_log, *meter.wall_window) if monitor
                      else (None, None))
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
        # the event loop's own watchdog (loadtests.monitors): gevent's hub, asyncio's loop
        "hub_blocked_reports": hub,
        "hub_blocked_s": blocked_s,
        # per worker: 100% = every worker's loop frozen for the whole window
        "hub_blocked_pct": None if hub is None else
        100 * blocked_s / (summary.window_s * cell.spec.workers),
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
