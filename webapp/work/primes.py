"""Trial-division primality check: the CPU-bound workload of the lab.

This is the ``is_prime`` of *Fluent Python* 2e, chapter 19 (``primes.py``),
and the book's 20-number fixture.  It is pure Python that never releases the
GIL, which is exactly why threads cannot run two of these at once while
processes can.

>>> is_prime(2), is_prime(9), is_prime(142702110479723)
(True, False, True)
>>> [n for n, prime in FIXTURE.items() if n < 10**15]
[2, 142702110479723, 299593572317531]
>>> is_prime_napping(142702110479723)
True
>>> import asyncio; asyncio.run(is_prime_async_nap(142702110479723))
True
>>> result, cpu = on_this_thread(is_prime, SHORT_PRIME); result, cpu > 0
(True, True)
>>> result, cpu = napping_on_this_thread(SHORT_PRIME); result, cpu > 0
(True, True)
"""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

#: The book's fixture (chapter 19's ``primes.py``): number -> whether it is prime.
FIXTURE: dict[int, bool] = {
    2: True,
    142702110479723: True,
    299593572317531: True,
    3333333333333301: True,
    3333333333333333: False,
    3333335652092209: False,
    4444444444444423: True,
    4444444444444444: False,
    4444444488888889: False,
    5555553133149889: False,
    5555555555555503: True,
    5555555555555555: False,
    6666666666666666: False,
    6666666666666719: True,
    6666667141414921: False,
    7777777536340681: False,
    7777777777777753: True,
    7777777777777777: False,
    9999999999999917: True,
    9999999999999999: False,
}

#: A fixture prime that takes roughly 0.2 s of pure Python on a 2020s x86 core.
QUICK_PRIME = 142702110479723
#: Not of the book's fixture: a prime that takes roughly 25-55 ms (2 vCPUs, Python 3.11), so
#: that a throughput window of a few seconds counts dozens of requests, not a handful.
SHORT_PRIME = 1700000000011
#: The CPU part of a ``/mixed`` request: about 13 ms of trial division (0.006 × QUICK_PRIME).
MIXED_PRIME = 400000000019
#: A fixture prime that takes roughly 0.3 s (used by the probe).
MEDIUM_PRIME = 299593572317531
#: A fixture prime that takes roughly 1.6 s (the slowest of the fixture).
SLOW_PRIME = 9999999999999917


def is_prime(n: int) -> bool:
    """Return True when ``n`` is prime, by odd trial division up to isqrt(n)."""
    if n < 2:
        return False
    if n == 2:
        return True
    if n % 2 == 0:
        return False
    root = math.isqrt(n)
    for i in range(3, root + 1, 2):  # noqa: SIM110 (the book's loop)
        if n % i == 0:
            return False
    return True


#: :func:`is_prime_napping` naps when ``i % NAP_EVERY == 1`` (the book's test); ``i`` runs
#: over odd numbers, so that is once per 50,000 divisions.
NAP_EVERY = 100_000


def on_this_thread(check, n: int) -> tuple[bool, float]:
    """``check(n)``, and the CPU seconds the calling thread spent in it (``time.thread_time``).

    The work's own cost, however many threads share the GIL meanwhile: a thread waiting
    for the GIL spends no CPU. (A napping check's thread runs other requests between its
    naps, under gevent or asyncio, and would count theirs too: :class:`OwnCpu` does not.)
    """
    start = time.thread_time()
    result = check(n)
    return result, time.thread_time() - start


def nap() -> None:
    """The book's nap, ``time.sleep(0)``: looked up at each call, so that under gevent's
    monkey-patching it yields to the hub, and under threads it releases the GIL."""
    time.sleep(0)


def is_prime_napping(n: int, nap: Callable[[], object] = nap) -> bool:
    """``is_prime`` that calls ``nap()`` when ``i % 100_000 == 1``: "power napping".

    The book's ``spinner_prime_async_nap`` awaits ``asyncio.sleep(0)`` when
    ``i % 100_000 == 1``. Here the nap is ``time.sleep(0)``: under gevent it yields
    to the hub, under threads it releases the GIL; either way, others get to run.
    """
    if n < 2:
        return False
    if n == 2:
        return True
    if n % 2 == 0:
        return False
    root = math.isqrt(n)
    for i in range(3, root + 1, 2):
        if n % i == 0:
            return False
        if i % NAP_EVERY == 1:
            nap()
    return True


class OwnCpu:
    """The calling thread's CPU seconds between naps: a napping check's own cost.

    While a check naps its thread may run other work -- gevent's other greenlets, the
    event loop's other coroutines -- and ``on_this_thread`` would count theirs too: with
    three napping checks at once in a gevent -w1 worker, each check's thread time from
    start to end is its wall time, 0.76-0.88 s, against 0.34-0.35 s of its own (measured,
    2-vCPU EPYC). The meter stops for each nap and starts again after.
    """

    def __init__(self) -> None:
        self.spent = 0.0
        self._start = time.thread_time()

    def pause(self) -> None:
        self.spent += time.thread_time() - self._start

    def resume(self) -> None:
        self._start = time.thread_time()

    def total(self) -> float:
        return self.spent + time.thread_time() - self._start


def napping_on_this_thread(n: int) -> tuple[bool, float]:
    """``is_prime_napping(n)`` and its own CPU seconds (:class:`OwnCpu`): not its naps'."""
    meter = OwnCpu()

    def metered_nap() -> None:
        meter.pause()
        nap()
        meter.resume()

    return is_prime_napping(n, metered_nap), meter.total()


async def async_nap() -> None:
    """The book's coroutine nap, ``await asyncio.sleep(0)``: the loop runs what else is ready."""
    await asyncio.sleep(0)


async def is_prime_async_nap(n: int, nap: Callable[[], Awaitable[object]] = async_nap) -> bool:
    """``is_prime`` as a coroutine that awaits ``nap()`` when ``i % 100_000 == 1``.

    The book's ``spinner_prime_async_nap``: each nap (``asyncio.sleep(0)``) hands
    control back to the event loop, which runs whatever else is ready -- other
    requests, the spinner -- before it resumes this loop.
    """
    if n < 2:
        return False
    if n == 2:
        return True
    if n % 2 == 0:
        return False
    root = math.isqrt(n)
    for i in range(3, root + 1, 2):
        if n % i == 0:
            return False
        if i % NAP_EVERY == 1:
            await nap()
    return True


async def napping_on_the_loop(n: int) -> tuple[bool, float]:
    """``await is_prime_async_nap(n)`` and its own CPU seconds (:class:`OwnCpu`): not
    what the loop ran while it napped."""
    meter = OwnCpu()

    async def metered_nap() -> None:
        meter.pause()
        await async_nap()
        meter.resume()

    return await is_prime_async_nap(n, metered_nap), meter.total()
