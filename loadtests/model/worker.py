"""The twin's resources for one simulated server, and one request's path through them.

A :class:`Server` holds, in one SimPy environment, what :class:`~.simulate.Twin` describes:
the slots (in one queue for every process, or one per process), each process's GIL or
event loop, and the cores; :meth:`Server.request` is one request from its arrival to its
answer (:mod:`.simulate` runs them, open or closed).
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import TYPE_CHECKING

import simpy

from .gil import Gil
from .loop import Loop
from .work import Work

if TYPE_CHECKING:
    from .simulate import Twin

#: The slice a core gives each of more runnable processes than cores.
SLICE_S = 0.003


class Server:
    """The twin's resources in one SimPy environment, and one request's path through them."""

    def __init__(self, env: simpy.Environment, twin: Twin, work: Work, rng: random.Random):
        self.env, self.twin, self.work, self.rng = env, twin, work, rng
        self.cores = simpy.Resource(env, twin.cores)
        # each process's one GIL, or its event loop (a loop's steps are its lock)
        self.loops = [Loop(env) for _ in range(twin.processes)] if twin.hops else []
        self.gils = [] if self.loops else [Gil(env) if twin.preempts else simpy.Resource(env, 1)
                                           for _ in range(twin.processes)]
        # a slot is a process number in a store: one store for all (a shared accept
        # queue), or one per process (connections that stay where they were accepted)
        self.slots = [simpy.Store(env) for _ in range(twin.processes if twin.per_process else 1)]
        # in turn, a slot of each process: the one queue hands them out in this order, and
        # all of one process's first would load it alone until its slots ran out (gevent
        # -w2 and 50 users: every request on one worker, half the rate)
        for _ in range(twin.slots):
            for process in range(twin.processes):
                self.slots[process if twin.per_process else 0].put(process)
        #: the client's idle keep-alive connections, by process: the last answered on top
        self.idle: list[int] = []
        #: requests answered per process
        self.answered = [0] * twin.processes
        #: requests begun: the next one's place in :attr:`Work.sequence`
        self.drawn = 0

    def _connection(self) -> int:
        """The process whose slots this request waits for (with :attr:`Twin.per_process`)."""
        if self.twin.keepalive and self.idle:
            return self.idle.pop()
        weights = self.twin.shares or (1,) * self.twin.processes
        return self.rng.choices(range(self.twin.processes), weights)[0]

    def request(self, connection: int | None = None) -> Generator:
        """One request, from its arrival to its answer (``connection``: the process whose
        slots it waits for, its user's own; else as :meth:`_connection` draws it)."""
        number, self.drawn = self.drawn, self.drawn + 1
        cpu, wait, after = self.work.draw(self.rng, number)
        if connection is None:
            connection = self._connection() if self.twin.per_process else 0
        queue = self.slots[connection]
        main, taken, freed = self.twin.wakes if self.gils and self.twin.preempts else (0, 0, 0)
        # the main thread that hands the request on: its process's, where that is known
        # before a slot is (connections kept by a process, or one process); else the slot's
        known = self.twin.per_process or self.twin.processes == 1
        if main and known:
            yield from self._woken(self.gils[connection], main)
        idle = bool(queue.items)  # a thread waits for the request: it is woken
        process = yield queue.get()
        if main and not known:
            yield from self._woken(self.gils[process], main)
        if self.loops:
            yield from self._looped(self.loops[process], cpu, wait, after)
        elif self.twin.preempts:
            yield from self._threaded(self.gils[process], cpu, wait, after, taken * idle)
        else:
            yield from self._locked(self.gils[process], cpu, wait, after)
        yield queue.put(process)
        self.answered[process] += 1
        if self.twin.keepalive:
            self.idle.append(connection)
        if freed:  # after the answer: it delays the others, not this request
            self.env.process(self._woken(self.gils[process], freed))

    def _woken(self, gil: Gil, times: int) -> Generator:
        """A thread's wake-ups: each takes the GIL and lets it go (:meth:`.Gil.hop`)."""
        for _ in range(times):
            yield from gil.hop()

    def _locked(self, gil: simpy.Resource, cpu: float, wait: float,
                after: float) -> Generator:
        """A request whose Python runs until it waits (sync, gevent's greenlets): the GIL or
        loop a lock, taken in turn; held through a wait that does not yield."""
        with gil.request() as held:
            yield held
            yield from self._on_cores(cpu)
            if wait and not self.work.yields:
                yield self.env.timeout(wait)
        if wait and self.work.yields:
            yield self.env.timeout(wait)
        if after:
            with gil.request() as held:
                yield held
                yield from self._on_cores(after)

    def _looped(self, loop: Loop, cpu: float, wait: float, after: float) -> Generator:
        """A request on an event loop: its view's steps after the socket's callback, and
        after the timer's that ends a wait that yields (:attr:`Twin.hops`); a wait that
        does not yield holds the loop, and the Python after it runs in the same step."""
        arriving, waking = self.twin.hops
        turn = yield from loop.steps(loop.readable(), arriving)
        yield from self._on_cores(cpu)
        if wait and self.work.yields:
            turn.done()
            yield self.env.timeout(wait)
            turn = yield from loop.steps(loop.expired(), waking)
        elif wait:
            yield self.env.timeout(wait)
        yield from self._on_cores(after)
        turn.done()

    def _threaded(self, gil: Gil, cpu: float, wait: float, after: float,
                  woken: int) -> Generator:
        """A request on a thread: woken ``woken`` times as it takes its slot (an idle
        thread: the wake-up takes the GIL, and the request's Python runs with it), its
        Python handed over whenever another thread has waited a switch interval
        (:mod:`.gil`). A thread that was busy goes on from its last request: it pays no
        wake-up."""
        yield from self._woken(gil, woken - bool(cpu))  # (the last one is the run's take)
        if cpu:
            yield from gil.run(cpu, self._on_cores)
        if wait and not self.work.yields:  # a C call that keeps the GIL while it waits
            yield from gil.take()
            yield self.env.timeout(wait)
            gil.release()
        elif wait:
            yield self.env.timeout(wait)
        if after:
            yield from gil.run(after, self._on_cores)

    def _on_cores(self, cpu: float, stop: simpy.Event | None = None) -> Generator:
        """``cpu`` s on a core, in slices when the cores are shared; cut short when
        ``stop`` fires while it runs. Returns the CPU left to run."""
        while cpu > 0:
            run = min(cpu, SLICE_S) if self.twin.processes > self.twin.cores else cpu
            with self.cores.request() as core:
                yield core
                began, done = self.env.now, self.env.timeout(run)
                yield done if stop is None else done | stop
                # the whole slice, not now - began: that difference drifts by rounding
                cpu -= run if done.processed else self.env.now - began
            if stop is not None and stop.triggered:
                break
        return max(cpu, 0.0)
