"""A simulated twin of each worker model: a discrete-event simulation (SimPy) that predicts
the latency distribution, not only the throughput the bounds give.

The bounds (:mod:`.queueing`) say what a server can sustain; a queue's percentiles need the
queue itself. The twin is built from what the lab knows of a worker model:

* **slots**: the requests one process holds at once: 1 for sync, ``--threads`` for gthread,
  ``--worker-connections`` for gevent and asgi. A request waits for a free slot first: in
  one queue for every process (the kernel's accept queue, shared by the workers), or at the
  process its connection belongs to (:attr:`Twin.shares`, as when a client opens its
  connections at once and the first worker to wake takes most of them);
* **one GIL or event loop per process**: a process runs one request's Python at a time.
  gthread's threads hand the GIL over as CPython does (:mod:`.gil`): on request, a switch
  interval (5 ms) after another began to wait, and each of a request's wake-ups
  (:data:`WAKES`) waits that long to take it back while another thread computes;
  gevent's and asyncio's greenlets and tasks run until they wait (no preemption), and so
  does sync's one request. Where a process's loop is known step by step (gunicorn's asgi
  worker: :data:`HOPS`), it is an event loop (:mod:`.loop`): a request waits for an
  iteration at each step it takes, behind whatever was ready when that iteration began;
  elsewhere the GIL or loop is a lock, taken first come, first served;
* **the cores**, shared by the processes that have Python to run, in slices (the kernel's
  scheduler shares a core among more runnable processes than cores);
* **waiting** that yields (sleep, I/O, a driver that cooperates) frees the GIL or loop;
  waiting that does not (psycopg2 under gevent, a blocking call in ``async def``) holds it.

A request is its Python CPU time (:attr:`Work.cpu_s`) and then its wait
(:attr:`Work.wait_s`), each fixed or exponential; a view that computes after it waits
(``/mixed``) has Python after the wait too (:attr:`Work.after_s`), which takes a turn of its
own at the GIL or loop: such a request queues there twice. Traffic is open (Poisson arrivals at a
rate: :func:`open_loop`) or closed (users that send again when answered:
:func:`closed_loop`). The tests first check the twin where queueing theory has an exact
answer: M/M/c's mean wait (Erlang C), the M/M/1 response-time tail, and the closed network's
throughput by mean value analysis (:func:`.queueing.closed_rps`).
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import statistics
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import simpy

from .work import Work
from .worker import Server

#: The worker models, as the lab names them: whether the GIL is handed over mid-request.
PREEMPTS = {"sync": False, "gthread": True, "gevent": False, "asgi": False}
#: A request's wake-ups, where the model preempts: threads back from a wait that take the
#: GIL again, each a switch interval behind a computing thread (:mod:`.gil`). Read in
#: gunicorn 27's ``gunicorn/workers/gthread.py``: (the worker's main thread, woken by
#: ``epoll_wait`` when the request's connection is readable, before it hands the request
#: to the pool; the pool thread, woken from the pool's queue when it was idle; the main
#: thread again, woken through its pipe by the request's done-callback after the thread is
#: free, to put the kept-alive connection back in its poller). A short release -- the
#: ``recv`` of a request already there, the ``sendto``\ s of its answer -- costs no
#: hand-over: CPython takes the GIL back at once if it is free (measured:
#: :mod:`loadtests.lessons.observing.gilhop`).
WAKES = {"gthread": (1, 1, 1)}
#: The steps a request takes through an event loop's ready queue, by (server, model): after
#: its socket's callback before its view runs, and after a timer's callback before the code
#: that awaited it runs (:mod:`.loop`; read in gunicorn 27's ``gunicorn/asgi/protocol.py``:
#: the connection's task, then the request's). Elsewhere a process's Python is one lock,
#: taken in turn (sync, gevent's hub, and the servers whose loops are not read here).
HOPS = {("gunicorn", "asgi"): (2, 1)}


@dataclass(frozen=True)
class Twin:
    """A server as the simulation sees it: ``processes`` of ``slots`` each, on ``cores``."""

    processes: int
    slots: int
    cores: int
    #: True: the GIL changes hands on request (threads, :mod:`.gil`); False: a request's
    #: Python runs until it waits (sync, greenlets, asyncio tasks).
    preempts: bool = False
    #: Each process's share of the requests, when connections stay with the process that
    #: accepted them; None: one queue that every free slot takes from.
    shares: tuple[float, ...] | None = None
    #: True: the client keeps its connections open, and each stays with the process that
    #: accepted it; a request goes out on the connection answered last (a LIFO pool, as
    #: geventhttpclient's), or on a new one that a process takes at random (by ``shares``
    #: when given, else evenly) when none is idle.
    keepalive: bool = False
    #: A request's wake-ups (:data:`WAKES`): the main thread's before it has a slot, its
    #: slot's thread's on taking it when idle, the main thread's after it frees the slot.
    wakes: tuple[int, int, int] = (0, 0, 0)
    #: Each process an event loop (:mod:`.loop`), and a request's steps through it after
    #: its socket's callback and after a timer's (:data:`HOPS`); None: one lock.
    hops: tuple[int, int] | None = None

    @classmethod
    def of(cls, model: str, *, workers: int = 1, threads: int = 1, connections: int = 1000,
           cores: int = 2, shares: tuple[float, ...] | None = None,
           keepalive: bool = False, server: str = "gunicorn") -> Twin:
        """The twin of ``-k model -w workers --threads threads`` on ``server`` (gunicorn's
        unless said).

        >>> twin = Twin.of("gthread", workers=2, threads=4)
        >>> twin.processes, twin.slots, twin.preempts, twin.wakes, twin.hops
        (2, 4, True, (1, 1, 1), None)
        >>> Twin.of("asgi").hops, Twin.of("asgi", server="uvicorn").hops
        ((2, 1), None)
        """
        if model not in PREEMPTS:
            raise ValueError(f"model must be one of {', '.join(PREEMPTS)}, got {model!r}")
        slots = {"sync": 1, "gthread": threads}.get(model, connections)
        return cls(workers, slots, cores, PREEMPTS[model], shares, keepalive,
                   WAKES.get(model, (0, 0, 0)), HOPS.get((server, model)))

    @property
    def per_process(self) -> bool:
        """Whether a request queues at one process's slots, not at every free slot."""
        return self.shares is not None or self.keepalive


@dataclass
class Outcome:
    """What a simulated run measured: each answered request's latency, and the window."""

    latencies: list[float]
    window_s: float
    #: Requests each process answered (warm-up included).
    answered: tuple[int, ...] = ()

    @property
    def shares(self) -> tuple[float, ...]:
        """Each process's share of the answers, largest first (as the lab measures them)."""
        total = sum(self.answered) or 1
        return tuple(sorted((n / total for n in self.answered), reverse=True))

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.window_s

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile of the latencies (to 0.1: 50, 99, 99.9)."""
        cuts = statistics.quantiles(self.latencies, n=1000, method="inclusive")
        return cuts[round(p * 10) - 1]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies)


def _simulate(twin: Twin, work: Work, seed: int, start: Callable) -> Outcome:
    env = simpy.Environment()
    rng = random.Random(seed)
    server = Server(env, twin, work, rng)
    latencies: list[float] = []
    window = start(env, server, rng, latencies)
    env.run()
    return Outcome(latencies, window(), tuple(server.answered))


def open_loop(twin: Twin, work: Work, rate: float, *, requests: int = 20_000,
              warmup: int = 1_000, seed: int = 1,
              arrivals: Sequence[float] | None = None) -> Outcome:
    """Poisson arrivals at ``rate`` a second: ``requests`` of them, the first ``warmup`` not
    counted (the queue starts empty). ``arrivals``: these due times instead (seconds from
    the start, sorted: a measured run's own schedule, replayed), as many requests."""
    gaps = (None if arrivals is None else
            [later - earlier for earlier, later in itertools.pairwise([0.0, *arrivals])])
    requests = requests if gaps is None else len(gaps)

    def start(env, server, rng, latencies):
        counted = {"from": 0.0, "to": 0.0}

        def one(number: int) -> Generator:
            arrived = env.now
            yield from server.request()
            if number >= warmup:
                latencies.append(env.now - arrived + work.outside_s)
                counted["to"] = env.now

        def arrive() -> Generator:
            for number in range(requests):
                if gaps is not None:
                    yield env.timeout(gaps[number])
                if number == warmup:
                    counted["from"] = env.now
                env.process(one(number))
                if gaps is None:
                    yield env.timeout(rng.expovariate(rate))

        env.process(arrive())
        return lambda: counted["to"] - counted["from"]

    return _simulate(twin, work, seed, start)


def closed_loop(twin: Twin, work: Work, users: int, *, duration: float = 200.0,
                warmup: float = 10.0, seed: int = 1,
                pinned: tuple[int, ...] | None = None) -> Outcome:
    """``users`` that each send their next request when the last is answered (no think
    time), for ``duration`` simulated seconds after ``warmup``. ``pinned``: the users per
    process, each user's requests waiting for its own process's slots (a client's
    connections opened at once and kept, as wrk's: the split as measured)."""
    if pinned is not None and (len(pinned) != twin.processes or sum(pinned) != users):
        raise ValueError(f"pinned must give each of {twin.processes} processes its users, "
                         f"{users} in all; got {pinned}")
    if pinned is not None and not twin.per_process:
        twin = dataclasses.replace(twin, shares=tuple(n / users for n in pinned))
    homes = ([process for process, n in enumerate(pinned) for _ in range(n)]
             if pinned is not None else [None] * users)

    def start(env, server, rng, latencies):
        def user(home: int | None) -> Generator:
            while env.now < warmup + duration:
                sent = env.now
                yield from server.request(home)
                if work.outside_s:  # the answer's way back, before the user sends again
                    yield env.timeout(work.outside_s)
                if warmup <= env.now <= warmup + duration:  # answered in the window
                    latencies.append(env.now - sent)

        for home in homes:
            env.process(user(home))
        return lambda: duration

    return _simulate(twin, work, seed, start)
