"""Report a blocked asyncio loop: one log line per report, counted by the matrix runner.

Two sources, one line format (``loop blocked: at=<time> duration=<s> ...``):

* **The watchdog** (``LOOP_WATCHDOG=0.1``; what the matrix uses). The loop
  stamps the time every ``period / 2`` from a callback; a daemon thread wakes
  every ``period`` and reports each time the stamp is older than ``period`` --
  gevent's monitor thread, for asyncio. A loop blocked for 1 s gives about ten
  reports of ``duration=0.1``, so their sum is a lower bound on the frozen time.
* **asyncio's own debug mode** (``PYTHONASYNCIODEBUG=1``): asyncio times every
  callback and task step and logs ``Executing <handle> took 1.234 seconds``
  for each one over ``loop.slow_callback_duration`` (0.1 s). One report per
  blocking step, with its length; asyncio's multi-kilobyte message becomes
  our one line. Debug mode also records a stack for every callback it
  schedules: measured on the lab's 2-core VM it cut ``/io`` throughput on one
  asgi worker from 933 to 423 rps and ``/health`` from 2618 to 674 rps, so the
  matrix does not use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time

LINE = "loop blocked:"
#: asyncio's message for a slow callback (asyncio/base_events.py, _run_once).
SLOW_CALLBACK = "Executing %s took %.3f seconds"
log = logging.getLogger("gunicorn.error")


def _report(seconds: float, what: object) -> None:
    log.warning("%s at=%.3f duration=%.3f callback=%.80s", LINE, time.time(), seconds, what)


class _SlowCallbacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != SLOW_CALLBACK:
            return True
        handle, seconds = record.args
        _report(seconds, handle)
        return False


_filter = _SlowCallbacks()


def install() -> None:
    """Rewrite asyncio's slow-callback reports in this process (idempotent)."""
    logger = logging.getLogger("asyncio")
    if _filter not in logger.filters:
        logger.addFilter(_filter)


def watchdog_period() -> float | None:
    """``LOOP_WATCHDOG`` in seconds, or None when it is off (unset, empty or 0)."""
    raw = os.environ.get("LOOP_WATCHDOG", "").strip()
    try:
        period = float(raw) if raw else 0.0
    except ValueError:
        raise ValueError(f"LOOP_WATCHDOG must be seconds, got {raw!r}") from None
    return period if period > 0 else None


class Watchdog:
    """A thread that reports every ``period`` in which the loop did not run its stamp."""

    def __init__(self, loop: asyncio.AbstractEventLoop, period: float):
        self.loop, self.period = loop, period
        self.stamp = time.monotonic()
        self._stop = threading.Event()
        self._handle: asyncio.TimerHandle | None = None
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)

    def _tick(self) -> None:
        self.stamp = time.monotonic()
        self._handle = self.loop.call_later(self.period / 2, self._tick)

    def _watch(self) -> None:
        while not self._stop.wait(self.period):
            if time.monotonic() - self.stamp >= self.period:
                _report(self.period, "watchdog")

    def start(self) -> None:
        self._tick()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle:
            self._handle.cancel()


@contextlib.asynccontextmanager
async def lifespan(app):
    """The ASGI app's lifespan: the watchdog runs while the worker serves, if it is on."""
    period = watchdog_period()
    dog = Watchdog(asyncio.get_running_loop(), period) if period else None
    if dog:
        dog.start()
    try:
        yield
    finally:
        if dog:
            dog.stop()
