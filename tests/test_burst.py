"""The simulated twin of a burst (``loadtests/model/burst.py``) against the fluid
(``loadtests/model/overload.py``) where the fluid is near exact -- far past the knee, where
the queue's randomness is small beside its growth -- and where they part: a server that
skips the requests whose client has gone, and a bounded queue."""

from __future__ import annotations

from loadtests.lessons.observing.overload import goodput
from loadtests.load.outcomes import Run, recovery_s
from loadtests.model import overload as fluid
from loadtests.model.burst import Burst, simulate

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


def test_skipping_the_requests_whose_client_left_recovers_far_sooner_than_the_fluid():
    """gunicorn's asgi worker cancels a gone client's request: the queue the burst left is
    mostly gone requests, and the twin is back in time within a few seconds, where the
    fluid, which serves them all, needs 38 -- even with the clients retrying."""
    for retries in (0, 1):
        _, back, _ = _read(Burst(50, PHASES, DEADLINE_S, retries=retries,
                                 skips_abandoned=True))
        assert back is not None and back < 0.25 * 38, (retries, back)


def test_a_queue_bounded_at_half_a_deadlines_work_keeps_the_goodput_at_capacity():
    """At most 25 waiting (half a second at 50/s): every admitted request is answered in
    time, the goodput through the burst stays near μ, the rest are 503 at once -- the
    fluid's bounded queue."""
    rates, back, run = _read(Burst(50, PHASES, DEADLINE_S, limit=25))
    assert rates[1] >= 0.9 * fluid.bounded_goodput(50, DEADLINE_S, 150, 10, limit=25)
    assert run.statuses[503] > 0 and run.timed_out == 0 and back == 0.0
    assert run.unaccounted == 0
