"""A burst past capacity as a discrete-event simulation (SimPy): the fluid's queue
(:mod:`.overload`) with its randomness, its deadlines and what each model does with a
request whose client has left.

One server of capacity μ: each request takes 1 ÷ μ of its process's one GIL or event loop
(CPU work on one process, where every worker model is one server), first come first
served. Arrivals are Poisson, phase by phase. A client waits ``deadline_s`` for its answer
and then gives up -- or sends the request again, ``retries`` times at most, each attempt a
new arrival at the back of the queue. A request whose client has left is still served when
its turn comes (sync, gthread, gevent: the worker learns it only when it writes), unless
its client left ``cancels_after_s`` or more before (gunicorn 27's asgi worker cancels the
task of a client that has gone after its ``asgi_disconnect_grace_period``). At most
``limit`` requests wait (None: no limit); the next is answered 503 at once: a bounded
accept queue, ``--worker-connections``, nginx's ``limit_conn``.

``rate_limit`` (rate, burst) puts nginx's ``limit_req`` in front, as nginx counts it: a
request's excess is the last one's, less the rate times the time since, plus one (never
below 0); past ``burst`` it is answered 503 at once, else nginx holds it excess ÷ rate
seconds and then passes it on -- unless its client has gone meanwhile. What it lets
through queues at the server as before, with no limit: a rate above μ still melts.

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
    the client's deadline and retries, the queue's limit, how long after its client has
    gone the server cancels a request (None: never), and nginx's rate limit in front."""

    capacity: float
    phases: tuple[tuple[float, float], ...]
    deadline_s: float
    retries: int = 0
    limit: int | None = None
    cancels_after_s: float | None = None
    rate_limit: tuple[float, int] | None = None


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
    bucket = {"excess": None, "last": 0.0}  # nginx's limit_req state (None: no request yet)

    def gone(attempt: _Attempt, after: float = 0.0) -> bool:
        return env.now - attempt.sent >= burst.deadline_s + after

    def serve() -> Generator:
        while True:
            attempt = yield queue.get()
            if burst.cancels_after_s is not None and gone(attempt, burst.cancels_after_s):
                continue  # its client has gone: cancelled, not served
            yield env.timeout(1 / burst.capacity)
            attempt.done.succeed()

    def held(attempt: _Attempt, delay: float) -> Generator:
        """``delay`` seconds in nginx's limit_req (if any), then the server's queue."""
        if delay:
            yield env.timeout(delay)
            if gone(attempt):
                return  # nginx drops a request whose client closed while it was held
        queue.put(attempt)

    def admitted() -> float | None:
        """The seconds nginx holds the next attempt, or None: answered 503 at once, by the
        queue's limit or by nginx's rate limit (whose count it then joins)."""
        if burst.limit is not None and len(queue.items) >= burst.limit:
            return None
        if burst.rate_limit is None:
            return 0.0
        rate, most = burst.rate_limit
        excess = 0.0 if bucket["excess"] is None else max(
            0.0, bucket["excess"] - rate * (env.now - bucket["last"]) + 1)
        if excess > most:
            return None
        bucket.update(excess=excess, last=env.now)
        return excess / rate

    def request(due: float) -> Generator:
        for tried in range(1, burst.retries + 2):
            if (delay := admitted()) is None:
                ends.append(End(due, 503, env.now - due, 0.0, tried))
                return
            attempt = _Attempt(env.now, env.event())
            env.process(held(attempt, delay))
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
