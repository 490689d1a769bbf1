"""Open traffic per worker model: measured at a rate, and predicted by the simulated twin.

Each model serves one workload (:data:`WORKLOADS`) on a fresh server: ``/io?delay=``
(:data:`DELAY_S` of waiting that yields), ``/prime/<n>`` (a dozen milliseconds of pure
Python), ``/mixed`` (the waiting, then the dozen milliseconds), or ``/db`` (the waiting in a
PostgreSQL of the run's own, on psycopg 3's pool: one connection per thread). A short open
run at a low rate profiles it: the server's CPU per request (psutil), hence its capacity,
the least of three bounds (slots ÷ (delay + S), processes ÷ S, cores ÷ S). Then, per offered
share of that capacity (ρ), the open-loop generator (:mod:`loadtests.load.openloop`, a
process of its own) sends Poisson arrivals at ρ × the capacity (at most :data:`MAX_RATE`),
counting the answers by the worker process that gave them (the app's ``pid``). The twin
(:mod:`loadtests.model.simulate`) is fed what that run measured -- the CPU per request, the
delay, the cores, and the split of the requests between the workers -- and the time a
request spends outside the server (``/health`` at a low rate on the same server first: its
mean latency less the server's CPU per request), and predicts p50 and p99 at the same rate,
beside the measured ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
from collections.abc import Iterator

from webapp.work.primes import MIXED_PRIME

from ...harness.machine import usable_cores
from ...load.client import get
from ...model import goal
from ...model.atsplit import at_split
from ...model.simulate import Twin, Work, open_loop
from ...servers import ServerSpec, launch
from ...services.postgres import PostgresServer
from .openload import measured, schedule, shares

#: The waiting each request does (seconds): short enough that a sync worker's open cell
#: counts hundreds of requests in a few seconds.
DELAY_S = 0.02


#: (label, spec): each model as the io lesson runs it, asgi as gevent.
MODELS = (
    ("sync -w2", ServerSpec("sync", workers=2)),
    ("gthread -w2 --threads 4", ServerSpec("gthread", workers=2, threads=4)),
    ("gevent -w1", ServerSpec("gevent")),
    ("asgi -w1", ServerSpec("asgi")),
)


@dataclasses.dataclass(frozen=True)
class Workload:
    """What each request of a scenario does: its path, and the waiting in it (seconds);
    the models that run it (labels of :data:`MODELS`; empty: all), and whether it waits in
    a PostgreSQL of its own (``database``: each worker's pool holds one connection per
    thread, so the pool is no narrower than the slots)."""

    path: str
    delay_s: float
    models: tuple[str, ...] = ()
    database: bool = False
    #: Whether its Python runs after the wait (``/mixed``: sleep, then the check): the
    #: twin then gives it a turn at the GIL or loop before the wait and one after.
    computes_after: bool = False
    #: The field of its JSON answer that times each request's own wait, in seconds, where
    #: the wait is not what the app asked for (``/db``'s ``wall``: ``pg_sleep`` and the round
    #: trip, the backend's wake-up, the pool's checkout): the twin waits its median at the
    #: profile's rate, where nothing queues, instead of ``delay_s``.
    timed: str | None = None

    def work(self, cpu_s: float, outside_s: float = 0.0) -> Work:
        """One request as the twin sees it, ``cpu_s`` of Python in all, ``outside_s`` on
        its way to the server and back."""
        if self.computes_after:
            return Work(0.0, self.delay_s, after_s=cpu_s, outside_s=outside_s)
        return Work(cpu_s, self.delay_s, outside_s=outside_s)

    def runs(self) -> tuple[tuple[str, ServerSpec], ...]:
        """The (label, spec) pairs of the models that run it."""
        return tuple(model for model in MODELS if not self.models or model[0] in self.models)


#: The scenarios the open cells run, by name: one database cell (gthread, whose threads
#: each hold a pooled connection) beside the three workloads every model runs.
WORKLOADS = {"io": Workload(f"/io?delay={DELAY_S:g}", DELAY_S),
             "cpu": Workload(f"/prime/{MIXED_PRIME}", 0.0),
             "mixed": Workload(f"/mixed?delay={DELAY_S:g}", DELAY_S, computes_after=True),
             "db": Workload(f"/db?ms={DELAY_S * 1000:g}", DELAY_S,
                            models=("gthread -w2 --threads 4",), database=True, timed="wall")}
#: The highest rate offered (a second): where the generator, on the same two cores, still
#: takes a small share of one (its send lag is reported with every row).
MAX_RATE = 400.0
#: The profile: (rate, seconds) at which the CPU per request is first measured.
PROFILE = (40.0, 2.0)
#: The floor: (rate, seconds) of ``/health`` at which the time a request spends outside the
#: server is measured (its mean latency less the server's CPU for it: nothing queues).
FLOOR = (50.0, 2.0)


def capacity(twin: Twin, cpu_s: float, delay_s: float) -> float:
    """Requests a second the server can answer (:func:`loadtests.model.goal.capacity`):
    slots ÷ (delay + S), one GIL or loop per process (processes ÷ S), the cores (cores ÷ S).

    >>> round(capacity(Twin.of("sync", workers=2), 0.001, 0.02), 1)
    95.2
    """
    return goal.capacity(twin, Work(cpu_s, delay_s))


def run_one(label: str, spec: ServerSpec, rhos: tuple[float, ...], duration: float,
            seed: int = 1, scenario: str = "io") -> list[dict]:
    """One model's rows in a scenario: a fresh server, its profile, then an open run per ρ."""
    work, twin = WORKLOADS[scenario], twin_of(spec)
    rows = []
    with serving(spec, work, twin, seed) as served:
        spec, server, url = served.spec, served.server, served.url
        for rate in dict.fromkeys(min(MAX_RATE, rho * served.capacity_rps) for rho in rhos):
            # (a rate capped twice runs once)
            before = gc_of(server, spec)
            summary, cpu_s = measured(server, url, rate, duration, seed)
            rows.append({"scenario": scenario, "path": work.path,
                         **predicted_row(label, spec, twin, summary, cpu_s, rate, work,
                                         schedule(rate, duration, seed), served),
                         **full_collections(before, gc_of(server, spec))})
    return rows


@dataclasses.dataclass(frozen=True)
class Served:
    """A fresh server ready for open runs on one workload (:func:`serving`)."""

    #: The spec it serves with (a database's URL in its environment, where it has one).
    spec: ServerSpec
    server: object
    url: str
    #: Seconds a request spends outside the server (:func:`outside_s`).
    outside_s: float
    #: Requests a second it can answer on the workload (:func:`capacity`).
    capacity_rps: float
    #: The seconds each request waits, as measured at the profile's rate, where the
    #: workload times it (:attr:`Workload.timed`); None: its ``delay_s``.
    wait_s: float | None = None


@contextlib.contextmanager
def serving(spec: ServerSpec, work: Workload, twin: Twin, seed: int) -> Iterator[Served]:
    """A fresh server for ``work`` (with a PostgreSQL of its own where ``work`` needs one),
    and before its open runs the seconds a request spends outside it (:func:`outside_s`)
    and its capacity from the profile's CPU per request (and its wait, where the workload
    times it); stopped, and its database with it, on leaving."""
    with contextlib.ExitStack() as stack:
        if work.database:
            spec = _on_a_database(stack, spec)
        server = stack.enter_context(launch(spec))
        url = server.url + work.path
        outside = outside_s(server, seed)
        timed = ("--time", work.timed) if work.timed else ()
        profile, profiled_cpu = measured(server, url, *PROFILE, seed, *timed)
        # the median: a fresh pool's first checkouts open their connections
        wait = profile["fields_ms"][work.timed]["p50"] / 1000 if work.timed else None
        yield Served(spec, server, url, outside,
                     capacity(twin, profiled_cpu, work.delay_s if wait is None else wait), wait)


def gc_of(server, spec: ServerSpec) -> dict | None:
    """The worker's garbage collections so far (``/info``'s ``gc``) where one process
    serves; None with more (``/info`` answers from any one of them)."""
    return get(server.url + "/info").body.get("gc") if spec.workers == 1 else None


def full_collections(before: dict | None, after: dict | None) -> dict:
    """The full (generation-2) collections between two readings of :func:`gc_of`, and the
    milliseconds they held the worker (None: not read).

    >>> full_collections({"collections": [5, 1, 0], "total_ms": [1.0, 0.5, 0.0]},
    ...                  {"collections": [9, 2, 1], "total_ms": [2.0, 0.9, 22.5]})
    {'full_collections': 1, 'full_ms': 22.5}
    """
    if before is None or after is None:
        return {"full_collections": None, "full_ms": None}
    return {"full_collections": after["collections"][2] - before["collections"][2],
            "full_ms": after["total_ms"][2] - before["total_ms"][2]}


def twin_of(spec: ServerSpec) -> Twin:
    """The twin of ``spec``'s worker model on this machine's usable cores."""
    return Twin.of(spec.model, workers=spec.workers, threads=spec.threads,
                   connections=spec.worker_connections, cores=usable_cores(),
                   server=spec.server)


def outside_s(server, seed: int) -> float:
    """Seconds a request spends outside the server: ``/health``'s mean latency at
    :data:`FLOOR` less the server's CPU per request (the generator's send lag and read, the
    connection, the loopback)."""
    summary, cpu_s = measured(server, server.url + "/health", *FLOOR, seed)
    return max(0.0, summary["latency_ms"]["mean"] / 1000 - cpu_s)


def _on_a_database(stack: contextlib.ExitStack, spec: ServerSpec) -> ServerSpec:
    """A PostgreSQL of the run's own, stopped with ``stack``; ``spec`` reaching it through
    psycopg 3's pool of one connection per thread."""
    db = stack.enter_context(PostgresServer())
    return dataclasses.replace(spec, env=(*spec.env, ("DATABASE_URL", db.url),
                                          ("DB_DRIVER", "psycopg"),
                                          ("DB_POOL_SIZE", str(spec.threads))))


def predicted_row(label: str, spec: ServerSpec, twin: Twin, summary: dict, cpu_s: float,
                  rate: float, work: Workload, dues: list[float], served: Served,
                  sequence: tuple[float, ...] = ()) -> dict:
    """What one open run on ``served`` measured, the twin's prediction beside it, fed what
    the server's profile measured: the time outside it, and the wait where the workload
    times it (``sequence``: each request's own Python, in arrival order, instead of
    ``cpu_s`` for all)."""
    outside = served.outside_s
    taken = (work if served.wait_s is None
             else dataclasses.replace(work, delay_s=served.wait_s))
    split = shares(summary, twin.processes)
    # a sync worker answers one request a connection and closes it: every request waits
    # in the one accept queue; the others keep the connections they accepted, which the
    # generator's pool reuses (the one answered last first), a new one accepted by a
    # worker in the measured proportions
    kept = spec.model != "sync" and twin.processes > 1
    fed = dataclasses.replace(twin, shares=split if kept else None, keepalive=kept)
    # the run as measured: its own schedule replayed (the generator's seed: another
    # Poisson schedule at the same rate moves p99 by half near the knee), from an empty
    # server (past it the queue grows for as long as the run lasts); the median of five
    # runs, with connections kept the five whose split is nearest the run's (model.atsplit)
    if len(dues) != summary["scheduled"]:
        raise ValueError(f"the generator scheduled {summary['scheduled']} requests, the "
                         f"twin's replay {len(dues)}: not the run's schedule")
    def predict(workload: Workload, twin: Twin = fed) -> dict[str, float]:
        request = dataclasses.replace(workload.work(cpu_s, outside), sequence=sequence)
        return _predicted(twin, request, rate, dues, split if kept else None)

    said = predict(taken)
    # beside a wait measured, what the twin says of the delay asked for
    asked = predict(work) if taken is not work else {}
    # beside an event loop, what it says with a lock in the loop's place (first come, first
    # served): what the loop's iterations account for, run by run
    locked = predict(taken, dataclasses.replace(fed, hops=None)) if fed.hops else {}
    measured, ceiling = summary["latency_ms"], capacity(twin, cpu_s, taken.delay_s)
    return {
        "label": label, "model": spec.model, "delay_s": work.delay_s,
        "wait_ms": taken.delay_s * 1000, "cores": twin.cores,
        "cpu_ms": cpu_s * 1000, "outside_ms": outside * 1000, "capacity_rps": ceiling,
        "offered_rps": summary["offered_rps"], "achieved_rps": summary["achieved_rps"],
        "rate_rps": rate, "utilisation": rate / ceiling,
        "shares": list(split),
        "scheduled": summary["scheduled"], "answered": summary["answered"],
        "failed": sum(summary["failed"].values()), "timed_out": summary["timed_out"],
        "dropped": summary["dropped"],
        "p50_ms": measured.get("p50"), "p99_ms": measured.get("p99"),
        "max_ms": measured.get("max"), "mean_ms": measured.get("mean"),
        "send_lag_p99_ms": summary["send_lag_ms"].get("p99"),
        "run_queue_ms": summary.get("run_queue_ms"),
        # what the hypervisor took from every CPU during the run (the generator's summary)
        "steal_ms": summary.get("host", {}).get("steal_ms"),
        **{f"predicted_{name}": value for name, value in said.items()},
        "asked_p50_ms": asked.get("p50_ms"), "asked_p99_ms": asked.get("p99_ms"),
        "lock_p50_ms": locked.get("p50_ms"), "lock_p99_ms": locked.get("p99_ms"),
    }


def _predicted(twin: Twin, request: Work, rate: float, dues: list[float],
               split: tuple[float, ...] | None) -> dict[str, float]:
    """The twin's p50, p99 and mean (ms) and throughput: the medians of its runs of the
    schedule (with connections kept, the runs nearest ``split``: :mod:`loadtests.model.atsplit`)."""
    runs = at_split(lambda seed: open_loop(twin, request, rate, arrivals=dues, warmup=0,
                                           seed=seed), split)
    return {"p50_ms": statistics.median(o.percentile(50) for o in runs) * 1000,
            "p99_ms": statistics.median(o.percentile(99) for o in runs) * 1000,
            "mean_ms": statistics.median(o.mean for o in runs) * 1000,
            "rps": statistics.median(o.throughput for o in runs)}


def observe(rhos: tuple[float, ...], duration: float, scenarios: tuple[str, ...] = ("io",),
            stalls: bool = False) -> list[dict]:
    """Every model's rows per scenario, one run after another (they share the cores); with
    ``stalls``, open against closed at the same throughput, and the stall met by an open
    load and by a closed one."""
    from .openclosed import stall, versus

    rows = [row for scenario in scenarios for label, spec in WORKLOADS[scenario].runs()
            for row in run_one(label, spec, rhos, duration, scenario=scenario)]
    return rows + ([*versus(), stall("open"), stall("closed")] if stalls else [])
