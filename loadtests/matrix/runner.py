"""Run one matrix cell: prepare, serve and load, time S, judge it by its bound, build the result.

:func:`run_cell` is those five steps. Serving and loading is
:func:`loadtests.load.serve.serve_and_load` (Locust headless: a warm-up, statistics reset,
then the measured window; the CPU of the server and of Locust metered with psutil;
everything stopped and reaped), with the cell's optional parts
(:mod:`loadtests.matrix.parts`: services, proxy, slow clients, loop watchdog, trace,
heartbeat) each a unit of its own. The runner knows no lesson by name: the scenario says
how to load and which bound judges.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from ..harness.ports import free_port
from ..lessons import SCENARIO
from ..load.locustrun import WORK_ROW, Load, number
from ..load.serve import Run, serve_and_load
from ..servers import ServerSpec
from .bounds import CPU_KINDS, bound
from .cells import Cell, Scenario
from .parts import CellPart, Context, parts_of
from .parts.idle import IdleTiming
from .result import CellResult
from .settings import LOAD_TIMED, SERVER_TIMED, Settings

#: A Locust process busier than this (percent of one core) may itself be the limit.
LOCUST_CPU_LIMIT = 85.0


@dataclass(frozen=True)
class Plan:
    """A cell made ready to run: its load, its server, its parts."""

    ctx: Context
    load: Load
    spec: ServerSpec
    parts: list[CellPart]
    n: int
    runner_s: float | None  # the runner's own timing of S (a cross-check), if asked for

    @property
    def cell(self) -> Cell:
        return self.ctx.cell

    @property
    def scenario(self) -> Scenario:
        return self.ctx.scenario


@dataclass(frozen=True)
class ServiceTime:
    """S, the service time the bound rests on, and where it was timed."""

    s: float | None
    source: str  # server (its whole CPU per request), load (each check's CPU) or idle
    load_s: float | None
    idle_s: float | None


@dataclass(frozen=True)
class Judged:
    """The bound and the throughput it judges."""

    bound_rps: float | None
    rps: float
    requests: int
    little_rps: float | None
    judged_rps: float
    in_progress: int  # requests the server holds at once, of the users' one each


def run_cell(cell: Cell, settings: Settings, cell_dir: Path) -> dict:
    """Serve, load, measure and stop one cell; return its results row."""
    plan = prepare(cell, settings, cell_dir)
    run = serve_and_load(plan.spec, plan.load, cell_dir, port=plan.ctx.port,
                         url=plan.ctx.front_url, parts=plan.parts)
    service = time_service(plan, run)
    judged = judge(plan, run, service)
    row = build_result(plan, run, service, judged).as_row()
    for part in plan.parts:
        part.finish(row, run)
    return row


def prepare(cell: Cell, settings: Settings, cell_dir: Path) -> Plan:
    cell_dir.mkdir(parents=True, exist_ok=True)
    scenario = SCENARIO[cell.scenario]
    warmup, duration = settings.window(cell)
    n = settings.prime_n(cell)
    # a cross-check of the in-server S (the full preset; make demo saves its seconds)
    runner_s = settings.time_service(scenario.timing, n) if settings.cross_check else None
    port = free_port()
    ctx = Context(cell, scenario, settings, cell_dir, port,
                  front=free_port() if cell.proxy else port)
    load = Load(tag=scenario.tag, users=cell.users, duration=duration, warmup=warmup,
                delay=settings.delay, prime_n=n, mb=settings.mb,
                processes=settings.locust_processes, extra=scenario.extra)
    return Plan(ctx, load, cell.spec, parts_of(ctx), n, runner_s)


def time_service(plan: Plan, run: Run) -> ServiceTime:
    """S for this cell's bound. For /prime, plain, napping or offloaded: the mean CPU
    seconds each request's check took where it ran (the server's thread, net of what it ran
    between naps; the backend's process), in this window, under this load (the machine's
    speed moves by several per cent within seconds, and a queue's latency overlaps the work
    under load: measured, see the report). For hashing: timed in the cell's own idle server
    just before. A closed bound's S is the GIL's whole demand: every line of Python a
    request runs (parsing, the framework, the check), the server's CPU per request."""
    kind = plan.scenario.timing
    samples = next(p for p in plan.parts if isinstance(p, IdleTiming)).samples
    idle_s = statistics.mean(samples) if samples else None
    work = run.summary.rows.get(WORK_ROW, {})
    load_s = (number(work.get("Average Response Time")) / 1000
              if kind in LOAD_TIMED and int(work.get("Request Count", 0)) else None)
    requests = _requests(plan, run)
    whole_s = run.meter.seconds("server") / requests if kind in SERVER_TIMED and requests \
        else None
    source = "server" if whole_s else "load" if load_s else "idle"
    return ServiceTime(whole_s or load_s or idle_s, source, load_s, idle_s)


def judge(plan: Plan, run: Run, service: ServiceTime) -> Judged:
    """The cell's bound, and the throughput it judges. A CPU cell completes a handful to a
    few dozen requests a window, in bursts (threads sharing the GIL finish together), so
    counting moves it by up to ± in_progress / requests; its users' mean response time, by
    Little's law, does not move with the bursts (measured: docs/sample/quick)."""
    cell, scenario, settings = plan.cell, plan.scenario, plan.ctx.settings
    kind = scenario.timing
    limit = bound(cell, scenario, delay=settings.delay,
                  service={kind: service.s} if service.s else {}, cores=settings.cores)
    requests = _requests(plan, run)
    rps = requests / run.summary.window_s
    users = cell.users - scenario.heartbeat  # a closed loop: each user one request at a time
    mean_ms = number(_primary(plan, run).get("Average Response Time"))
    little_rps = users / (mean_ms / 1000) if mean_ms else None
    judged = little_rps if scenario.bound in CPU_KINDS and little_rps else rps
    return Judged(limit, rps, requests, little_rps, judged,
                  in_progress=min(users, cell.spec.slots))


def build_result(plan: Plan, run: Run, service: ServiceTime, judged: Judged) -> CellResult:
    cell, settings, meter = plan.cell, plan.ctx.settings, run.meter
    primary = _primary(plan, run)
    limit, rps, requests = judged.bound_rps, judged.rps, judged.requests
    parts = {name: value for part in plan.parts for name, value in part.fields(run).items()}
    return CellResult(
        **cell.identity(), label=cell.model_label, worker_connections=cell.spec.worker_connections,
        users=cell.users, n=plan.n, cpu_count=settings.cores, duration_s=run.summary.window_s,
        warmup_s=plan.load.warmup, locust_processes=settings.locust_processes,
        requests=requests, failures=int(primary.get("Failure Count", 0)), rps=rps,
        p50_ms=number(primary.get("50%")), p95_ms=number(primary.get("95%")),
        p99_ms=number(primary.get("99%")), max_ms=number(primary.get("100%")),
        bound_rps=limit, fidelity=judged.judged_rps / limit if limit else None,
        fidelity_of="little" if judged.judged_rps is judged.little_rps else "count",
        # ± this fraction of rps from counting alone: completions at the window's edges (up
        # to one per request in progress) fall in or out
        counting_uncertainty=judged.in_progress / requests if requests else None,
        little_rps=judged.little_rps,  # Little's law: users ÷ their mean response time
        service_time_ms=service.s and service.s * 1000, service_source=service.source,
        service_load_ms=service.load_s and service.load_s * 1000,
        service_idle_ms=service.idle_s and service.idle_s * 1000,
        service_runner_ms=plan.runner_s and plan.runner_s * 1000,
        server_cpu_pct=meter.percent("server"),
        # the busiest server process: 100% with a total of 100% means one worker did it all
        server_max_process_cpu_pct=meter.max_process_percent("server"),
        # CPU the server spent per request: for cpu cells, compare with S
        server_cpu_ms_per_request=(meter.percent("server") * 10 / rps) if rps else None,
        locust_cpu_pct=meter.percent("locust"),
        locust_max_process_cpu_pct=meter.max_process_percent("locust"),
        locust_limited=meter.max_process_percent("locust") > LOCUST_CPU_LIMIT,
        **parts)


def _primary(plan: Plan, run: Run) -> dict:
    """Locust's row of the request whose throughput counts."""
    return run.summary.rows.get(plan.scenario.primary, {})


def _requests(plan: Plan, run: Run) -> int:
    return int(_primary(plan, run).get("Request Count", 0))
