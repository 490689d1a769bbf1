"""Past the knee as a fluid: a queue that grows at λ − μ while the arrivals outrun the
server, and drains at μ − λ once they fall back.

A server of capacity μ (requests a second) is offered phases of Poisson traffic, each a
rate λ for some seconds. Seen from far enough, its queue Q is a fluid: it grows at λ − μ
while λ > μ and drains at μ − λ while it is not empty. A request that arrives to a queue Q
waits about Q ÷ μ, so against a client deadline d:

* **goodput in a burst** at λ > μ: the requests that arrive before Q ÷ μ reaches d, that
  is for μd ÷ (λ − μ) seconds, are answered in time; none after (:func:`burst_goodput`);
* **recovery**: after the burst, Q must drain to μd before a request arriving then is
  answered in time again: (Q − μd) ÷ (μ − λ_after) seconds (:func:`recovery_s`); never if
  λ_after ≥ μ;
* **a bounded queue** of at most a deadline's worth (μd), the rest turned away at once:
  every admitted request is in time, so the goodput stays at μ (:func:`bounded_goodput`);
* **retries**: a client that sends a request again when its deadline passes (``retries``
  times at most) adds an attempt for each arrival while Q is past μd, so the queue grows
  at λ(1 + r) − μ and drains at μ − λ_after(1 + r): it never drains once λ_after(1 + r) ≥ μ,
  though the burst is over -- the metastable state (Bronson et al., HotOS '21). One retry
  after a burst that fell back to half the capacity is just that.

Every request waits its turn here, including those whose client has given up: the worker
models the lab runs do not cancel a request whose client left before it started (gunicorn
27's asgi worker cancels a disconnected request's task after a grace period, which the
measurement shows). What the fluid leaves out is the randomness: near μ, Poisson queues
are longer than the fluid's (:mod:`.simulate` has them).
"""

from __future__ import annotations

import math


def backlog(capacity: float, phases: list[tuple[float, float]], start: float = 0.0, *,
            deadline_s: float = math.inf, retries: int = 0) -> float:
    """The queue after ``phases`` of (rate, seconds), from ``start`` requests queued; with
    ``retries``, each arrival while the queue is past ``capacity × deadline_s`` brings
    ``1 + retries`` attempts.

    >>> backlog(50, [(25, 5), (150, 10)])
    1000.0
    >>> backlog(50, [(150, 10), (25, 20)])
    500.0
    >>> backlog(50, [(150, 10), (25, 60)])
    0.0
    >>> backlog(50, [(150, 10)], deadline_s=1.0, retries=1)  # 50 in 0.5 s, then 250 a second
    2425.0
    """
    queue = float(start)
    late_from = capacity * deadline_s  # a queue past this: its arrivals time out
    for rate, seconds in phases:
        left = seconds
        for _ in range(3):  # a phase crosses the deadline's worth twice at most
            late = queue > late_from or (queue == late_from and rate > capacity)
            growth = rate * (1 + retries * late) - capacity
            if not late and growth > 0 and (late_from - queue) / growth < left:
                step, queue = (late_from - queue) / growth, late_from
            elif late and growth < 0 and (queue - late_from) / -growth < left:
                step, queue = (queue - late_from) / -growth, late_from
            else:
                step, queue = left, max(0.0, queue + growth * left)
            left -= step
            if left <= 0:
                break
    return queue


def burst_goodput(capacity: float, deadline_s: float, rate: float, seconds: float,
                  start: float = 0.0) -> float:
    """Requests a second answered within ``deadline_s`` among those that arrive in a burst at
    ``rate`` for ``seconds``, from ``start`` queued.

    >>> burst_goodput(50, 1.0, 40, 10)     # below capacity: every one in time
    40.0
    >>> burst_goodput(50, 1.0, 150, 10)    # 0.5 s of arrivals in time: 75 of 1,500
    7.5
    """
    if rate <= capacity:
        return float(rate)
    in_time_s = max(0.0, capacity * deadline_s - start) / (rate - capacity)
    return rate * min(seconds, in_time_s) / seconds


def bounded_goodput(capacity: float, deadline_s: float, rate: float, seconds: float,
                    limit: float, start: float = 0.0) -> float:
    """Requests a second answered in time in a burst, when at most ``limit`` requests may
    wait and the rest are turned away at once: every admitted one is in time if ``limit``
    is at most a deadline's worth of work, so the server answers at its capacity; a longer
    bound melts as if there were none.

    >>> bounded_goodput(50, 1.0, 150, 10, limit=25)   # half a deadline's worth: μ
    50.0
    >>> bounded_goodput(50, 1.0, 150, 10, limit=500)  # ten deadlines' worth: no bound
    7.5
    """
    if limit <= capacity * deadline_s:
        return float(min(rate, capacity))
    return burst_goodput(capacity, deadline_s, rate, seconds, start)


def rate_limited_goodput(capacity: float, deadline_s: float, rate: float, seconds: float,
                         limit_rate: float, burst: float) -> float:
    """Requests a second answered in time in a burst behind nginx's ``limit_req``: nginx
    passes at most ``limit_rate`` and holds up to ``burst`` requests meanwhile (``burst ÷
    limit_rate`` seconds of the deadline), answering the rest 503. At or below the capacity,
    every request it passes is in time; above it, the server's own queue grows at
    ``limit_rate`` − μ in what is left of the deadline: a rate, not a bound on the queue.

    >>> rate_limited_goodput(50, 1.0, 150, 10, 45, 22)   # below μ: the rate, all in time
    45.0
    >>> rate_limited_goodput(50, 1.0, 150, 10, 55, 22)   # 0.4 s held, then 5/s more than μ
    33.0
    """
    passed = min(rate, limit_rate)
    held_s = burst / limit_rate if rate > limit_rate else 0.0
    if passed <= capacity:
        return float(passed) if held_s <= deadline_s else 0.0
    return burst_goodput(capacity, deadline_s - held_s, passed, seconds)


def recovery_s(capacity: float, deadline_s: float, queue: float, rate_after: float,
               retries: int = 0) -> float | None:
    """Seconds after a burst that left ``queue`` until a request arriving then is answered
    within ``deadline_s``, the arrivals at ``rate_after`` (each sent ``1 + retries`` times
    while they time out); None if the queue never drains.

    >>> recovery_s(50, 1.0, 1000, 25)   # (1,000 - 50) ÷ (50 - 25)
    38.0
    >>> recovery_s(50, 1.0, 40, 25), recovery_s(50, 1.0, 1000, 60)
    (0.0, None)
    >>> recovery_s(50, 1.0, 1000, 25, retries=1) is None   # 25 × 2 attempts: never
    True
    """
    if queue <= capacity * deadline_s:
        return 0.0
    attempts = rate_after * (1 + retries)
    if attempts >= capacity:
        return None
    return (queue - capacity * deadline_s) / (capacity - attempts)
