"""Collect asyncio's own slow-callback reports: one log line per blocked stretch of the loop.

In debug mode (``PYTHONASYNCIODEBUG=1``, which the matrix sets for asgi
cells) asyncio times every callback and task step it runs and, when one takes
longer than ``loop.slow_callback_duration`` (0.1 s, the same threshold as
gevent's monitor), logs ``Executing <handle> took 1.234 seconds`` on the
``asyncio`` logger. Unlike gevent's monitor, which reports once per period
while the hub is blocked, asyncio reports once per blocking step, with its
length: the durations add up to how long the loop was frozen.

This module turns each such record into one timestamped line that the matrix
runner counts (:data:`LINE`), and drops asyncio's own (multi-kilobyte) one.
"""

from __future__ import annotations

import logging
import time

LINE = "loop blocked:"
#: asyncio's message for a slow callback (asyncio/base_events.py, _run_once).
SLOW_CALLBACK = "Executing %s took %.3f seconds"
log = logging.getLogger("gunicorn.error")


class _SlowCallbacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != SLOW_CALLBACK:
            return True
        handle, seconds = record.args
        log.warning("%s at=%.3f duration=%.3f callback=%.80s", LINE, time.time(), seconds,
                    handle)
        return False


_filter = _SlowCallbacks()


def install() -> None:
    """Rewrite asyncio's slow-callback reports in this process (idempotent)."""
    logger = logging.getLogger("asyncio")
    if _filter not in logger.filters:
        logger.addFilter(_filter)
