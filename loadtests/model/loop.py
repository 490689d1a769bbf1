"""asyncio's event loop as the twin's asgi workers meet it: a step waits for the iteration
it was scheduled in to end (``asyncio.base_events.BaseEventLoop._run_once``).

Each iteration of the loop first notes what happened while it ran the last one -- the
sockets that became readable, then the timers that expired -- and appends their callbacks
to the ready queue, behind the steps already there; then it runs as many callbacks as the
queue held at that moment, one at a time, each to its next ``await``. A step scheduled
while an iteration runs (``call_soon``: a task woken by a future, a task created) waits for
the next one. So a request that needs several steps to reach its code -- a callback, then a
task it wakes, then a task that task creates -- waits for an iteration at each, and each
iteration may hold other requests' Python that became ready *after* it arrived: a turn is
not first come, first served, as it is at a lock.

gunicorn 27's asgi worker (``gunicorn/asgi/protocol.py``) reads a keep-alive connection's
request in ``data_received`` (the socket's callback), which sets an ``asyncio.Event``; the
connection's task wakes on it in the next iteration and creates a task for the request,
which calls the app in the one after: two steps after the socket's callback
(:data:`HOPS`). An ``await asyncio.sleep`` ends with its timer's callback, which sets a
future; the task resumes in the next iteration: one step after the timer's.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy


class Turn:
    """One callback or step in the loop's ready queue: it runs when :attr:`go` fires, and
    the loop goes on to the next once :meth:`done` is called."""

    def __init__(self, env: simpy.Environment):
        self.go, self.finished = env.event(), env.event()

    def done(self) -> None:
        self.finished.succeed()


class Loop:
    """One process's event loop in a SimPy environment."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        #: steps scheduled while an iteration ran (``call_soon``), for the next one
        self.ready: list[Turn] = []
        #: readable sockets and expired timers, noted at the next iteration's start
        self.io: list[Turn] = []
        self.timers: list[Turn] = []
        self._idle: simpy.Event | None = None
        env.process(self._run())

    def soon(self) -> Turn:
        """A step scheduled now (``call_soon``): it runs in the next iteration."""
        return self._add(self.ready)

    def readable(self) -> Turn:
        """A socket's callback: the data arrived now."""
        return self._add(self.io)

    def expired(self) -> Turn:
        """A timer's callback: its time came now."""
        return self._add(self.timers)

    def _add(self, queue: list[Turn]) -> Turn:
        turn = Turn(self.env)
        queue.append(turn)
        if self._idle is not None and not self._idle.triggered:
            self._idle.succeed()  # the loop was blocked in select(): it wakes
        return turn

    def _run(self) -> Generator:
        while True:
            if not (self.ready or self.io or self.timers):
                self._idle = self.env.event()
                yield self._idle
            batch = self.ready + self.io + self.timers
            self.ready, self.io, self.timers = [], [], []
            for turn in batch:
                turn.go.succeed()
                yield turn.finished

    def steps(self, first: Turn, hops: int) -> Generator:
        """Wait for ``first``, then for ``hops`` more steps, each scheduled by the one
        before; ends holding the loop in the last: the caller runs its Python and calls
        ``done()`` on the returned :class:`Turn`."""
        turn = first
        for _ in range(hops):
            yield turn.go
            turn, last = self.soon(), turn
            last.done()
        yield turn.go
        return turn
