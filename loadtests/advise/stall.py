"""Does the app's waiting yield to the event loop? A probe of concurrent requests.

Under gevent (or asyncio), a request that waits lets the worker's other requests run --
if what it waits in yields to the loop. A database driver that releases the GIL but never
yields (psycopg2 without psycogreen under gevent; a blocking driver inside a coroutine)
holds the whole worker instead. The probe sends one request of a path, then ``CONCURRENT``
at once, to one worker, in ``ROUNDS`` interleaved rounds, keeps the least wall time of each
(a busy machine only ever adds time: in one CI run, beside five other test workers on two
cores, a single round read 0.26 s for 4 requests that overlap into about 0.1 s), and
compares the concurrent one with the two extremes the single one (R) and the profile's CPU
predict:

* waiting that yields: the waits overlap and only the CPU is serial, W + k × S_cpu
  (W = R − S_cpu, the waiting part of one request);
* waiting that does not: one request after another, k × R.

``overlap`` is where the measurement falls between them (1: all the overlap the model
allows, 0: none).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..load.client import get_many
from ..load.traffic import Route, Traffic

#: Requests sent at once to one worker.
CONCURRENT = 4
#: Rounds of (one request, then CONCURRENT at once): the least wall time of each is kept.
ROUNDS = 3
#: Below this overlap the waiting does not yield.
YIELDS = 0.5
#: A path whose waiting share of R is below this has too little waiting to overlap.
MIN_WAIT = 0.5


@dataclass(frozen=True)
class Overlap:
    path: str
    latency_s: float  # R at one user
    cpu_s: float
    wall_s: float  # CONCURRENT requests at once
    overlap: float

    @property
    def request(self) -> str:
        """The route as a request: "GET /a", "POST /orders"."""
        return self.path if " " in self.path else f"GET {self.path}"

    @property
    def yields(self) -> bool:
        return self.overlap >= YIELDS

    def asyncio_fix(self) -> str:
        """What the probe found on an asyncio loop, and the fix in the app's own terms."""
        return (f"{CONCURRENT} concurrent {self.request} took {self.wall_s:.2f} s under "
                f"asyncio where one takes {self.latency_s:.2f} s "
                f"({(self.latency_s - self.cpu_s) * 1000:.0f} ms of it waiting): the waiting "
                "holds the event loop (a blocking call inside an `async def` endpoint), so a "
                "worker answers one request at a time, however many it has accepted, and the "
                "prediction counts each worker as one slot. The fix is in the app: make the "
                "endpoint a plain `def` (Starlette and FastAPI run it in their thread pool), "
                "or await the blocking call through `run_in_threadpool` "
                "(starlette.concurrency) or `asyncio.to_thread`, or use an async client for "
                "what it waits on")

    def explain(self, model: str) -> str:
        what = "gevent's hub" if model == "gevent" else "the asyncio event loop"
        return (f"under {model}, {CONCURRENT} concurrent {self.request} took "
                f"{self.wall_s:.2f} s where one takes {self.latency_s:.2f} s "
                f"({(self.latency_s - self.cpu_s) * 1000:.0f} ms of it waiting): the waiting "
                f"does not yield to {what}, so each request holds the whole worker — a "
                "database driver that does not cooperate (psycopg2 without psycogreen?) or "
                "a blocking call in a coroutine; use gthread, or patch the driver")


def overlap(wall: float, latency: float, cpu: float, k: int = CONCURRENT) -> float:
    """Where ``wall`` falls between one-after-another (0) and overlapped waits (1).

    >>> overlap(0.40, 0.10, 0.0), overlap(0.10, 0.10, 0.0), overlap(0.25, 0.10, 0.0)
    (0.0, 1.0, 0.5)
    """
    serial, overlapped = k * latency, (latency - cpu) + k * cpu
    if serial - overlapped <= 0:
        return 1.0
    return round(min(1.0, max(0.0, (serial - wall) / (serial - overlapped))), 12)


def probe(url: str, route: Route, traffic: Traffic, latency: float,
          cpu: float) -> Overlap | None:
    """The overlap of ``route`` (with ``traffic``'s body and headers) on the server at
    ``url`` (None: too little waiting to tell, by the profile's ``latency`` and ``cpu``)."""
    if latency <= 0 or (latency - cpu) / latency < MIN_WAIT:
        return None
    how = {"method": route.method, "body": traffic.body_for(route),
           "headers": dict(traffic.headers)}
    get_many([url + route.path] * CONCURRENT, **how)  # each a new connection: warmed
    ones, walls = [], []
    for _ in range(ROUNDS):
        for count, times in ((1, ones), (CONCURRENT, walls)):
            wall, replies = get_many([url + route.path] * count, **how)
            if not all(200 <= r.status < 300 for r in replies):
                return None
            times.append(wall)
    one, wall = min(ones), min(walls)
    return Overlap(str(route), one, cpu, wall, overlap(wall, one, cpu))
