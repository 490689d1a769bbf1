"""Run one matrix cell: serve, load, measure, reap -- and judge it by its bound.

:func:`run_cell` starts the cell's gunicorn on a free port, runs Locust
headless (a warm-up, statistics reset, then the measured window), samples the
CPU of the server and of Locust with psutil, stops and reaps everything, and
returns the cell's results row with its bound and fidelity. It knows no lesson
by name: the scenario says how to load and which bound judges.
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
from dataclasses import dataclass
from pathlib import Path

from webapp.work.gilfree import sha256_megabytes
from webapp.work.primes import is_prime, is_prime_napping

from ..harness.cpu import CpuMeter
from ..harness.procs import tree
from ..lessons import SCENARIO
from ..load.client import get
from ..load.locustrun import DB_WAIT_ROW, WORK_ROW, Load, LocustRun, number
from ..load.trickle import SlowClients
from ..model.queueing import measure_service_time
from ..servers import free_port, launch
from ..services.fleet import cell_services
from ..services.nginx import NginxProxy
from ..timeline.record import FLUSH_TIMEOUT_S, CellTrace
from .bounds import CPU_KINDS, bound
from .cells import Cell
from .monitors import MONITORS

#: Seconds a cell's server gets to quit before SIGKILL, once its load is over.
STOP_GRACE_S = 0.3
#: A Locust process busier than this (percent of one core) may itself be the limit.
LOCUST_CPU_LIMIT = 85.0


@dataclass
class Settings:
    windows: dict[str, tuple[float, float]]  # scenario or "other" -> (warm-up, measured) s
    delay: float
    n: int
    short_n: int  # for the scenarios that ask for it (Scenario.short)
    mb: int
    locust_processes: int
    start_samples: list[float]  # is_prime(n) timed at the start: the machine's drift check
    cores: int
    cross_check: bool = True  # also time S in the runner, per cell
    #: The cells (by key) whose request timelines are recorded and drawn (loadtests.timeline)
    traced: frozenset = frozenset()

    @property
    def start_s(self) -> float:
        """S at the start (each cell's bound is timed anew, in its own server)."""
        return statistics.median(self.start_samples)

    def window(self, cell: Cell) -> tuple[float, float]:
        return self.windows.get(cell.scenario, self.windows["other"])

    def prime_n(self, cell: Cell) -> int:
        scenario = SCENARIO[cell.scenario]
        return scenario.n or (self.short_n if scenario.short else self.n)

    def time_service(self, kind: str | None, n: int) -> float | None:
        """The runner's own timing, now, of the work a bound of this kind rests on.

        A cross-check only: the bound rests on the CPU under load, or on
        :meth:`time_in_server`.
        """
        if kind not in TIMED_WORK:
            return None
        _, check, arg, repeats = TIMED_WORK[kind]
        return measure_service_time(n if arg == "n" else self.mb, repeats=repeats, check=check)

    def time_in_server(self, url: str, kind: str | None, n: int,
                       repeats: int = 2) -> list[float]:
        """S in the idle server: the ``elapsed`` of ``repeats`` requests to it.

        The bound of a hashing cell rests on it; for /prime (plain, napping, offloaded)
        it is the idle timing the report puts beside S under load.

        The same endpoint the cell loads (for a napping cell the napping check, on asgi
        its coroutine, for an offload cell the backend it offloads to), in the cell's own
        server, before the load starts. (Not after it:
        requests still in flight when Locust stops keep a worker computing -- and under
        threads or napping they share the core with the timed request.)
        """
        if kind not in TIMED_WORK:
            return []
        path = TIMED_WORK[kind][0].format(n=n, mb=self.mb)
        if kind in ("gilfree", "offload"):
            # a warm-up: the first hash faults in its zero pages; the first offload starts
            # the worker's pool, or connects to Redis or the dirty arbiter
            get(url + path)
        return [get(url + path).body["elapsed"] for _ in range(repeats)]


#: The kinds whose S is the CPU each request's check reported under the load (Locust's
#: WORK_ROW); the others' is :meth:`Settings.time_in_server`'s idle timing.
LOAD_TIMED = ("cpu", "nap", "offload", "closed")

#: The kinds whose S is the server's whole CPU per request under the load (psutil: master and
#: workers over the window ÷ requests); the check's own (LOAD_TIMED) is reported beside it.
SERVER_TIMED = ("closed",)

#: Per timing kind, the work a bound rests on: the endpoint whose ``elapsed`` is S in the
#: server, and the same work for the runner's cross-check (function, Settings field with
#: its argument, calls).
TIMED_WORK = {
    "cpu": ("/prime/{n}", is_prime, "n", 1),
    "nap": ("/prime/{n}?nap=1", is_prime_napping, "n", 1),
    "gilfree": ("/hash?mb={mb}", sha256_megabytes, "mb", 2),
    # the backend's whole path: the check plus its round trip (pool, dirty arbiter, Redis)
    "offload": ("/offload/prime/{n}", is_prime, "n", 1),
    # /mixed's CPU alone: its check, with no wait before it
    "closed": ("/mixed?delay=0&n={n}", is_prime, "n", 3),
}


def run_cell(cell: Cell, settings: Settings, cell_dir: Path) -> dict:
    """Serve, load, measure and stop one cell; return its results row."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    scenario = SCENARIO[cell.scenario]
    warmup, duration = settings.window(cell)
    kind = scenario.timing
    # a cross-check of the in-server S (the full preset; make demo saves its seconds)
    n = settings.prime_n(cell)
    runner_s = settings.time_service(kind, n) if settings.cross_check else None
    trace = CellTrace(cell_dir, cell.key() in settings.traced and cell.spec.runs_on.traces)
    extra = scenario.extra + (("--db-sync",) if cell.db and cell.db.sync else ()) + \
        trace.locust_flags
    load = Load(tag=scenario.tag, users=cell.users, duration=duration,
                warmup=warmup, delay=settings.delay, prime_n=n,
                mb=settings.mb, processes=settings.locust_processes, extra=extra)
    spec = cell.spec
    monitor = MONITORS.get(spec.model)
    if monitor:
        spec = dataclasses.replace(spec, env=spec.env + monitor.env)
    spec = dataclasses.replace(spec, env=spec.env + trace.env)
    port, front = free_port(), free_port()
    if not cell.proxy:
        front = port
    # Locust boots (about a second) while the services and the server do; it waits at its
    # gate until S is timed.
    with LocustRun(load, f"http://127.0.0.1:{front}", cell_dir / "locust",
                   cell_dir / "locust.log") as locust, \
            cell_services(cell, cell_dir, wait=False) as services, \
            contextlib.ExitStack() as stack:
        server = launch(dataclasses.replace(spec, env=spec.env + services.env),
                        port=port, log_path=cell_dir / f"{spec.server}.log")
        server.start()
        try:
            services.wait_ready()
            if cell.proxy:
                stack.enter_context(NginxProxy(port, port=front,
                                               log_path=cell_dir / "nginx.log"))
            samples = settings.time_in_server(f"http://127.0.0.1:{front}", kind, n)
            slow = stack.enter_context(SlowClients("127.0.0.1", front, cell.slow))
            meters = {
                "server": server.processes,  # master, workers, offload pools, dirty workers
                "locust": lambda: tree(locust.proc.pid),
            }
            if services.meter:
                meters["offload"] = services.meter  # redis-server and the Celery fleet
            meter = CpuMeter(meters)
            workers = server.worker_pids()
            with trace.sampling(workers):
                summary = locust.wait(meter)
            slow.stop()
            server_log = server.log_text()
            if trace.enabled:  # its workers write their spans as they quit
                server.quit(lambda: trace.flushed(workers), timeout=FLUSH_TIMEOUT_S)
        finally:
            # The load is over: gunicorn's quick shutdown (SIGQUIT), and SIGKILL 0.3 s later.
            # A worker busy in is_prime under gthread, gevent or asgi acts on SIGQUIT only
            # when the prime ends (measured: 6-11 s for four 1.6 s primes in flight);
            # nothing the cell measures is left to wait for, and every process is reaped.
            server.stop(grace=STOP_GRACE_S, graceful=False)
    primary = summary.rows.get(scenario.primary, {})
    requests = int(primary.get("Request Count", 0))
    rps = requests / summary.window_s
    # The service time this cell's bound uses. For /prime, plain, napping or offloaded: the
    # mean CPU seconds each request's check took where it ran (the server's thread, net of
    # what it ran between naps; the backend's process), in this window, under this load (the
    # machine's speed moves by several per cent within seconds, and a queue's latency
    # overlaps the work under load: measured, see the report). For hashing: timed in the
    # cell's own idle server just before.
    idle_s = statistics.mean(samples) if samples else None
    work = summary.rows.get(WORK_ROW, {})
    load_s = kind in LOAD_TIMED and int(work.get("Request Count", 0)) and \
        number(work.get("Average Response Time")) / 1000
    service_s = load_s or idle_s
    # A closed bound's S is the GIL's whole demand: every line of Python a request runs
    # (parsing, the framework, the check), the server's CPU per request over the window.
    whole_s = kind in SERVER_TIMED and requests and meter.seconds("server") / requests
    service_s = whole_s or service_s
    limit = bound(cell, scenario, delay=settings.delay,
                  service={kind: service_s} if service_s else {}, cores=settings.cores)
    users = cell.users - scenario.heartbeat  # a closed loop: each user one request at a time
    in_progress = min(users, cell.spec.slots)  # of them, those the server holds at once
    mean_ms = number(primary.get("Average Response Time"))
    little_rps = users / (mean_ms / 1000) if mean_ms else None
    # The throughput the fidelity judges. A CPU cell completes a handful to a few dozen
    # requests a window, in bursts (threads sharing the GIL finish together), so counting
    # moves it by up to ± in_progress / requests; its users' mean response time, by
    # Little's law, does not move with the bursts (measured: docs/sample/quick).
    judged = little_rps if scenario.bound in CPU_KINDS and little_rps else rps
    hub, blocked_s = (monitor.blocked(server_log, *meter.wall_window) if monitor
                      else (None, None))
    row = {
        "scenario": cell.scenario,
        "label": cell.model_label,
        "server": cell.spec.server,
        "server_options": list(cell.spec.options),
        "worker_class": cell.spec.worker_class,
        "workers": cell.spec.workers,
        "threads": cell.spec.threads,
        "worker_connections": cell.spec.worker_connections,
        "users": cell.users,
        "n": n,
        "cpu_count": settings.cores,
        "duration_s": summary.window_s,
        "warmup_s": warmup,
        "requests": requests,
        "failures": int(primary.get("Failure Count", 0)),
        "rps": rps,
        "p50_ms": number(primary.get("50%")),
        "p95_ms": number(primary.get("95%")),
        "p99_ms": number(primary.get("99%")),
        "max_ms": number(primary.get("100%")),
        "bound_rps": limit,
        "fidelity": judged / limit if limit else None,
        "fidelity_of": "little" if judged is little_rps else "count",
        # ± this fraction of rps from counting alone: completions at the window's edges (up
        # to one per request in progress) fall in or out
        "counting_uncertainty": in_progress / requests if requests else None,
        # Little's law for the closed loop: users ÷ their mean response time
        "little_rps": little_rps,
        "service_time_ms": service_s and service_s * 1000,
        "service_source": "server" if whole_s else "load" if load_s else "idle",
        "service_load_ms": load_s and load_s * 1000,
        "service_idle_ms": idle_s and idle_s * 1000,
        "service_samples_ms": [s * 1000 for s in samples],  # in the server, idle
        "service_runner_ms": runner_s and runner_s * 1000,
        "switch_interval": cell.switch_interval,
        "reuse_port": cell.reuse_port,
        "pin_cores": cell.pin_cores,
        "offload": cell.spec.offload,
        "celery": dataclasses.asdict(cell.celery) if cell.celery else None,
        "db": dataclasses.asdict(cell.db) if cell.db else None,
        # the mean seconds a /db request waited for a pooled connection, as the app timed it
        "db_pool_wait_ms": number(summary.rows.get(DB_WAIT_ROW, {}).get(
            "Average Response Time")) if cell.db else None,
        "proxy": cell.proxy,
        **slow.summary(),
        "offload_cpu_pct": meter.percent("offload") if services.meter else None,
        # the event loop's own watchdog (loadtests.matrix.monitors): gevent's hub, asyncio's loop
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
    trace.finish(row, summary.window_wall)
    if scenario.heartbeat:
        beat = summary.rows.get("heartbeat", {})
        row.update(
            heartbeat_requests=int(beat.get("Request Count", 0)),
            heartbeat_failures=int(beat.get("Failure Count", 0)),
            heartbeat_p50_ms=number(beat.get("50%")),
            heartbeat_p99_ms=number(beat.get("99%")),
            heartbeat_max_ms=number(beat.get("100%")),
        )
    return row
