"""A latency goal at a rate: the simulated twin's percentiles at λ, and the highest rate
that still keeps them (the headroom).

A deployer does not ask "how many requests a second at most?" but "at our peak of λ a
second, does p99 stay under X?" The twin (:mod:`.simulate`) answers that for one server:
Poisson arrivals at λ, its p50 and p99. Past the server's capacity (:func:`capacity`) the
queue grows for as long as the peak lasts, so no percentile is kept there and nothing is
simulated (nor from :data:`UTILISATION` of it on); below it, latency rises with the rate,
so the highest rate that meets the goal is found by bisection.

A request is the app's profile as the twin sees it (:class:`.simulate.Work`): its CPU, then
its wait, each fixed at the profile's mean. A real app's latencies spread more than that,
so the measurement at λ, not this, is what the advice stands on; this ranks the candidates
and says how far past λ each should hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .simulate import Twin, Work, open_loop

#: Requests per simulated run (the first tenth not counted: the queue starts empty). A p99
#: from 3,000 moves by a few percent from one seed to another; the measurement decides.
REQUESTS = 3000
#: Halvings of the interval (0, the highest utilisation) in the search for the highest
#: rate: 1/128 of it.
STEPS = 7
#: The most of its capacity a server is planned to run at. Nearer its capacity a queue's
#: p99 takes longer to settle than a simulated run lasts (at 0.99 of capacity 3,000
#: requests read p99 = 152 ms where the queue had not yet grown), and a real app's spread
#: of service times, which the twin does not have, decides it.
UTILISATION = 0.9


@dataclass(frozen=True)
class Goal:
    """What the deployer asks: at ``rate`` requests a second, p99 (and p50, if given)
    within their bounds, in seconds."""

    rate: float
    p99_s: float
    p50_s: float | None = None

    def met(self, p50_s: float | None, p99_s: float | None) -> bool:
        """Whether percentiles measured or predicted (None: none known) meet it.

        >>> goal = Goal(300, 0.2, p50_s=0.05)
        >>> goal.met(0.04, 0.19), goal.met(0.06, 0.19), goal.met(0.04, None)
        (True, False, False)
        """
        if p99_s is None or p99_s > self.p99_s:
            return False
        return self.p50_s is None or (p50_s is not None and p50_s <= self.p50_s)

    def __str__(self) -> str:
        """
        >>> str(Goal(300, 0.2, p50_s=0.05))
        'p99 ≤ 200 ms and p50 ≤ 50 ms at 300 requests/s'
        """
        bounds = f"p99 ≤ {self.p99_s * 1000:g} ms"
        if self.p50_s is not None:
            bounds += f" and p50 ≤ {self.p50_s * 1000:g} ms"
        return f"{bounds} at {self.rate:g} requests/s"


@dataclass(frozen=True)
class Forecast:
    """The twin's percentiles at a rate, in seconds (infinite past its capacity)."""

    rate: float
    p50_s: float
    p99_s: float

    def meets(self, goal: Goal) -> bool:
        return goal.met(self.p50_s, self.p99_s)


def capacity(twin: Twin, work: Work) -> float:
    """Requests a second the twin can answer: its slots ÷ R, one GIL or loop per process
    (processes ÷ S_cpu, or ÷ R where the wait holds it), the cores ÷ S_cpu.

    >>> round(capacity(Twin.of("sync", workers=2), Work(0.001, 0.02)), 1)
    95.2
    >>> capacity(Twin.of("gevent", workers=2), Work(0.01, 0.09, yields=False))
    20.0
    """
    cpu = work.cpu_s + work.after_s
    held = cpu + (0.0 if work.yields else work.wait_s)
    bounds = [twin.processes * twin.slots / (cpu + work.wait_s)]
    if held > 0:
        bounds += [twin.processes / held, twin.cores / cpu if cpu else math.inf]
    return min(bounds)


def forecast(twin: Twin, work: Work, rate: float, *, requests: int = REQUESTS,
             seed: int = 1) -> Forecast:
    """The twin's p50 and p99 at ``rate`` (Poisson arrivals); infinite from
    :data:`UTILISATION` of its capacity on.

    >>> sync = Twin.of("sync", workers=2, cores=2)
    >>> f = forecast(sync, Work(0.01, 0.04), 20)
    >>> round(f.p50_s, 3), 0.1 < f.p99_s < 0.2  # half the time no wait; p99 queued
    (0.05, True)
    >>> forecast(sync, Work(0.01, 0.04), 40).p99_s
    inf
    """
    if rate >= UTILISATION * capacity(twin, work):
        return Forecast(rate, math.inf, math.inf)
    outcome = open_loop(twin, work, rate, requests=requests, warmup=requests // 10, seed=seed)
    return Forecast(rate, outcome.percentile(50), outcome.percentile(99))


def highest_rate(twin: Twin, work: Work, goal: Goal, *, steps: int = STEPS,
                 requests: int = REQUESTS) -> float:
    """The highest rate at which the twin still meets ``goal``'s percentiles (0 when even
    a lone request misses them), by bisection below :data:`UTILISATION` of its capacity.

    >>> sync = Twin.of("sync", workers=2, cores=2)
    >>> rate = highest_rate(sync, Work(0.01, 0.04), Goal(20, p99_s=0.2))
    >>> 25 < rate < 30  # capacity 40/s; past 0.7 of it p99 waits more than 150 ms
    True
    >>> highest_rate(sync, Work(0.01, 0.04), Goal(20, p99_s=0.04))  # R alone is 50 ms
    0.0
    """
    if work.cpu_s + work.wait_s > goal.p99_s:
        return 0.0
    low, high = 0.0, UTILISATION * capacity(twin, work)
    for _ in range(steps):
        middle = (low + high) / 2
        if forecast(twin, work, middle, requests=requests).meets(goal):
            low = middle
        else:
            high = middle
    return low
