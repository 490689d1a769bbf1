"""One request as the simulated twin (:mod:`.simulate`) sees it: its Python, its wait,
whether the wait frees the GIL or loop, its Python after the wait, its time outside the
server, and a measured run's own Python request by request."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Work:
    """One request: ``cpu_s`` of Python, then ``wait_s`` of waiting; ``exponential``: each
    drawn from an exponential of that mean, else fixed."""

    cpu_s: float
    wait_s: float = 0.0
    exponential: bool = False
    #: Whether the wait frees the process's GIL or event loop.
    yields: bool = True
    #: Python after the wait (fixed), in a turn of its own at the GIL or loop; the request
    #: then takes a turn before its wait too, however short ``cpu_s`` (it is read and
    #: dispatched there): it queues twice. (On gthread that first turn is the wake-up of an
    #: idle thread; a thread that was busy goes on with the GIL from its last request.)
    after_s: float = 0.0
    #: Seconds each request spends outside the server, holding nothing there: the client's
    #: send and read, the connection, the loopback (measured as a cheap request's latency
    #: less the server's CPU for it). Added to every latency.
    outside_s: float = 0.0
    #: Each request's own Python seconds, in the order the requests arrive (a measured
    #: run's, replayed): the n-th request's instead of ``cpu_s`` (and of ``after_s``, where
    #: its Python runs after the wait); requests past the end take ``cpu_s``.
    sequence: tuple[float, ...] = ()

    def draw(self, rng: random.Random, number: int = 0) -> tuple[float, float, float]:
        """The ``number``-th request's Python seconds before its wait, its wait, and its
        Python after the wait."""
        if number < len(self.sequence):
            own = self.sequence[number]
            return (0.0, self.wait_s, own) if self.after_s else (own, self.wait_s, 0.0)
        if not self.exponential:
            return self.cpu_s, self.wait_s, self.after_s
        return (rng.expovariate(1 / self.cpu_s) if self.cpu_s else 0.0,
                rng.expovariate(1 / self.wait_s) if self.wait_s else 0.0, self.after_s)
