"""Step 3: load one candidate configuration with Locust, beside its prediction.

The matrix's own machinery (:func:`loadtests.load.serve.serve_and_load`, with
:class:`Timed` as its one part): Locust (the locustfile's AppUser over the app's paths) boots
while the candidate's gunicorn does and
waits at its gate; R and S_cpu are timed again on the candidate's own idle server, one
user, just before the load and just after it -- the idea of a matrix cell timing S in its
own server, bracketing the window because this VM's speed moves within seconds -- so the
prediction beside the measurement rests on this server, now; the gate opens between the
two, and psutil meters the server's and Locust's CPU over the measured window. (The
second timing waits until the requests Locust left in flight are done.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
from dataclasses import dataclass
from pathlib import Path

from ..harness.poll import wait_until
from ..harness.ports import free_port
from ..harness.sockets import port_queues
from ..load.locustrun import Load, number
from ..load.serve import Part, Run, serve_and_load
from ..servers import Server, ServerSpec
from .dbwatch import Connections, DbWatch
from .predict import Candidate, ceiling
from .profile import Client, check_status, idle_cores, time_path
from .target import Target

#: A server below this CPU (percent of one core) over profile.BASELINE_S is idle.
IDLE_PCT, IDLE_TIMEOUT_S = 10.0, 60.0


@dataclass(frozen=True)
class Measured:
    rps: float
    requests: int
    failures: int
    p50_ms: float | None
    p99_ms: float | None
    latency_s: float  # R, timed on this server just before and after the load
    cpu_s: float  # S_cpu, likewise
    predicted_rps: float  # the ceiling from those two
    server_cpu_pct: float
    busiest_pct: float  # the server's busiest process: 100 % = one core
    locust_cpu_pct: float
    #: the app's PostgreSQL connections at the peak of the load (None: no database watched)
    db: Connections | None = None

    @property
    def fidelity(self) -> float:
        return self.rps / self.predicted_rps if self.predicted_rps else 0.0


def spec_of(candidate: Candidate, target: Target) -> ServerSpec:
    return dataclasses.replace(candidate.spec, app=target.app, chdir=target.chdir,
                               cpus=target.cpus, python=target.python)


class Timed(Part):
    """R and S_cpu timed on the candidate's own idle server, one user, just before the load
    and again once it is over and the requests Locust left in the server are done (they
    would count as CPU of the timed ones): this VM's speed moves within seconds, and the
    two timings bracket the window. The app's PostgreSQL connections watched meanwhile."""

    def __init__(self, candidate: Candidate, target: Target, timing_s: float, timeout: float):
        self.candidate, self.target = candidate, target
        self.timing_s, self.timeout = timing_s, timeout
        self.timed: list[tuple[float, float, int]] = []
        self.watch = DbWatch()

    def ready(self, run: Run, stack: contextlib.ExitStack) -> None:
        self.client = Client(run.port, self.timeout, self.target.traffic)
        stack.callback(self.client.close)
        for route in self.target.routes:
            check_status(self.client, route, self.candidate.label)  # a first request per worker
        self.timed += self._time(run.server)

    def during(self, run: Run) -> contextlib.AbstractContextManager:
        return self.watch

    def after_load(self, run: Run) -> None:
        wait_idle(run.server, timeout=IDLE_TIMEOUT_S)
        self.timed += self._time(run.server)

    def _time(self, server: Server) -> list[tuple[float, float, int]]:
        seconds = self.timing_s / 2 / len(self.target.routes)
        return [time_path(server, self.client, route, seconds) for route in self.target.routes]


def measure(candidate: Candidate, target: Target, *, users: int, warmup: float,
            duration: float, timing_s: float, timeout: float, cores: int,
            out_dir: Path, held: bool = False) -> Measured:
    port = free_port()
    load = Load(tag="app", users=users, duration=duration, warmup=warmup,
                extra=tuple(target.traffic.flags()))
    timed = Timed(candidate, target, timing_s, timeout)
    run = serve_and_load(spec_of(candidate, target), load, out_dir, port=port,
                         url=f"http://127.0.0.1:{port}", parts=[timed])
    summary, meter = run.summary, run.meter
    total = summary.rows.get("Aggregated", {})
    requests = int(total.get("Request Count", 0))
    # the routes in their proportions (each timing, before and after, in the routes' order)
    shares = target.traffic.shares * (len(timed.timed) // len(target.routes))
    latency = statistics.fmean([t[0] for t in timed.timed], shares)
    cpu = statistics.fmean([t[1] for t in timed.timed], shares)
    return Measured(
        rps=requests / summary.window_s, requests=requests,
        failures=int(total.get("Failure Count", 0)),
        p50_ms=number(total.get("50%")), p99_ms=number(total.get("99%")),
        latency_s=latency, cpu_s=cpu,
        predicted_rps=ceiling(candidate, latency, cpu, cores=cores, users=users, held=held),
        server_cpu_pct=meter.percent("server"), busiest_pct=meter.max_process_percent("server"),
        locust_cpu_pct=meter.percent("locust"), db=timed.watch.result)


def leftovers(port: int) -> int:
    """Requests the load left behind on ``port``: connections still waiting in the listening
    socket's accept queue, plus accepted ones whose client has gone (CLOSE_WAIT)."""
    queues = port_queues(port)
    return queues.accept_queue + queues.close_wait


def wait_idle(server: Server, *, timeout: float) -> None:
    """Poll, with a deadline, until the requests left over from the load are done: the
    server's processes use under :data:`IDLE_PCT` of a core over a short slice, and none of
    its connections is left (:func:`leftovers`: a waiting app's requests use no CPU --
    measured: a sync -w5 server drained 45 sleeping requests after the load, and the timing
    read R = 160 ms for 102)."""
    # no interval: idle_cores measures over a slice of its own
    wait_until(lambda: idle_cores(server) * 100 < IDLE_PCT and not leftovers(server.port),
               timeout, interval=0, fail=lambda _: TimeoutError(
                   f"the server stayed busy for {timeout:g} s after its load ended"))


def as_row(measured: Measured) -> dict:
    return {**dataclasses.asdict(measured), "fidelity": measured.fidelity}
