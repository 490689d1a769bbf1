"""When each request of an open load is due: arrivals at a rate, whatever the server does.

A closed loop (Locust's users) sends a request when the last one is answered, so a slow
server slows its own load. An open load has a schedule instead: request i is due at
``due[i]`` seconds after the start, and its latency counts from then.

* :func:`poisson`: a Poisson process at ``rate`` -- independent arrivals, exponential gaps.
  It is drawn *conditioned on its count*: exactly ``round(rate × duration)`` arrivals,
  spread uniformly over the window and sorted, which is a Poisson process given how many
  arrived. The gaps are still exponential at ``rate``, and a run offers exactly its rate
  (an unconditioned one of 2,000 arrivals is off by 2 % as often as not).
* :func:`constant`: one every ``1 / rate`` seconds (wrk2's ``-R``).
* :func:`phased`: one schedule after another, each at its own rate for its own seconds (a
  burst: 0.5, then 3, then 0.5 times a server's capacity).

>>> constant(4, 1.0)
[0.0, 0.25, 0.5, 0.75]
>>> due = poisson(200, 10.0, seed=1)
>>> len(due), due == sorted(due), 0 <= due[0] and due[-1] < 10
(2000, True, True)
>>> due == poisson(200, 10.0, seed=1)
True
>>> due = phased("poisson", [(10, 1.0), (30, 2.0)], seed=1)
>>> len(due), sum(t < 1 for t in due), due == sorted(due)
(70, 10, True)
"""

from __future__ import annotations

import random

SCHEDULES = ("poisson", "constant")


def poisson(rate: float, duration: float, *, seed: int | None = None) -> list[float]:
    """``round(rate × duration)`` arrival times in [0, duration), sorted: Poisson at ``rate``."""
    _check(rate, duration)
    draw = random.Random(seed)
    return sorted(draw.uniform(0, duration) for _ in range(round(rate * duration)))


def constant(rate: float, duration: float) -> list[float]:
    """One arrival every ``1 / rate`` seconds from 0, for ``duration`` seconds."""
    _check(rate, duration)
    return [i / rate for i in range(round(rate * duration))]


def schedule(kind: str, rate: float, duration: float, *, seed: int | None = None) -> list[float]:
    """The due times of ``kind`` (one of :data:`SCHEDULES`)."""
    if kind == "poisson":
        return poisson(rate, duration, seed=seed)
    if kind == "constant":
        return constant(rate, duration)
    raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {kind!r}")


def phased(kind: str, phases: list[tuple[float, float]], *,
           seed: int | None = None) -> list[float]:
    """``kind``'s due times for each (rate, seconds) of ``phases`` in turn, each phase's
    counted from the end of the last (its own seed: ``seed`` plus its index)."""
    due: list[float] = []
    start = 0.0
    for index, (rate, seconds) in enumerate(phases):
        phase_seed = None if seed is None else seed + index
        due += [start + t for t in schedule(kind, rate, seconds, seed=phase_seed)]
        start += seconds
    return due


def parse_phase(text: str) -> tuple[float, float]:
    """``RATE:SECONDS`` as (rate, seconds), both positive.

    >>> parse_phase("150:2.5")
    (150.0, 2.5)
    """
    rate, _, seconds = text.partition(":")
    try:
        phase = float(rate), float(seconds)
    except ValueError:
        raise ValueError(f"a phase is RATE:SECONDS, got {text!r}") from None
    _check(*phase)
    return phase


def _check(rate: float, duration: float) -> None:
    if not rate > 0 or not duration > 0:
        raise ValueError(f"rate and duration must be positive, got {rate!r} and {duration!r}")
