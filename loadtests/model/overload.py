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
  λ_after ≥ μ.

Every request waits its turn here, including those whose client has given up: the worker
models the lab runs do not cancel a request whose client left before it started (gunicorn
27's asgi worker cancels a disconnected request's task after a grace period, which the
measurement shows). What the fluid leaves out is the randomness: near μ, Poisson queues
are longer than the fluid's (:mod:`.simulate` has them).
"""

from __future__ import annotations


def backlog(capacity: float, phases: list[tuple[float, float]], start: float = 0.0) -> float:
    """The queue after ``phases`` of (rate, seconds), from ``start`` requests queued.

    >>> backlog(50, [(25, 5), (150, 10)])
    1000.0
    >>> backlog(50, [(150, 10), (25, 20)])
    500.0
    >>> backlog(50, [(150, 10), (25, 60)])
    0.0
    """
    queue = start
    for rate, seconds in phases:
        queue = max(0.0, queue + (rate - capacity) * seconds)
    return float(queue)


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


def recovery_s(capacity: float, deadline_s: float, queue: float, rate_after: float
               ) -> float | None:
    """Seconds after a burst that left ``queue`` until a request arriving then is answered
    within ``deadline_s``, the arrivals at ``rate_after``; None if the queue never drains.

    >>> recovery_s(50, 1.0, 1000, 25)   # (1,000 - 50) ÷ (50 - 25)
    38.0
    >>> recovery_s(50, 1.0, 40, 25), recovery_s(50, 1.0, 1000, 60)
    (0.0, None)
    """
    if queue <= capacity * deadline_s:
        return 0.0
    if rate_after >= capacity:
        return None
    return (queue - capacity * deadline_s) / (capacity - rate_after)
