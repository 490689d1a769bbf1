"""One open run against a served app: the open-loop generator's command and its JSON summary
(:mod:`loadtests.load.openloop`, a process of its own), the schedule of due times it draws
(which the twin replays), each worker's share of the answers, and a run metered on the
server's side -- its CPU per answer (psutil) and its threads' wait for a core
(``schedstat``)."""

from __future__ import annotations

import json
import subprocess

from ...harness.cpu import CpuMeter
from ...load.arrivals import poisson
from ...load.openloop import command
from ...timeline.sampler import waited_s


def generator(url: str, duration: float, *flags: str) -> list[str]:
    """The open-loop generator's command: ``duration`` s on ``url``, its summary as JSON."""
    return command(url, "--duration", f"{duration:g}", *flags)


def generate(url: str, rate: float, duration: float, seed: int, *flags: str) -> dict:
    """One open run of the generator, in a process of its own: its JSON summary."""
    return summarised(url, duration, "--rate", _rate(rate), "--seed", str(seed), "--by", "pid",
                      *flags)


def summarised(url: str, duration: float, *flags: str) -> dict:
    """The generator run with ``flags`` for ``duration`` s, to its end: its JSON summary."""
    done = subprocess.run(generator(url, duration, *flags), capture_output=True, text=True,
                          timeout=duration + 60, check=True)
    return json.loads(done.stdout)


def _rate(rate: float) -> str:
    """The rate as the generator is given it (a tenth of a request a second)."""
    return f"{rate:.1f}"


def schedule(rate: float, duration: float, seed: int) -> list[float]:
    """The due times the generator draws for ``rate``, ``duration`` and ``seed``: the
    twin replays them.

    >>> schedule(10, 1.0, 1) == poisson(10.0, 1.0, seed=1)
    True
    """
    return poisson(float(_rate(rate)), duration, seed=seed)


def shares(summary: dict, processes: int) -> tuple[float, ...]:
    """Each worker's share of the answers, largest first (a worker that answered none: 0).

    >>> shares({"by": {"11": 30, "12": 10}}, 2)
    (0.75, 0.25)
    """
    counts = sorted(summary.get("by", {}).values(), reverse=True)[:processes]
    total = sum(counts) or 1
    return (*(count / total for count in counts), *(0.0,) * (processes - len(counts)))


def measured(server, url: str, rate: float, seconds: float, seed: int,
             *flags: str) -> tuple[dict, float]:
    """One open run on ``url`` with the server's CPU metered: the generator's summary, with
    the milliseconds its workers' threads waited in the kernel's run queue per answer
    (``run_queue_ms``: a core busy elsewhere, which the twin does not give a thread that
    wakes), and the server's CPU seconds per answer."""
    meter, workers = CpuMeter({"server": server.processes}), server.worker_pids()
    meter.open()
    queued = waited_s(workers)
    summary = generate(url, rate, seconds, seed, *flags)
    queued = waited_s(workers) - queued
    meter.close()
    answered = max(1, summary["answered"])
    return ({**summary, "run_queue_ms": queued * 1000 / answered},
            meter.seconds("server") / answered)
