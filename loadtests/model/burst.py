"""A burst past capacity as a discrete-event simulation (SimPy): the fluid's queue
(:mod:`.overload`) with its randomness, its deadlines and what each model does with a
request whose client has left.

One server of capacity μ: each request takes 1 ÷ μ of its process's one GIL or event loop
(CPU work on one process, where every worker model is one server), first come first
served. Arrivals are Poisson, phase by phase. A client waits ``deadline_s`` for its answer
and then gives up -- or sends the request again, ``retries`` times at most, each attempt a
new arrival at the back of the queue. A request whose client has left is still served when
its turn comes (sync, gthread, gevent: the worker learns it only when it writes), unless
``skips_abandoned`` (gunicorn 27's asgi worker cancels the task of a client that has gone).
At most ``limit`` requests wait (None: no limit); the next is answered 503 at once: a
bounded accept queue, ``--worker-connections``, an admission limit, nginx's limits.

:func:`simulate` gives each request's end as the open-loop generator records a measured
one (:class:`End`): its due time, its outcome (200, 503 or "timeout"), its latency from due,
its last attempt's seconds and its attempts. So the twin's goodput, its p99 a second and
its recovery are read from the same accounting as the measurement's
(:mod:`loadtests.load.outcomes`).

>>> ends = simulate(Burst(50, ((25, 2), (150, 2), (25, 4)), 1.0))
>>> sum(1 for e in ends if e.outcome == 200 and e.latency <= 1.0) < len(ends) // 2
True
>>> shed = simulate(Burst(50, ((25, 2), (150, 2), (25, 4)), 1.0, limit=25))
>>> all(e.latency <= 1.0 for e in shed if e.outcome == 200)  # 25 waiting: half a second
True
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import NamedTuple

import simpy


@dataclass(frozen=True)
class Burst:
    """The server's capacity (requests a second), the offered ``phases`` of (rate, seconds),
    the client's deadline and retries, the queue's limit and whether the server skips a
    request whose client has gone."""

    capacity: float
    phases: tuple[tuple[float, float], ...]
    deadline_s: float
    retries: int = 0
    limit: int | None = None
    skips_abandoned: bool = False


class End(NamedTuple):
    """How one request ended (:class:`loadtests.load.outcomes.End`'s fields)."""

    due: float
    outcome: int | str
    latency: float
    attempt_s: float
    attempts: int


class _Attempt(NamedTuple):
    sent: float
    done: simpy.Event


def simulate(burst: Burst, seed: int = 1) -> list[End]:
    """Every request the phases bring, each ended once, in the order they ended."""
    env = simpy.Environment()
    rng = random.Random(seed)
    queue = simpy.Store(env)
    ends: list[End] = []

    def serve() -> Generator:
        while True:
            attempt = yield queue.get()
            if burst.skips_abandoned and env.now - attempt.sent >= burst.deadline_s:
                continue  # its client has gone: cancelled, not served
            yield env.timeout(1 / burst.capacity)
            attempt.done.succeed()

    def request(due: float) -> Generator:
        for tried in range(1, burst.retries + 2):
            if burst.limit is not None and len(queue.items) >= burst.limit:
                ends.append(End(due, 503, env.now - due, 0.0, tried))
                return
            attempt = _Attempt(env.now, env.event())
            queue.put(attempt)
            yield attempt.done | env.timeout(burst.deadline_s)
            if attempt.done.triggered:
                ends.append(End(due, 200, env.now - due, env.now - attempt.sent, tried))
                return
        ends.append(End(due, "timeout", env.now - due, burst.deadline_s, tried))

    def arrivals() -> Generator:
        start = 0.0
        for rate, seconds in burst.phases:
            due = start + rng.expovariate(rate)
            while due < start + seconds:
                yield env.timeout(due - env.now)
                env.process(request(due))
                due += rng.expovariate(rate)
            start += seconds

    env.process(serve())
    env.process(arrivals())
    env.run(until=sum(s for _, s in burst.phases) + burst.deadline_s * (burst.retries + 1) + 1)
    return ends
