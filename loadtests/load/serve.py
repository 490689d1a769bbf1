"""Serve a spec under a load and meter it: the one run the matrix's cells and the advisor share.

:func:`serve_and_load` starts Locust first (it boots in about a second and waits at its
gate), then the server, runs the load and meters the CPU of the server and of Locust over
the measured window (psutil), and stops and reaps everything on every path. What else a
run needs -- services beside the server, a proxy in front, slow clients, a tracer, timings
before and after -- comes as :class:`Part` objects, each hooking the steps it needs; adding
one touches no other part and not this loop.

The steps, in order, each calling every part's hook in the parts' order:

1. ``enter``: before the server starts (services whose addresses the server needs);
2. the server starts, with every part's :meth:`Part.env`;
3. ``ready``: the server answers (services ready, a proxy started, S timed);
4. ``before_load``: just before the gate opens (slow clients connect);
5. the load runs, inside every part's :meth:`Part.during`, metered with its meters;
6. ``after_load``: the load is over, the server still up (logs read, timings again);
7. the server stops (its quick signal, SIGKILL :data:`STOP_GRACE_S` later), then every
   part's context (``enter``'s stack) unwinds.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ..harness.cpu import CpuMeter
from ..harness.procs import tree
from ..servers import Server, ServerSpec, launch
from .locustrun import Load, LocustRun, Summary

#: Seconds a server gets to quit before SIGKILL, once its load is over: gunicorn's quick
#: shutdown (SIGQUIT). A worker busy in is_prime under gthread, gevent or asgi acts on SIGQUIT
#: only when the prime ends (measured: 6-11 s for four 1.6 s primes in flight); nothing the
#: run measures is left to wait for, and every process is reaped.
STOP_GRACE_S = 0.3


class Part:
    """One piece of a served load: every hook does nothing unless a part says otherwise."""

    def env(self) -> tuple[tuple[str, str], ...]:
        """Variables added to the server's environment."""
        return ()

    def locust_flags(self) -> tuple[str, ...]:
        """Flags added to the locustfile's command line."""
        return ()

    def enter(self, run: Run, stack: contextlib.ExitStack) -> None:
        """Before the server starts; what it enters in ``stack`` stops after the server."""

    def ready(self, run: Run, stack: contextlib.ExitStack) -> None:
        """The server answers; the load has not begun."""

    def before_load(self, run: Run, stack: contextlib.ExitStack) -> None:
        """Just before the load's gate opens."""

    def meters(self) -> dict[str, Callable[[], list[psutil.Process]]]:
        """Process groups whose CPU is metered over the window, by name."""
        return {}

    def during(self, run: Run) -> contextlib.AbstractContextManager:
        """A context the load runs inside."""
        return contextlib.nullcontext()

    def after_load(self, run: Run) -> None:
        """The load is over; the server still runs."""


@dataclass
class Run:
    """One served load, as the parts see it: filled in step by step."""

    spec: ServerSpec
    load: Load
    out_dir: Path
    port: int
    url: str  # where the load goes: the server, or a proxy in front of it
    server: Server | None = None
    locust: LocustRun | None = None
    workers: list[int] = field(default_factory=list)  # the server's workers as the load began
    summary: Summary | None = None
    meter: CpuMeter | None = None


def serve_and_load(spec: ServerSpec, load: Load, out_dir: Path, *, port: int, url: str,
                   parts: Sequence[Part] = ()) -> Run:
    """Serve ``spec`` on ``port`` under ``load`` sent to ``url``; the finished :class:`Run`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    load = dataclasses.replace(load, extra=load.extra + tuple(
        flag for part in parts for flag in part.locust_flags()))
    run = Run(spec, load, out_dir, port, url)
    # Locust boots (about a second) while the services and the server do; it waits at its
    # gate until the parts are ready
    with LocustRun(load, url, out_dir / "locust", out_dir / "locust.log") as locust, \
            contextlib.ExitStack() as stack:
        run.locust = locust
        for part in parts:
            part.enter(run, stack)
        # after enter: a service's address is known once it runs
        spec = run.spec = dataclasses.replace(spec, env=spec.env + tuple(
            pair for part in parts for pair in part.env()))
        run.server = launch(spec, port=port, log_path=out_dir / f"{spec.server}.log")
        try:
            run.server.start()
            _load(run, parts, stack)
        finally:
            run.server.stop(grace=STOP_GRACE_S, graceful=False)
    return run


def _load(run: Run, parts: Sequence[Part], stack: contextlib.ExitStack) -> None:
    for part in parts:
        part.ready(run, stack)
    for part in parts:
        part.before_load(run, stack)
    meters = {"server": run.server.processes,  # master, workers, offload pools, dirty workers
              "locust": lambda: tree(run.locust.proc.pid)}
    for part in parts:
        meters |= part.meters()
    run.meter = CpuMeter(meters)
    run.workers = run.server.worker_pids()
    with contextlib.ExitStack() as during:
        for part in parts:
            during.enter_context(part.during(run))
        run.summary = run.locust.wait(run.meter)
    for part in parts:
        part.after_load(run)
