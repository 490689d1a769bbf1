"""A matrix run's settings, and where each cell's service time S is timed.

:class:`Settings` holds what every cell of a run shares (windows, the prime, the
machine's cores, which cells are traced). S, the service time a bound rests on, is timed
where the cell runs: under the load (:data:`LOAD_TIMED`, from each check's own CPU, or
:data:`SERVER_TIMED`, the server's whole CPU per request) or in the cell's idle server
just before the load (:meth:`Settings.time_in_server`), with the runner's own timing of
the same work beside it as a cross-check (:data:`TIMED_WORK`).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from webapp.work.gilfree import sha256_megabytes
from webapp.work.primes import is_prime, is_prime_napping

from ..harness.machine import measure_service_time
from ..lessons import SCENARIO
from ..load.client import get
from .cells import Cell


@dataclass
class Settings:
    windows: dict[str, tuple[float, float]]  # scenario or "other" -> (warm-up, measured) s
    delay: float
    n: int
    short_n: int  # for the scenarios that ask for it (Scenario.short)
    mb: int
    locust_processes: int
    start_samples: list[float]  # is_prime(n) timed at the start: the machine's drift check
    cores: int
    cross_check: bool = True  # also time S in the runner, per cell
    #: The cells (by key) whose request timelines are recorded and drawn (loadtests.timeline)
    traced: frozenset = frozenset()

    @property
    def start_s(self) -> float:
        """S at the start (each cell's bound is timed anew, in its own server)."""
        return statistics.median(self.start_samples)

    def window(self, cell: Cell) -> tuple[float, float]:
        return self.windows.get(cell.scenario, self.windows["other"])

    def prime_n(self, cell: Cell) -> int:
        scenario = SCENARIO[cell.scenario]
        return scenario.n or (self.short_n if scenario.short else self.n)

    def time_service(self, kind: str | None, n: int) -> float | None:
        """The runner's own timing, now, of the work a bound of this kind rests on.

        A cross-check only: the bound rests on the CPU under load, or on
        :meth:`time_in_server`.
        """
        if kind not in TIMED_WORK:
            return None
        _, check, arg, repeats = TIMED_WORK[kind]
        return measure_service_time(n if arg == "n" else self.mb, repeats=repeats, check=check)

    def time_in_server(self, url: str, kind: str | None, n: int,
                       repeats: int = 2) -> list[float]:
        """S in the idle server: the ``elapsed`` of ``repeats`` requests to it.

        The bound of a hashing cell rests on it; for /prime (plain, napping, offloaded)
        it is the idle timing the report puts beside S under load.

        The same endpoint the cell loads (for a napping cell the napping check, on asgi
        its coroutine, for an offload cell the backend it offloads to), in the cell's own
        server, before the load starts. (Not after it:
        requests still in flight when Locust stops keep a worker computing -- and under
        threads or napping they share the core with the timed request.)
        """
        if kind not in TIMED_WORK:
            return []
        path = TIMED_WORK[kind][0].format(n=n, mb=self.mb)
        if kind in ("gilfree", "offload"):
            # a warm-up: the first hash faults in its zero pages; the first offload starts
            # the worker's pool, or connects to Redis or the dirty arbiter
            get(url + path)
        return [get(url + path).body["elapsed"] for _ in range(repeats)]


#: The kinds whose S is the CPU each request's check reported under the load (Locust's
#: WORK_ROW); the others' is :meth:`Settings.time_in_server`'s idle timing.
LOAD_TIMED = ("cpu", "nap", "offload", "closed")

#: The kinds whose S is the server's whole CPU per request under the load (psutil: master and
#: workers over the window ÷ requests); the check's own (LOAD_TIMED) is reported beside it.
SERVER_TIMED = ("closed",)

#: Per timing kind, the work a bound rests on: the endpoint whose ``elapsed`` is S in the
#: server, and the same work for the runner's cross-check (function, Settings field with
#: its argument, calls).
TIMED_WORK = {
    "cpu": ("/prime/{n}", is_prime, "n", 1),
    "nap": ("/prime/{n}?nap=1", is_prime_napping, "n", 1),
    "gilfree": ("/hash?mb={mb}", sha256_megabytes, "mb", 2),
    # the backend's whole path: the check plus its round trip (pool, dirty arbiter, Redis)
    "offload": ("/offload/prime/{n}", is_prime, "n", 1),
    # /mixed's CPU alone: its check, with no wait before it
    "closed": ("/mixed?delay=0&n={n}", is_prime, "n", 3),
}
