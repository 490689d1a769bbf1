"""An admission limit: a worker process that already holds ``ADMIT_LIMIT`` requests answers
the next one 503 at once, instead of taking it on and making every request late.

A gevent or asgi worker accepts every connection it is offered and gives each a greenlet or
a task (up to ``--worker-connections``): past its capacity, each new request waits its turn
on one GIL or one event loop behind all the others, and once that turn comes after the
client's deadline, the worker is busy with answers nobody waits for. Shedding the excess
keeps the rest on time -- where the excess waits inside the app, on I/O: it counts the
requests the app holds, and on CPU work each greenlet or task runs its request to the end
before the next one starts, so one is ever inside while the rest wait before the app (in
the accept queue, or the hub's or loop's ready queue), where this limit does not reach
(measured in the overload lesson). It is a semaphore taken without waiting: ``threading``'s, which
gevent's patching turns into its own, and which an event loop takes without blocking.

Off unless ``ADMIT_LIMIT`` is set (gunicorn.conf.py checks it at start). The Flask app takes
it in ``before_request``, the Starlette twin in an ASGI middleware; the 503 is JSON with
``Retry-After: 1``, like the lab's other refusals.
"""

from __future__ import annotations

import os
import threading

#: The environment variable: requests one worker process holds at once (unset or 0: no limit).
SETTING = "ADMIT_LIMIT"
#: What a shed request's client reads.
RETRY_AFTER_S = 1


class Admission:
    """At most ``limit`` requests at once; :meth:`enter` says whether one more may come in."""

    def __init__(self, limit: int):
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    def enter(self) -> bool:
        """Take a slot if one is free (never waits); True when taken."""
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()

    def refusal(self) -> dict:
        """The 503's JSON body."""
        return {"error": f"busy: this worker already holds {self.limit} requests "
                         f"({SETTING}); retry after {RETRY_AFTER_S} s", "status": 503}


def from_env(environ=os.environ) -> Admission | None:
    """The limit ``ADMIT_LIMIT`` sets, or None (unset or 0).

    >>> from_env({SETTING: "8"}).limit, from_env({SETTING: "0"}), from_env({})
    (8, None, None)
    """
    raw = environ.get(SETTING, "").strip() or "0"
    if not raw.isascii() or not raw.isdigit():
        raise ValueError(f"{SETTING} must be 0 (off) or a positive integer, got {raw!r}")
    return Admission(int(raw)) if int(raw) else None
