"""CPython's GIL as the twin's threads meet it: handed over on request, a switch interval
after a thread began to wait for it (``Python/ceval_gil.h``, since 3.2).

A thread that wants the GIL while another holds it waits on a condition with a timeout of
the switch interval (``sys.getswitchinterval()``, 5 ms). If the wait times out and no
other thread took the GIL meanwhile, it sets a drop request; the holder drops the GIL at
its next check, and a waiter takes it. A thread woken from a wait (``epoll_wait``, a
queue, a ``sleep``) therefore waits a whole interval to take the GIL back while another
thread computes, not the rest of the other's slice: the convoy (CPython bpo-7946). A
thread that lets the GIL go for only a moment (a ``send``, the ``recv`` of bytes already
there) mostly takes it back at once, before the waiter it signalled has woken: the twin
charges a wake-up, not a short release (measured: ``loadtests/lessons/observing/gilhop.py``).
The holder that is asked to drop waits its turn again, its own interval counted from
then, so computing threads alternate every interval.

The waiters are served in the order they came (a condition variable's signal wakes one;
the order is the kernel's, first come is the model's).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator

import simpy

#: CPython's switch interval (sys.getswitchinterval()): how long a thread waits for the
#: GIL before it asks the holder to drop it.
SWITCH_S = 0.005


class Gil:
    """One process's GIL in a SimPy environment."""

    def __init__(self, env: simpy.Environment, interval: float = SWITCH_S):
        self.env, self.interval = env, interval
        self.held = False
        self.waiting: deque[simpy.Event] = deque()
        #: times the GIL changed hands (CPython's ``switch_number``)
        self.switches = 0
        #: fires when a waiter's interval ran out with no switch: the holder should drop
        self.dropped = env.event()

    def take(self) -> Generator:
        """Wait for the GIL, asking the holder to drop it each interval without a switch."""
        if not self.held:
            self.held = True
            return
        granted = self.env.event()
        self.waiting.append(granted)
        while not granted.triggered:
            saved = self.switches
            yield granted | self.env.timeout(self.interval)
            if not granted.triggered and self.switches == saved and not self.dropped.triggered:
                self.dropped.succeed()

    def release(self) -> None:
        """Let the GIL go: to the first waiter, if any."""
        self.dropped = self.env.event()
        if self.waiting:
            self.switches += 1
            self.waiting.popleft().succeed()
        else:
            self.held = False

    def hop(self) -> Generator:
        """Take the GIL and let it go at once: a thread woken from a wait that runs as
        few instructions as the model counts before it waits again."""
        yield from self.take()
        self.release()

    def run(self, cpu: float, on_cores: Callable[[float, simpy.Event], Generator]) -> Generator:
        """``cpu`` s of Python under the GIL, dropped and taken back whenever a waiter asks
        (``on_cores(cpu, stop)``: runs until done or ``stop``, and returns what is left)."""
        yield from self.take()
        while (cpu := (yield from on_cores(cpu, self.dropped))) > 0:
            self.release()
            yield from self.take()
        self.release()
