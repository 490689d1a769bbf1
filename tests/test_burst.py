"""The simulated twin of a burst (``loadtests/model/burst.py``) against the fluid
(``loadtests/model/overload.py``) where the fluid is near exact -- far past the knee, where
the queue's randomness is small beside its growth -- and where they part: a server that
skips the requests whose client has gone, and a bounded queue."""

from __future__ import annotations

import pytest

from loadtests.lessons.observing.overload import goodput
from loadtests.load.outcomes import Run, recovery_s
from loadtests.model import overload as fluid
from loadtests.model.burst import Burst, simulate

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests

#: μ = 50/s offered half of it for 5 s, three times it for 10 s, half again for 60 s.
PHASES = ((25.0, 5.0), (150.0, 10.0), (25.0, 60.0))
DEADLINE_S = 1.0


def _read(burst: Burst) -> tuple[list[float], float | None, Run]:
    """The twin's goodput a phase and recovery, read as the overload lesson reads a run."""
    ends = simulate(burst)
    run = Run("simulated", len(ends), sum(s for _, s in burst.phases),
              deadline_s=burst.deadline_s, retries=burst.retries)
    for end in ends:
        run.count(end.due, end.outcome, end.latency, end.attempt_s, end.attempts)
    timeline = run.timeline()
    after = sum(s for _, s in burst.phases[:2])
    return (goodput(timeline, list(burst.phases)),
            recovery_s(timeline, after, burst.deadline_s * 1000), run)


def test_far_past_the_knee_the_twin_melts_and_recovers_as_the_fluid_says():
    """Goodput in the burst: the fluid's 7.5/s (0.5 s of arrivals in time); the queue it
    leaves, 1,000, drains to a deadline's worth in (1,000 − 50) ÷ (50 − 25) = 38 s."""
    rates, back, run = _read(Burst(50, PHASES, DEADLINE_S))
    predicted = fluid.burst_goodput(50, DEADLINE_S, 150, 10)
    assert abs(rates[1] - predicted) <= 0.3 * predicted + 2, (rates, predicted)
    assert rates[0] > 0.9 * 25 and rates[1] < 0.2 * 50
    queue = fluid.backlog(50, list(PHASES[:2]))
    expected = fluid.recovery_s(50, DEADLINE_S, queue, 25)
    assert expected == 38.0 and back is not None and 0.8 * expected <= back <= 1.2 * expected
    assert run.unaccounted == 0 and run.timed_out > 0


def test_retries_keep_the_twin_overloaded_after_the_burst_as_in_the_fluid():
    """One retry at half the capacity after the burst: two attempts a request are the whole
    capacity, and neither the fluid nor the twin ever drains the queue."""
    _, back, run = _read(Burst(50, PHASES, DEADLINE_S, retries=1))
    assert back is None and run.retried > 0
    queue = fluid.backlog(50, list(PHASES[:2]), deadline_s=DEADLINE_S, retries=1)
    assert fluid.recovery_s(50, DEADLINE_S, queue, 25, retries=1) is None


def test_cancelling_the_requests_whose_client_left_recovers_sooner_unless_they_retry():
    """gunicorn's asgi worker cancels a gone client's request, 3 s after (its
    asgi_disconnect_grace_period): the queue the burst left is mostly gone requests, and
    the twin is back in time within 10 s, where the fluid, which serves them all, needs 38.
    With retries, every request cancelled that late has already been sent again: two
    attempts a request at half the capacity are the whole of it, and it never drains (as
    measured on asgi); cancelled at once, the retries find the queue short again."""
    for grace, retries, recovers in ((0, 0, True), (3, 0, True), (0, 1, True), (3, 1, False)):
        _, back, _ = _read(Burst(50, PHASES, DEADLINE_S, retries=retries,
                                 cancels_after_s=grace))
        assert (back is not None and back < 10) is recovers, (grace, retries, back)


def test_a_rate_limit_holds_below_the_capacity_and_melts_above_it():
    """nginx's limit_req with a burst of 25 in front: at 45/s, below μ = 50, every request it
    passes is in time and the rest are 503 at once; at 55/s the 5/s above μ queue at the
    server, unbounded, and the goodput falls well below the rate (the fluid: 33/s)."""
    below, _, run = _read(Burst(50, PHASES, DEADLINE_S, rate_limit=(45, 25)))
    assert below[1] >= 0.9 * 45 and run.timed_out == 0 and run.statuses[503] > 0
    above, _, run = _read(Burst(50, PHASES, DEADLINE_S, rate_limit=(55, 25)))
    assert above[1] < 0.8 * 55 and run.timed_out > 0
    assert fluid.rate_limited_goodput(50, DEADLINE_S, 150, 10, 55, 25) < 0.8 * 55


def test_a_queue_bounded_at_half_a_deadlines_work_keeps_the_goodput_at_capacity():
    """At most 25 waiting (half a second at 50/s): every admitted request is answered in
    time, the goodput through the burst stays near μ, the rest are 503 at once -- the
    fluid's bounded queue."""
    rates, back, run = _read(Burst(50, PHASES, DEADLINE_S, limit=25))
    assert rates[1] >= 0.9 * fluid.bounded_goodput(50, DEADLINE_S, 150, 10, limit=25)
    assert run.statuses[503] > 0 and run.timed_out == 0 and back == 0.0
    assert run.unaccounted == 0
