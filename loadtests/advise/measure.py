"""Step 3: load one candidate configuration with Locust, beside its prediction.

The matrix's own machinery: Locust (:class:`~loadtests.locustrun.LocustRun`, the
locustfile's AppUser over the app's paths) boots while the candidate's gunicorn does and
waits at its gate; R and S_cpu are timed again on the candidate's own idle server, one
user, just before the load and just after it -- the idea of a matrix cell timing S in its
own server, bracketing the window because this VM's speed moves within seconds -- so the
prediction beside the measurement rests on this server, now; the gate opens between the
two, and psutil meters the server's and Locust's CPU over the measured window. (The
second timing waits until the requests Locust left in flight are done.)
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from ..harness.cpu import CpuMeter
from ..harness.procs import tree
from ..load.locustrun import Load, LocustRun, number
from ..matrix.runner import STOP_GRACE_S
from ..servers import Server, ServerSpec, free_port, launch
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
    return dataclasses.replace(candidate.spec, app=target.app, chdir=target.chdir)


def measure(candidate: Candidate, target: Target, *, users: int, warmup: float,
            duration: float, timing_s: float, timeout: float, cores: int,
            out_dir: Path) -> Measured:
    out_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    load = Load(tag="app", users=users, duration=duration, warmup=warmup,
                extra=tuple(arg for path in target.paths for arg in ("--path", path)))
    with LocustRun(load, f"http://127.0.0.1:{port}", out_dir / "locust",
                   out_dir / "locust.log") as locust:
        server = launch(spec_of(candidate, target), port=port,
                        log_path=out_dir / f"{candidate.server}.log")
        try:
            server.start()
            client = Client(port, timeout)
            for path in target.paths:
                check_status(client, path, candidate.label)  # a first request per worker
            timed = _time_paths(server, client, target, timing_s / 2)
            meter = CpuMeter({"server": server.processes,
                              "locust": lambda: tree(locust.proc.pid)})
            with DbWatch() as watch:
                summary = locust.wait(meter)
            # and again once the load is over and the requests Locust left in the server
            # are done (they would count as CPU of the timed ones): this VM's speed moves
            # within seconds, and the two timings bracket the window
            wait_idle(server, timeout=IDLE_TIMEOUT_S)
            timed += _time_paths(server, client, target, timing_s / 2)
            client.close()
        finally:
            server.stop(grace=STOP_GRACE_S, graceful=False)
    total = summary.rows.get("Aggregated", {})
    requests = int(total.get("Request Count", 0))
    latency = statistics.mean(t[0] for t in timed)
    cpu = statistics.mean(t[1] for t in timed)
    return Measured(
        rps=requests / summary.window_s, requests=requests,
        failures=int(total.get("Failure Count", 0)),
        p50_ms=number(total.get("50%")), p99_ms=number(total.get("99%")),
        latency_s=latency, cpu_s=cpu,
        predicted_rps=ceiling(candidate, latency, cpu, cores=cores, users=users),
        server_cpu_pct=meter.percent("server"), busiest_pct=meter.max_process_percent("server"),
        locust_cpu_pct=meter.percent("locust"), db=watch.result)


def leftovers(port: int) -> int:
    """Requests the load left behind on ``port``: connections still waiting in the listening
    socket's accept queue, plus accepted ones whose client has gone (CLOSE_WAIT) -- from
    ``/proc/net/tcp``, where a listening socket's receive queue is its accept queue."""
    waiting = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            if state == "0A":  # LISTEN: rx_queue is the accept backlog
                waiting += int(queues.split(":")[1], 16)
            elif state == "08":  # CLOSE_WAIT: the client left, the worker has it still
                waiting += 1
    return waiting


def wait_idle(server: Server, *, timeout: float) -> None:
    """Poll, with a deadline, until the requests left over from the load are done: the
    server's processes use under :data:`IDLE_PCT` of a core over a short slice, and none of
    its connections is left (:func:`leftovers`: a waiting app's requests use no CPU --
    measured: a sync -w5 server drained 45 sleeping requests after the load, and the timing
    read R = 160 ms for 102)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if idle_cores(server) * 100 < IDLE_PCT and not leftovers(server.port):
            return
    raise TimeoutError(f"the server stayed busy for {timeout:g} s after its load ended")


def _time_paths(server: Server, client: Client, target: Target,
                seconds: float) -> list[tuple[float, float, int]]:
    return [time_path(server, client, path, seconds / len(target.paths))
            for path in target.paths]


def as_row(measured: Measured) -> dict:
    return {**dataclasses.asdict(measured), "fidelity": measured.fidelity}
