"""Step 2 with a goal (``--rate R --p99 MS``): which configurations the twin says keep it,
the leanest first, and how far past R each should hold.

Every configuration worth serving the app with -- from one process up, not only those that
fill the cores, since a goal may need less than the machine -- is fed to its simulated twin
(:meth:`.predict.Candidate.twin`) with the profile's request: S_cpu of Python, then R − S_cpu
of waiting. The twin's p50 and p99 at R (:func:`loadtests.model.goal.forecast`) say whether
it meets the goal. Those that do come first, the fewest processes, then the least memory,
then the lowest p99 first: the configuration that meets the goal with the fewest resources.
The headroom, the highest rate at which the twin still meets the goal
(:func:`loadtests.model.goal.highest_rate`), is searched for the few that will be measured.

When none meets it on these cores, :func:`elsewhere` says how many cores, or how many such
hosts behind nginx, the twin says would: a prediction, and labelled as one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..model.goal import Forecast, Goal, capacity, forecast, highest_rate
from ..model.simulate import Twin, Work
from .dbwatch import Budget
from .predict import (
    EVENT_LOOPS,
    MAX_THREADS,
    PREFERENCE,
    SERVER_PREFERENCE,
    Candidate,
    Prediction,
    Profile,
    memory_mb,
    risk,
)

#: Threads per gthread worker the plan tries (up to predict.MAX_THREADS).
THREADS = (2, 4, 8, 16, 32, MAX_THREADS)
#: The most cores :func:`elsewhere` looks at before it says hosts instead.
MAX_CORES = 64
#: The configurations with the most capacity whose headroom :func:`elsewhere` searches.
HOST_TRIES = 2


@dataclass(frozen=True)
class Plan:
    """A configuration's prediction for the goal: the twin at R, and (once searched) the
    highest rate at which it still meets the goal."""

    prediction: Prediction
    forecast: Forecast
    meets: bool  # whether the forecast meets the goal, within the memory budget
    headroom_rps: float | None = None
    #: its workers' memory is past the budget (``--memory``)
    over_memory: bool = False
    #: the rate its twin can answer at most (:func:`loadtests.model.goal.capacity`)
    capacity_rps: float = 0.0
    #: the database connections it may open, workers × pool (or slots), and whether that is
    #: more than the database allows (None: no database budget given)
    db_connections: float | None = None
    over_db: bool = False

    @property
    def candidate(self) -> Candidate:
        return self.prediction.candidate


def work(profile: Profile, candidate: Candidate) -> Work:
    """The profile's request as ``candidate``'s twin runs it: S_cpu, then the rest of R
    waiting -- holding the worker's event loop, where the stall probe found it held."""
    held = profile.loop_blocked and candidate.model in EVENT_LOOPS
    return Work(profile.cpu_s, max(0.0, profile.latency_s - profile.cpu_s), yields=not held)


def twin_of(candidate: Candidate, profile: Profile, cores: int) -> Twin:
    """``candidate``'s twin for this app. Where the app's waits hold an event loop, each
    worker is one slot, fed from the one accept queue: a worker its wait holds takes no
    connection meanwhile, so the requests wait for whichever worker is free, as sync's do
    (measured: asgi -w5 at 15/s, p99 145 ms, where greenlet slots kept by workers taken at
    random predicted 385 ms; a shared queue of 1,000 slots a worker sent every request to
    the first worker, 75 s)."""
    twin = candidate.twin(cores)
    if profile.loop_blocked and candidate.model in EVENT_LOOPS:
        return dataclasses.replace(twin, slots=1, keepalive=False, shares=None)
    return twin


def workers_to_try(cores: int) -> list[int]:
    """Processes per configuration: 1, 2, 4, ... up to the cores, and the cores.

    >>> workers_to_try(2), workers_to_try(6)
    ([1, 2], [1, 2, 4, 6])
    """
    return sorted({2 ** k for k in range(cores.bit_length()) if 2 ** k <= cores} | {cores})


def configurations(cores: int, kind: str, blocked: bool = False) -> list[Candidate]:
    """What the plan tries on ``cores`` for a ``kind`` ("wsgi" or "asgi") app; ``blocked``:
    its waits hold an event loop, so asyncio workers are tried as many as sync's."""
    counts = workers_to_try(cores)
    if kind == "asgi":
        more = sorted(set(counts) | {2 * cores + 1, 4 * cores}) if blocked else counts
        return [*(Candidate("asgi", w) for w in more),
                Candidate("asgi", cores, server="uvicorn"),
                Candidate("asgi", cores, server="granian")]
    default = 2 * cores + 1
    sync = sorted(set(counts) | {default, 4 * cores})
    found = [Candidate("sync", w, note="gunicorn's default advice (2 × cores + 1)"
                       if w == default else "") for w in sync]
    found += [Candidate("gthread", w, threads=t) for w in counts for t in THREADS]
    found += [Candidate("gevent", w, reuse_port=w > 1) for w in counts]
    found += [Candidate("wsgi", cores, threads=t, server="granian") for t in (8, MAX_THREADS)]
    found += [Candidate("wsgi", 1, threads=t, server="waitress") for t in (8, MAX_THREADS)]
    return found


def connections(candidate: Candidate, pool: int | None) -> float:
    """The database connections ``candidate`` may hold at once: each worker its pool (the
    app's, ``--db-pool``), or where none is given one per slot -- the threads, the greenlets
    (unbounded on asyncio).

    >>> connections(Candidate("gthread", 2, threads=16), None)
    32
    >>> connections(Candidate("gthread", 2, threads=16), 5), connections(Candidate("asgi", 4), 10)
    (10, 40)
    """
    per_worker = candidate.slots / candidate.workers
    held = per_worker if pool is None else min(pool, per_worker)
    return math.inf if held == math.inf else round(candidate.workers * held)


def plan(profile: Profile, goal: Goal, *, cores: int, kind: str, full: bool = False,
         memory: float | None = None, db: Budget | None = None,
         pool: int | None = None) -> list[Plan]:
    """Every configuration under a model the app serves under, forecast at the goal's
    rate: those that meet it (within ``memory`` MiB of workers, and the connections ``db``
    allows at ``pool`` a worker, if given) first, leanest first (the module's order);
    ``full``: only those with a process per core or more (what :func:`elsewhere` asks of
    more cores)."""
    plans = []
    for c in configurations(cores, kind, profile.loop_blocked):
        if c.served not in profile.memory or (full and c.workers < cores):
            continue
        twin, request = twin_of(c, profile, cores), work(profile, c)
        ahead = forecast(twin, request, goal.rate)
        needs = memory_mb(c, profile)
        over = memory is not None and needs is not None and needs > memory
        held = connections(c, pool) if db else None
        over_db = held is not None and held > db.allowed
        plans.append(Plan(Prediction(c, goal.rate, needs, risk(c, profile, cores)), ahead,
                          ahead.meets(goal) and not over and not over_db, over_memory=over,
                          capacity_rps=capacity(twin, request), db_connections=held,
                          over_db=over_db))

    def key(p: Plan):
        c = p.candidate
        # p99s within a tenth of the goal's bound count as equal: fewer slots then win
        return (not p.meets, c.workers, round(p.prediction.memory_mb or 0, -1),
                round(p.forecast.p99_s / goal.p99_s * 10) if p.meets else p.forecast.p99_s,
                PREFERENCE.index(c.model), SERVER_PREFERENCE.index(c.server), c.slots)

    return sorted(plans, key=key)


def with_headroom(p: Plan, profile: Profile, goal: Goal, cores: int) -> Plan:
    """``p`` with its predicted headroom: the highest rate at which its twin meets the goal."""
    rate = highest_rate(twin_of(p.candidate, profile, cores), work(profile, p.candidate), goal)
    return dataclasses.replace(p, headroom_rps=rate)


def elsewhere(profile: Profile, goal: Goal, *, cores: int, kind: str) -> dict:
    """Where the goal would be met, the twin says, when it is not on ``cores``: the fewest
    cores (doubling, up to :data:`MAX_CORES`) for which a configuration with a process per
    core meets it, and how many hosts of ``cores`` behind nginx, sharing the rate evenly,
    the configuration here with the most capacity would need (its headroom each). Neither,
    when a lone request already takes longer than the goal allows."""
    lone = profile.latency_s
    if lone > min(bound for bound in (goal.p99_s, goal.p50_s) if bound is not None):
        return {"cores": None, "hosts": None, "host_config": None, "host_headroom_rps": None,
                "lone_ms": lone * 1000}
    more = next((n for n in (cores * 2 ** k for k in range(1, 8)) if n <= MAX_CORES
                 and any(p.meets for p in plan(profile, goal, cores=n, kind=kind,
                                               full=True))), None)
    full = [c for c in configurations(cores, kind, profile.loop_blocked)
            if c.served in profile.memory and c.workers >= cores]
    strongest = sorted(full, key=lambda c: -capacity(twin_of(c, profile, cores),
                                                     work(profile, c)))
    headroom, best = max(((highest_rate(twin_of(c, profile, cores), work(profile, c), goal), c)
                          for c in strongest[:HOST_TRIES]),
                         key=lambda pair: pair[0], default=(0.0, None))
    hosts = math.ceil(goal.rate / headroom) if headroom else None
    return {"cores": more, "hosts": hosts, "host_config": best.label if hosts else None,
            "host_headroom_rps": headroom or None, "lone_ms": lone * 1000}
