"""The book's spinner, as a stream: frames while a prime check runs concurrently.

``spin`` starts the check in a ``threading.Thread`` -- a real thread under
sync and gthread workers, a greenlet under gevent's monkey-patching -- and
yields a frame every ``interval`` seconds until it is done, then the result.

* Threads: the checking thread holds the GIL, but hands it over every switch
  interval, so the spinner keeps turning.
* gevent: the checking greenlet never yields inside ``is_prime``, so the hub
  cannot wake the spinner: it freezes until the answer (the chapter's Quick
  Quiz). With napping (``sleep(0)``) or a process pool it spins again.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator

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
    elapsed = time.perf_counter() - start
    if "error" in outcome:
        yield f"\rerror: {outcome['error']}\n"
    else:
        verdict = "is prime" if outcome["prime"] else "is not prime"
        yield f"\r{n} {verdict} ({elapsed:.2f} s, {frames} frames)\n"
