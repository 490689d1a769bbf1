"""A napping check's own CPU: not what its thread ran while it napped (webapp.primes.OwnCpu).

Under gevent and asyncio the thread of a napping check runs other requests between its naps;
the check's ``cpu`` (S under load for the nap cells) counts only its own stretches.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from loadtests.load.client import get
from webapp.work.primes import QUICK_PRIME, SHORT_PRIME, napping_on_the_loop, napping_on_this_thread

from .helpers import MODELS


def _spend_cpu(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def _accounts_for_its_naps(run, naps: list[float]) -> None:
    """``run()`` -> (prime, own CPU): its thread's CPU = the check's own + its naps'."""
    start = time.thread_time()
    prime, own = run()
    whole = time.thread_time() - start
    assert prime is True
    assert len(naps) == pytest.approx(int(SHORT_PRIME**0.5) / 100_000, abs=1)
    assert sum(naps) > 0.5 * whole  # what ran while it napped: most of the thread's CPU
    assert whole - sum(naps) - own == pytest.approx(0, abs=0.005)  # and none of it counted


@pytest.mark.inprocess
def test_a_napping_check_counts_its_own_cpu_not_its_naps(monkeypatch):
    """While a check naps, its thread runs other work (gevent's greenlets): not the check's."""
    naps = []

    def busy_sleep(seconds):  # others' work, run while the check naps
        start = time.thread_time()
        _spend_cpu(0.008)
        naps.append(time.thread_time() - start)

    monkeypatch.setattr(time, "sleep", busy_sleep)
    _accounts_for_its_naps(lambda: napping_on_this_thread(SHORT_PRIME), naps)


@pytest.mark.inprocess
def test_a_napping_coroutine_counts_its_own_cpu_not_the_loops(monkeypatch):
    naps = []

    async def busy_sleep(seconds):  # the loop's other coroutines, run while it naps
        start = time.thread_time()
        _spend_cpu(0.008)
        naps.append(time.thread_time() - start)

    monkeypatch.setattr(asyncio, "sleep", busy_sleep)
    _accounts_for_its_naps(lambda: asyncio.run(napping_on_the_loop(SHORT_PRIME)), naps)


@pytest.mark.integration
@pytest.mark.parametrize("model", ["gevent", "asgi"])
def test_napping_checks_at_once_in_one_thread_count_no_more_cpu_than_the_wall(serve, model):
    """Three napping checks interleave on one worker's one thread: their own CPU seconds add
    up to no more than the wall time they took together (from start to end, each check's
    thread time would be about its whole wall time: twice or three times that sum)."""
    server = serve(MODELS[model])
    url = f"{server.url}/prime/{QUICK_PRIME}?nap=1"
    get(url)  # warm
    with ThreadPoolExecutor(3) as pool:
        start = time.perf_counter()
        answers = [r.body for r in pool.map(lambda _: get(url), range(3))]
        wall = time.perf_counter() - start
    assert all(a["prime"] is True for a in answers)
    assert max(a["elapsed"] for a in answers) > 1.5 * max(a["cpu"] for a in answers)  # interleaved
    assert sum(a["cpu"] for a in answers) <= wall  # one thread: its CPU cannot outrun the clock
