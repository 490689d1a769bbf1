"""Collect gevent's own blocked-hub reports: one log line per report.

With ``GEVENT_MONITOR_THREAD_ENABLE=true``, gevent's monitor thread checks
every ``GEVENT_MAX_BLOCKING_TIME`` seconds (default 0.1) whether the hub got to
run; when it did not, it broadcasts an ``EventLoopBlocked`` event (and prints a
long report unless ``GEVENT_MONITOR_PRINT_BLOCKING_REPORTS=false``). A hub
blocked for 1 s gives about ten events, so the count times the threshold is how
long the event loop was frozen. This module only subscribes to those events and
logs each as one timestamped line that the matrix runner counts.
"""

from __future__ import annotations

import logging
import time

LINE = "hub blocked:"
log = logging.getLogger("gunicorn.error")


def _on_event(event) -> None:
    from gevent.events import EventLoopBlocked

    if isinstance(event, EventLoopBlocked):
        log.warning("%s at=%.3f threshold=%ss greenlet=%.60r", LINE, time.time(),
                    event.blocking_time, event.greenlet)


def install() -> bool:
    """Subscribe once to gevent's events; True when gevent's monitor thread is on."""
    from gevent import config
    from gevent.events import subscribers

    if _on_event not in subscribers:
        subscribers.append(_on_event)
    return bool(config.monitor_thread)
