"""Polling with a deadline: the one loop the lab waits in (never a bare sleep as a signal).

>>> calls = iter([0, 0, 7])
>>> wait_until(lambda: next(calls), 1.0, "the third call", interval=0)
7
>>> wait_until(lambda: False, 0.0, "never", fail=None)
False
>>> wait_until(lambda: False, 0.0, "never")
Traceback (most recent call last):
...
TimeoutError: never after 0 s
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, what: str = "the condition", *,
               interval: float = 0.05,
               fail: Callable[[str], BaseException] | None = TimeoutError) -> T:
    """Call ``check`` until it returns something true, and return that.

    After ``timeout`` seconds: raise ``fail("WHAT after N s")`` -- or, with ``fail=None``,
    return the last (false) result. ``check`` may raise to stop the wait early (a process
    that exited, say). Between calls it sleeps ``interval`` seconds: a polling interval,
    never the thing waited for.
    """
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() >= deadline:
            if fail is None:
                return result
            raise fail(f"{what} after {timeout:g} s")
        time.sleep(interval)
    return result
