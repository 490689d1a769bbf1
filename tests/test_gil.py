"""The twin's GIL (``loadtests/model/gil.py``) hands over as CPython's does: on request, a
whole switch interval after a thread began to wait, never sooner. Each test runs threads in
a SimPy environment and checks the instants they finish, which the rule fixes exactly."""

from __future__ import annotations

import pytest
import simpy

from loadtests.model.gil import SWITCH_S, Gil

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests


def _cores(env: simpy.Environment):
    """Cores enough for every thread: a computation ends when done or asked to stop."""

    def on_cores(cpu: float, stop: simpy.Event):
        began, done = env.now, env.timeout(cpu)
        yield done | stop
        return 0.0 if done.processed else cpu - (env.now - began)

    return on_cores


def _finish(env: simpy.Environment, steps, at: float = 0.0) -> dict:
    """Run ``steps()`` from ``at`` s; the instant it ended, in ms, under "t"."""
    ended = {}

    def thread():
        yield env.timeout(at)
        yield from steps()
        ended["t"] = round(env.now * 1000, 6)

    env.process(thread())
    return ended


def test_two_computing_threads_take_turns_a_switch_interval_each():
    """20 ms of Python each, begun together: the first runs 0–5, 10–15 … and ends at 35 ms,
    the second at 40 ms (one GIL, no matter how many cores)."""
    env = simpy.Environment()
    gil, on_cores = Gil(env), _cores(env)
    first = _finish(env, lambda: gil.run(0.02, on_cores))
    second = _finish(env, lambda: gil.run(0.02, on_cores))
    env.run()
    assert (first["t"], second["t"]) == pytest.approx((35.0, 40.0))


def test_a_wake_up_waits_a_whole_interval_behind_a_computing_thread():
    """A thread woken from a wait 12 ms into another's 50 ms of Python takes the GIL at
    17 ms, a whole interval after it asked (not at 15, the end of the other's slice), and
    the computing thread loses nothing by it: it ends at 50 ms."""
    env = simpy.Environment()
    gil, on_cores = Gil(env), _cores(env)
    computing = _finish(env, lambda: gil.run(0.05, on_cores))
    back = _finish(env, gil.hop, at=0.012)
    env.run()
    assert back["t"] == pytest.approx(12 + SWITCH_S * 1000)
    assert computing["t"] == pytest.approx(50.0)


def test_each_wake_up_behind_a_computing_thread_costs_an_interval_the_convoy():
    """Four wake-ups in a row beside 100 ms of Python take 4 intervals (20 ms); with
    the GIL free they take no time."""
    env = simpy.Environment()
    gil, on_cores = Gil(env), _cores(env)

    def four_hops():
        for _ in range(4):
            yield from gil.hop()

    _finish(env, lambda: gil.run(0.1, on_cores))
    convoy = _finish(env, four_hops, at=0.001)
    env.run()
    assert convoy["t"] == pytest.approx(1 + 4 * SWITCH_S * 1000)

    alone = simpy.Environment()
    gil = Gil(alone)
    free = _finish(alone, four_hops)
    alone.run()
    assert free["t"] == 0.0


def test_a_switch_restarts_a_waiters_interval():
    """Beside 50 ms of Python, one thread asks for the GIL at 0 ms to compute 10 ms, and a
    second at 2 ms for a moment. The first takes it at 5 ms; the second's interval, begun
    before that switch, does not count when it runs out at 7, so nobody asks the first to
    drop until 10 ms, when the interval of the thread it displaced (begun at the switch)
    runs out: the second, ahead of that thread in the queue, takes the GIL at 10, not 7."""
    env = simpy.Environment()
    gil, on_cores = Gil(env), _cores(env)
    _finish(env, lambda: gil.run(0.05, on_cores))
    _finish(env, lambda: gil.run(0.01, on_cores))
    second = _finish(env, gil.hop, at=0.002)
    env.run()
    assert second["t"] == pytest.approx(10.0)
