"""The book's spinner, as a stream: frames while a prime check runs concurrently.

``spin`` (threads) and ``spin_async`` (asyncio) stream the same text.

``spin`` starts the check in a ``threading.Thread`` -- a real thread under
sync and gthread workers, a greenlet under gevent's monkey-patching -- and
yields a frame every ``interval`` seconds until it is done, then the result.

* Threads: the checking thread holds the GIL, but hands it over every switch
  interval, so the spinner keeps turning.
* gevent: the checking greenlet never yields inside ``is_prime``, so the hub
  cannot wake the spinner: it freezes until the answer (the chapter's Quick
  Quiz). With napping (``sleep(0)``) or a process pool it spins again.

``spin_async`` is the book's ``spinner_async``: the check is an asyncio task
and the spinner awaits it with a 0.1 s timeout. A check that never awaits
(plain ``is_prime`` in a coroutine) blocks the loop: one frame, then the
answer; ``await asyncio.sleep(0)`` naps or ``run_in_executor`` make it spin.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

FRAMES = "\\|/-"


def spin(n: int, check: Callable[[int], bool], interval: float = 0.1) -> Iterator[str]:
    """Yield ``"\\r<frame> checking <n>"`` until ``check(n)`` returns, then the result line."""
    outcome: dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["prime"] = check(n)
        except Exception as error:  # reported in the stream, never a hung response
            outcome["error"] = type(error).__name__
        finally:
            done.set()

    start = time.perf_counter()
    threading.Thread(target=work, name=f"check-{n}", daemon=True).start()
    frames = 0
    for frame in itertools.cycle(FRAMES):
        yield f"\r{frame} checking {n}"
        frames += 1
        if done.wait(interval):
            break
    yield _last_line(n, outcome, time.perf_counter() - start, frames)


def _last_line(n: int, outcome: dict, elapsed: float, frames: int) -> str:
    if "error" in outcome:
        return f"\rerror: {outcome['error']}\n"
    verdict = "is prime" if outcome["prime"] else "is not prime"
    return f"\r{n} {verdict} ({elapsed:.2f} s, {frames} frames)\n"


async def spin_async(n: int, check: Callable[[int], Awaitable[bool]],
                     interval: float = 0.1) -> AsyncIterator[str]:
    """``spin`` for asyncio: ``check(n)`` runs as a task; a frame every ``interval`` s."""
    start = time.perf_counter()
    task = asyncio.ensure_future(check(n))
    frames = 0
    try:
        for frame in itertools.cycle(FRAMES):
            yield f"\r{frame} checking {n}"
            frames += 1
            done, _ = await asyncio.wait({task}, timeout=interval)
            if done:
                break
    finally:
        task.cancel()  # a client gone mid-stream must not leave the check running on
    outcome: dict[str, object] = {}
    if task.exception() is not None:  # reported in the stream, never a hung response
        outcome["error"] = type(task.exception()).__name__
    else:
        outcome["prime"] = task.result()
    yield _last_line(n, outcome, time.perf_counter() - start, frames)
