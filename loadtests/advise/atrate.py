"""Step 3 with a goal: load a candidate with open traffic at the goal's rate, then at the
rate its twin says it holds up to.

The candidate's server serves the app; every path answers 2xx once per worker, and a short
open run at R warms it (its answers are not counted). Then the lab's open-loop generator
(:mod:`loadtests.load.openloop`, a process of its own: Poisson arrivals, each request's
latency from when it was due) offers R for the run's seconds, its routes in their shares.
The goal is met when every request was answered 2xx within the client's deadline and the
percentiles asked are within their bounds.

Then the headroom: the rate the twin predicted as the highest that still meets the goal is
offered too; if it met, a rate a step past it (:data:`PAST`), else the rate halfway back to
R. The measured headroom is the highest rate offered that met the goal: a check of the
prediction at its own edge, in at most three runs, not a search.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from dataclasses import dataclass

from ..load.openloop import command
from ..load.traffic import Traffic
from ..model.goal import Goal
from ..servers import ServerSpec, launch
from .measure import IDLE_TIMEOUT_S, spec_of, wait_idle
from .predict import Candidate
from .profile import Client, check_status
from .target import Target

#: The step past a predicted headroom that met the goal: 15 % more.
PAST = 1.15
#: Seconds of open traffic at R that warm the server before the measured runs.
WARM_S = 1.0


@dataclass(frozen=True)
class RateRun:
    """One open run: the rate offered, and what it measured (milliseconds)."""

    rate: float
    achieved_rps: float
    p50_ms: float | None
    p99_ms: float | None
    scheduled: int
    good: int  # answered 2xx within the deadline
    send_lag_p99_ms: float | None

    def meets(self, goal: Goal) -> bool:
        ms = (None if v is None else v / 1000 for v in (self.p50_ms, self.p99_ms))
        return self.good == self.scheduled and goal.met(*ms)


@dataclass(frozen=True)
class AtRate:
    """A candidate measured for a goal: the run at R first, then the headroom's."""

    runs: tuple[RateRun, ...]
    goal: Goal

    @property
    def at_goal(self) -> RateRun:
        return self.runs[0]

    @property
    def meets(self) -> bool:
        return self.at_goal.meets(self.goal)

    @property
    def headroom_rps(self) -> float | None:
        """The highest rate measured that met the goal (None: not even R)."""
        met = [run.rate for run in self.runs if run.meets(self.goal)]
        return max(met) if met else None

    @property
    def refused_rps(self) -> float | None:
        """The lowest rate measured that did not meet it (None: every one did)."""
        missed = [run.rate for run in self.runs if not run.meets(self.goal)]
        return min(missed) if missed else None

    def as_row(self) -> dict:
        return {"runs": [dataclasses.asdict(run) | {"meets": run.meets(self.goal)}
                         for run in self.runs],
                "meets": self.meets, "headroom_rps": self.headroom_rps,
                "refused_rps": self.refused_rps}


def offer(url: str, traffic: Traffic, rate: float, seconds: float,
          timeout: float, seed: int = 1) -> dict:
    """One open run of the generator on ``url``'s server, its requests drawn from
    ``traffic``: its JSON summary."""
    done = subprocess.run(command(url, "--rate", f"{rate:.3f}", "--duration", f"{seconds:g}",
                                  "--timeout", f"{timeout:g}", "--seed", str(seed),
                                  *traffic.flags()),
                          capture_output=True, text=True, timeout=seconds + timeout + 60,
                          check=True)
    return json.loads(done.stdout)


def as_run(rate: float, summary: dict) -> RateRun:
    latency = summary["latency_ms"]
    return RateRun(rate, summary["achieved_rps"], latency.get("p50"), latency.get("p99"),
                   summary["scheduled"], summary.get("good", 0),
                   summary["send_lag_ms"].get("p99"))


def measure_at_rate(candidate: Candidate, target: Target, goal: Goal, *, seconds: float,
                    timeout: float, headroom_rps: float | None) -> AtRate:
    """``candidate`` serving ``target`` at the goal's rate, then at ``headroom_rps`` (the
    twin's) and a step past or back (the module's plan)."""
    return serve_at_rate(spec_of(candidate, target), candidate.label, target, goal,
                         seconds=seconds, timeout=timeout, headroom_rps=headroom_rps)


def serve_at_rate(spec: ServerSpec, label: str, target: Target, goal: Goal, *,
                  seconds: float, timeout: float, headroom_rps: float | None) -> AtRate:
    """The server ``spec`` (``label``) at the goal's rate, and past it (:func:`measure_at_rate`)."""
    with launch(spec) as server:
        client = Client(server.port, timeout, target.traffic)
        try:
            for _ in range(spec.workers):
                for route in target.routes:
                    check_status(client, route, label)
        finally:
            client.close()

        def run(rate: float) -> RateRun:
            summary = offer(server.url, target.traffic, rate, seconds, timeout)
            wait_idle(server, timeout=IDLE_TIMEOUT_S)  # the next run starts from an empty queue
            return as_run(rate, summary)

        offer(server.url, target.traffic, goal.rate, WARM_S, timeout, seed=0)
        wait_idle(server, timeout=IDLE_TIMEOUT_S)
        runs = [run(goal.rate)]
        if runs[0].meets(goal) and headroom_rps and headroom_rps > goal.rate:
            runs.append(run(headroom_rps))
            runs.append(run(headroom_rps * PAST if runs[-1].meets(goal)
                            else (goal.rate + headroom_rps) / 2))
    return AtRate(tuple(runs), goal)
