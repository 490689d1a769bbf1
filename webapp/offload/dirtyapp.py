"""The dirty app: what gunicorn's dirty workers load (``dirty_apps`` in gunicorn.conf.py).

Each dirty worker creates one :class:`PrimeApp` and calls it for every request an HTTP
worker sends through the dirty arbiter: ``client.execute(APP, "check", n)``.

gunicorn 27.0.1's dirty workers have no parent-death check: a dirty arbiter that is
SIGKILLed leaves its workers running, orphaned (seen in the lab's trial and in
tests/test_offload_dirty.py). ``init`` starts a daemon thread that exits the dirty worker
as soon as its parent changes, so no dirty worker outlives its arbiter.
"""

from __future__ import annotations

import os
import threading
import time

from gunicorn.dirty import DirtyApp

from ..work.primes import is_prime as _is_prime
from ..work.primes import on_this_thread

APP = "webapp.offload.dirtyapp:PrimeApp"
#: How often a dirty worker checks that its arbiter is still its parent.
PARENT_CHECK_S = 0.5


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)  # a watchdog's period, not synchronisation
    os._exit(0)  # the arbiter is gone: nothing will ever send work here again


class PrimeApp(DirtyApp):
    """The lab's CPU-bound check, run by a dirty worker."""

    def init(self):
        threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),),
                         name="orphan-watch", daemon=True).start()

    def check(self, n: int) -> tuple[bool, float]:
        """(is_prime(n), the CPU seconds it took in this dirty worker)."""
        return on_this_thread(_is_prime, n)
