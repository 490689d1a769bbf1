"""Connections opened all at once (wrk): how they split between the workers, and what that
costs, measured and predicted.

Each case is a fresh two-worker server and :data:`RUNS` wrk runs (:mod:`loadtests.load.wrk`),
each opening its ``connections`` at its start and keeping them. Once every connection has been
accepted, psutil counts each worker's established connections on the server's port: the
split. wrk's script counts the answers by the app's ``pid``. The server's CPU per request
(psutil, over the run) gives S. Two predictions stand beside the measured rate: the bound
that assumes the connections are spread as the slots are (what the matrix's bounds assume),
and the simulated twin's closed loop with each connection pinned to the worker that holds
it (:func:`loadtests.model.simulate.closed_loop`, ``pinned``), fed the measured split.

Two cases put nginx between wrk and the server (:class:`loadtests.services.nginx.NginxProxy`):
its upstream keep-alive pool as large as wrk's connections, which keeps every connection it
opened for the run, or smaller, which closes the rest once answered and opens new ones.
Where the connections come and go, the split counted is a moment's, and the twin is fed
the answers' split instead, each request going to a worker by those odds.
"""

from __future__ import annotations

import contextlib
import statistics
from dataclasses import dataclass, replace

import psutil

from webapp.work.primes import MIXED_PRIME

from ...harness.cpu import CpuMeter
from ...harness.machine import usable_cores
from ...harness.poll import wait_until
from ...load.wrk import Wrk
from ...model import goal
from ...model.simulate import Twin, Work, closed_loop
from ...servers import ServerSpec, launch
from ...services.nginx import NginxProxy

#: The waiting each /io request does (seconds).
DELAY_S = 0.1
#: Seeds per prediction: the predicted rate is their median.
SEEDS = 3
#: wrk runs per case, and seconds per run.
RUNS = 5
SECONDS = 2


@dataclass(frozen=True)
class Case:
    """One server under one client: ``connections`` opened at once on ``path``."""

    label: str
    spec: ServerSpec
    path: str
    delay_s: float
    connections: int
    remedy: str = ""  # what evens the split, as the table names it ("" for none)
    #: nginx in front, with this upstream keep-alive pool (None: wrk on the server itself)
    pool: int | None = None

    @property
    def kept(self) -> bool:
        """Whether each upstream connection stays open for the run: wrk's own, or nginx's
        when its pool holds as many as wrk opens (a smaller pool closes the rest once
        answered, and opens new ones, which either worker may accept)."""
        return self.pool is None or self.pool >= self.connections


def _cases() -> tuple[Case, ...]:
    gthread = ServerSpec("gthread", workers=2, threads=8)
    asgi = ServerSpec("asgi", workers=2)
    reuse = (("REUSE_PORT", "1"),)
    io, cpu = f"/io?delay={DELAY_S:g}", f"/prime/{MIXED_PRIME}"
    return (
        Case("gthread -w2 --threads 8", gthread, io, DELAY_S, 16),
        Case("gthread -w2 --threads 8", replace(gthread, env=reuse), io, DELAY_S, 16,
             "REUSE_PORT=1"),
        Case("gthread -w2 --threads 8", gthread, io, DELAY_S, 100, "100 connections"),
        Case("asgi -w2", asgi, cpu, 0.0, 8),
        Case("asgi -w2", replace(asgi, env=reuse), cpu, 0.0, 8, "REUSE_PORT=1"),
        Case("asgi -w2", asgi, cpu, 0.0, 32, "32 connections"),
        Case("gthread -w2 --threads 8", gthread, io, DELAY_S, 16, "nginx, keepalive 32",
             pool=32),
        Case("gthread -w2 --threads 8", gthread, io, DELAY_S, 16, "nginx, keepalive 4",
             pool=4),
    )


CASES = _cases()


def split(workers: list[int], port: int, *, open_only: bool = True) -> list[int]:
    """Each worker's TCP connections on ``port``, most first: those still open both ways
    (``open_only``), else every one it still holds, a connection the client has closed
    (CLOSE_WAIT) whose queued request the worker has yet to answer included."""
    counts = []
    for pid in workers:
        try:
            held = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            held = []
        counts.append(sum(1 for c in held if c.laddr.port == port and (
            c.status == psutil.CONN_ESTABLISHED if open_only else c.status != psutil.CONN_LISTEN)))
    return sorted(counts, reverse=True)


def run_case(case: Case, seconds: int = SECONDS, runs: int = RUNS) -> list[dict]:
    """One case on a fresh server, ``runs`` wrk runs one after another (which worker wakes
    first differs from run to run): each run's split, rate, bound and twin's rate."""
    rows = []
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(launch(case.spec))
        url = server.url if case.pool is None else stack.enter_context(
            NginxProxy(server.port, keepalive=case.pool)).url
        workers = server.worker_pids()
        meter = CpuMeter({"server": server.processes})

        def accepted() -> list[int] | None:
            # every connection wrk (or nginx, for wrk's) opened; where nginx's come and
            # go, a moment's split once it has opened half as many
            counts = split(workers, server.port)
            if case.kept:
                return counts if sum(counts) == case.connections else None
            return counts if 2 * sum(counts) >= case.connections else None

        for run in range(1, runs + 1):
            # the last run's connections closed, and their queued requests answered: wrk
            # stops with a backlog queued at a worker that holds many (95 connections on 8
            # threads: 1.2 s of it), which the next run would otherwise wait behind
            wait_until(lambda: not sum(split(workers, server.port, open_only=False)), 30,
                       "the last run's connections closed and answered")
            with Wrk(url + case.path, case.connections, seconds) as wrk:
                meter.open()
                held = wait_until(accepted, 10, "every wrk connection accepted")
                summary = wrk.result()
                meter.close()
            rows.append(_row(case, held, summary, meter.seconds("server")) | {"run": run})
    return rows


def _row(case: Case, held: list[int], summary: dict, server_cpu_s: float) -> dict:
    answered = summary["requests"]
    cpu_s = server_cpu_s / max(1, answered)
    twin = Twin.of(case.spec.model, workers=case.spec.workers, threads=case.spec.threads,
                   connections=case.spec.worker_connections, cores=usable_cores(),
                   server=case.spec.server)
    work = Work(cpu_s, case.delay_s)
    spread = goal.capacity(twin, work)
    bound = min(spread, case.connections / (case.delay_s + cpu_s))
    answers = sorted(summary["by"].values(), reverse=True)
    if not case.kept:  # connections that come and go: each request by the answers' split
        twin = replace(twin, shares=tuple(n / max(1, answered) for n in answers)
                       + (0.0,) * (case.spec.workers - len(answers)))
    # the run as wrk measures it: from every connection's first request, the answers
    # before its stop (the first come one R after the start)
    predicted = statistics.median(
        closed_loop(twin, work, case.connections, duration=summary["duration_s"], warmup=0,
                    seed=seed, pinned=tuple(held) if case.kept else None).throughput
        for seed in range(1, SEEDS + 1))
    rps = answered / summary["duration_s"]
    errors = sum(summary["errors"].values())
    return {"label": case.label, "model": case.spec.model, "remedy": case.remedy,
            "pool": case.pool, "kept": case.kept,
            "path": case.path, "connections": case.connections, "split": held,
            "answers": answers + [0] * (case.spec.workers - len(answers)),
            "requests": answered, "errors": errors, "rps": rps, "cpu_ms": cpu_s * 1000,
            "bound_rps": bound, "fidelity": rps / bound, "predicted_rps": predicted,
            "p50_ms": summary["latency_ms"]["p50"], "p99_ms": summary["latency_ms"]["p99"]}


def observe(seconds: int = SECONDS, runs: int = RUNS,
            cases: tuple[Case, ...] = CASES) -> list[dict]:
    """Every case's runs, one case after another (they share the cores)."""
    return [row for case in cases for row in run_case(case, seconds, runs)]
