"""Overload per worker model: a burst of open traffic past capacity, and what comes back.

Each model serves CPU work (``/prime/<n>``, a dozen milliseconds of pure Python: every
model's capacity is one process's) on a fresh server. A closed loop of a few users first
measures its capacity μ: the rate it answers when kept just busy. The open-loop generator
(:mod:`loadtests.load.openloop`, a process of its own) then offers Poisson arrivals at
:data:`SHAPE` × μ -- half, then three times for the burst, then half again -- with a client
deadline of :data:`DEADLINE_S`. While it runs, the port's accept queue and accepted
connections (:mod:`loadtests.harness.sockets`) and the server's memory (psutil) are sampled.

Each model runs twice: its clients give up at the deadline, or send the request again once
(the metastable state: do the retries keep it overloaded after the burst?). Then once for
each of its :func:`shedders`: its queue limited to half a deadline's worth of work (for
asgi, by the lab's nginx in front), nginx in front with a deadline and no limit, the app's
own admission limit where the app holds the waiting requests, and nginx's rate limit.
A row per run:
the goodput and p99 in each phase, every outcome by kind (their sum is what
was scheduled), the recovery after the burst (the first second from which on every second's
p99 is within the deadline), the peak queues and memory, the workers gunicorn replaced, and
the fluid model's goodput and recovery (:mod:`loadtests.model.overload`) beside them.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import time

from webapp.work.primes import MIXED_PRIME

from ...harness.procs import rss_mb
from ...harness.sockets import port_queues
from ...load.openloop import command
from ...load.outcomes import Run, recovery_s
from ...model import burst as twin
from ...model import overload as fluid
from ...servers import ServerSpec, launch
from ...services.nginx import NginxProxy
from ...timeline.sampler import waited_s
from .shedding import DEADLINE_S, Bound, shedders

#: The request every model serves: CPU work, no waiting.
PATH = f"/prime/{MIXED_PRIME}"
#: (label, spec): one process of each model.
MODELS = (
    ("sync -w1", ServerSpec("sync")),
    ("gthread -w1 --threads 4", ServerSpec("gthread", threads=4)),
    ("gevent -w1", ServerSpec("gevent")),
    ("asgi -w1", ServerSpec("asgi")),
)
#: The offered load in each phase, as a multiple of the measured capacity.
SHAPE = (0.5, 3.0, 0.5)
#: The closed loop that measures the capacity: users, seconds.
CAPACITY_LOOP = (4, 2.0)
#: Seconds between two samples of the queues and the memory.
SAMPLE_S = 0.25


def capacity(url: str) -> tuple[float, float | None]:
    """Requests a second the server answers when a few users keep it just busy, and the
    mean CPU milliseconds its answers say each took (None where they say none)."""
    users, seconds = CAPACITY_LOOP
    done = subprocess.run(command(url, "--closed", str(users), "--duration", f"{seconds:g}",
                                  "--time", "cpu"),
                          capture_output=True, text=True, timeout=seconds + 60, check=True)
    summary = json.loads(done.stdout)
    return summary["achieved_rps"], cpu_ms(summary)


def cpu_ms(summary: dict) -> float | None:
    """The mean CPU milliseconds a run's answers say each took (their ``cpu``), or None."""
    return summary.get("fields_ms", {}).get("cpu", {}).get("mean")


def sample(server) -> dict:
    """The server's port and memory now."""
    queues = port_queues(server.port)
    return {"at": time.time(), "accept_queue": queues.accept_queue,
            "established": queues.established, "close_wait": queues.close_wait,
            "rss_mb": rss_mb(server.processes())}


def burst(server, url: str, phases: list[tuple[float, float]], seed: int,
          retries: int = 0) -> tuple[dict, list]:
    """The generator's run of ``phases`` (a request that times out sent again ``retries``
    times), sampling the server meanwhile: its summary and the samples (bounded: the run's
    seconds, its deadlines and a minute)."""
    flags = [f for rate, seconds in phases for f in ("--phase", f"{rate:.1f}:{seconds:g}")]
    argv = command(url, "--timeout", f"{DEADLINE_S:g}", "--seed", str(seed),
                   "--retries", str(retries), "--time", "cpu", *flags)
    limit = time.monotonic() + sum(s for _, s in phases) + DEADLINE_S * (retries + 1) + 60
    samples = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as running:
        try:
            while running.poll() is None:
                if time.monotonic() > limit:
                    raise TimeoutError(f"the generator outlived its run: {argv}")
                samples.append(sample(server))
                time.sleep(SAMPLE_S)  # the sampling period, not a wait for anything
            out, _ = running.communicate(timeout=60)
        except BaseException:
            running.kill()
            raise
    return json.loads(out), samples


def run_one(label: str, spec: ServerSpec, seconds: tuple[float, float, float],
            seed: int = 1, path: str = PATH, retries: int = 0,
            bound: Bound | None = None) -> dict:
    """One model's row: a fresh server, its capacity on ``path``, then the burst (phases
    of whole seconds: the goodput is read from the run's timeline, a row a second), its
    clients sending a request that timed out again ``retries`` times; ``bound``: the
    queue limit ``spec`` sets, or the nginx in front that sets it."""
    if any(s != int(s) or s < 1 for s in seconds):
        raise ValueError(f"the phases must last whole seconds: {seconds}")
    with launch(spec) as server, contextlib.ExitStack() as front:
        url = server.url + path
        if bound and bound.front is not None:
            url = front.enter_context(NginxProxy(server.port, **dict(bound.front))).url + path
        before = set(server.worker_pids())
        waiting = _Waiting(list(before))
        mu, cpu = capacity(url)
        phases = [(share * mu, s) for share, s in zip(SHAPE, seconds, strict=True)]
        waiting.lap("capacity")
        summary, samples = burst(server, url, phases, seed, retries)
        waiting.lap("burst")
        replaced = len(before - set(server.worker_pids()))
        server.stop(0.5, graceful=False)  # a melted server's backlog is no one's any more
    # what the machine did to the server between its capacity and its burst: its threads'
    # wait for a core, the hypervisor's steal (the generator's own account of its run), and
    # the CPU the same request took
    return {**row(label, spec, mu, phases, summary, samples, replaced, path, bound),
            "waited_per_s": waiting.waited, "steal_ms": summary["host"]["steal_ms"],
            "cpu_ms": {"capacity": cpu, "burst": cpu_ms(summary)}}


class _Waiting:
    """Per second of each phase, how long the workers' threads were runnable but waited for
    a core (``schedstat``; a replaced worker's wait is not counted): what something else on
    the machine took from the server, beside what its own load did."""

    def __init__(self, pids: list[int]):
        self.pids, self.waited = pids, {}
        self.at, self.mark = time.monotonic(), waited_s(pids)

    def lap(self, name: str) -> None:
        at, mark = time.monotonic(), waited_s(self.pids)
        self.waited[name] = (mark - self.mark) / (at - self.at)
        self.at, self.mark = at, mark


def row(label: str, spec: ServerSpec, mu: float, phases: list[tuple[float, float]],
        summary: dict, samples: list[dict], replaced: int, path: str = PATH,
        bound: Bound | None = None) -> dict:
    """What the burst measured, the fluid's prediction and the simulated twin's beside it."""
    timeline = summary["timeline"]
    retries = summary.get("retries", 0)
    predicted, queue = _fluid(mu, phases, retries, bound)
    deadline_ms = DEADLINE_S * 1000
    peak = {key: max((s[key] for s in samples), default=0)
            for key in ("accept_queue", "established", "close_wait", "rss_mb")}
    return {
        "label": label, "model": spec.model, "path": path, "deadline_s": DEADLINE_S,
        "retries": retries, "retried": summary.get("retried", 0),
        "bound": bound.setting if bound else None,
        "bound_requests": bound.requests if bound else None,
        "capacity_rps": mu, "phases": [list(p) for p in phases],
        "scheduled": summary["scheduled"], "statuses": summary["statuses"],
        "failed": summary["failed"], "timed_out": summary["timed_out"],
        "dropped": summary["dropped"], "unaccounted": summary["unaccounted"],
        "goodput_rps": goodput(timeline, phases),
        "p99_ms": summary["latency_ms"].get("p99"),
        "recovery_s": recovery_s(timeline, sum(s for _, s in phases[:2]), deadline_ms),
        "simulated": simulated(mu, phases, retries, bound, spec.model),
        "predicted_burst_goodput_rps": predicted,
        "predicted_recovery_s": fluid.recovery_s(mu, DEADLINE_S, queue, phases[2][0],
                                                 retries),
        "peak": peak, "workers_replaced": replaced, "worker_timeout_s": spec.timeout,
        "timeline": [{"t": r["t"], "good": r["good"], "p99_ms": r["p99_ms"],
                      "retried": r.get("retried", 0)} for r in timeline],
        "queue": [{"t": round(s["at"] - summary["started_at"], 2),
                   "accept_queue": s["accept_queue"], "established": s["established"]}
                  for s in samples],
        "send_lag_p99_ms": summary["send_lag_ms"].get("p99"),
        "rss_mb_median": statistics.median(s["rss_mb"] for s in samples) if samples else None,
    }


def _fluid(mu: float, phases: list[tuple[float, float]], retries: int,
           bound: Bound | None) -> tuple[float, float]:
    """The fluid's goodput in the burst, and the queue it leaves at the burst's end."""
    (burst_rate, burst_s), start = phases[1], fluid.backlog(mu, phases[:1])
    if bound and bound.rate_limit:
        rate, most = bound.rate_limit
        passed = [phases[0], (min(burst_rate, rate), burst_s)]
        return (fluid.rate_limited_goodput(mu, DEADLINE_S, burst_rate, burst_s, rate, most),
                fluid.backlog(mu, passed) + most)
    queue = fluid.backlog(mu, phases[:2], deadline_s=DEADLINE_S, retries=retries)
    if bound and bound.requests is not None:
        return (fluid.bounded_goodput(mu, DEADLINE_S, burst_rate, burst_s, bound.requests,
                                      start), min(queue, bound.requests))
    return fluid.burst_goodput(mu, DEADLINE_S, burst_rate, burst_s, start), queue


def goodput(timeline: list[dict], phases: list[tuple[float, float]]) -> list[float]:
    """Each phase's goodput a second, from a timeline of whole seconds."""
    rates, start = [], 0.0
    for _, seconds in phases:
        good = sum(r["good"] for r in timeline if start <= r["t"] < start + seconds)
        rates.append(good / seconds)
        start += seconds
    return rates


def simulated(mu: float, phases: list[tuple[float, float]], retries: int,
              bound: Bound | None, model: str) -> dict:
    """The simulated twin of the run (:mod:`loadtests.model.burst`), read as the
    measurement is: goodput a phase, p99, recovery. gunicorn's asgi worker cancels a
    request whose client has gone after its ``asgi_disconnect_grace_period`` (gunicorn's
    default, which the lab keeps); the others serve it."""
    from gunicorn.config import Config

    grace = Config().asgi_disconnect_grace_period if model == "asgi" else None
    rate_limit = bound.rate_limit if bound else None
    limit = bound.requests if bound and not rate_limit else None
    ends = twin.simulate(twin.Burst(mu, tuple(map(tuple, phases)), DEADLINE_S, retries,
                                    limit, grace, rate_limit))
    run = Run("simulated", len(ends), sum(s for _, s in phases), deadline_s=DEADLINE_S,
              retries=retries)
    for end in ends:
        run.count(end.due, end.outcome, end.latency, end.attempt_s, end.attempts)
    timeline = run.timeline()
    return {"goodput_rps": goodput(timeline, phases),
            "recovery_s": recovery_s(timeline, sum(s for _, s in phases[:2]),
                                     DEADLINE_S * 1000),
            "p99_ms": run.summary()["latency_ms"].get("p99")}


#: The clients' retries in each model's first two runs: none, and one at once after a
#: deadline.
RETRIES = (0, 1)
def observe(seconds: tuple[float, float, float]) -> list[dict]:
    """Every model's rows, one after another (they share the cores): its clients giving up
    or retrying once, then each of its :func:`shedders` (sized from the first run's
    capacity)."""
    rows = []
    for label, spec in MODELS:
        rows += [run_one(label, spec, seconds, retries=retries) for retries in RETRIES]
        for limit in shedders(spec, rows[-len(RETRIES)]["capacity_rps"]):
            rows.append(run_one(label, limit.spec, seconds, bound=limit))
    return rows
