"""Step 4: choose among the measured candidates and say why, in the lab's terms.

The best measured throughput wins (without failures); measurements within
:data:`~loadtests.advise.predict.TIE` of each other count as equal, and then the better
predicted rank wins (less memory, no frozen loop, the simpler model).
"""

from __future__ import annotations

from dataclasses import dataclass

from .measure import Measured
from .predict import TIE, Prediction, Profile

#: Below this waiting share the app is CPU-bound: slots cannot help, only cores can.
CPU_BOUND_WAIT = 0.5


@dataclass(frozen=True)
class Trial:
    """A candidate's prediction and, once loaded, its measurement."""

    prediction: Prediction
    measured: Measured | None = None


def choose(trials: list[Trial]) -> Trial:
    """The recommended trial among the measured ones (``trials`` in predicted rank order)."""
    measured = [t for t in trials if t.measured]
    clean = [t for t in measured if t.measured.failures == 0] or measured
    best = max(t.measured.rps for t in clean)
    return next(t for t in clean if t.measured.rps >= (1 - TIE) * best)


def command(trial: Trial, app: str, chdir: str | None) -> str:
    where = ["--chdir", chdir] if chdir else []
    return " ".join(["gunicorn", *trial.prediction.candidate.flags(), *where, app])


def conf_lines(trial: Trial, app: str) -> list[str]:
    return [f'wsgi_app = "{app}"', *trial.prediction.candidate.conf_lines()]


def reasons(chosen: Trial, trials: list[Trial], profile: Profile, *, cores: int,
            users: int) -> str:
    """One paragraph: what the profile says, why this configuration, what it costs."""
    c = chosen.prediction.candidate
    r_ms, s_ms = profile.latency_s * 1000, profile.cpu_s * 1000
    knee = profile.knee(cores)
    parts = [f"A request takes R = {r_ms:.0f} ms, of which S_cpu = {s_ms:.1f} ms is CPU: "
             f"{profile.wait_fraction:.0%} of it waits."]
    if profile.wait_fraction < CPU_BOUND_WAIT:
        parts.append(
            f"The app is CPU-bound: the GIL lets one process run Python on one core at a time, "
            f"so {cores} cores serve at most {cores} ÷ S_cpu ≈ {cores / profile.cpu_s:.0f} "
            f"requests/s whatever the worker class; threads and greenlets add no CPU. One "
            f"process per core reaches it; only more cores, or moving the CPU work out of the "
            f"request (the lab's offload backends: a process pool, dirty workers, Celery) "
            f"raise it.")
    else:
        parts.append(
            f"On {cores} cores about cores × R ÷ S_cpu ≈ {knee:.0f} requests in progress keep "
            f"every core busy; fewer slots leave cores idle while requests wait (Little's law: "
            f"slots ÷ R), and each sync worker holds one request while it waits.")
    if c.worker_class == "sync":
        parts.append(f"{c.workers} sync workers: one process per core"
                     if c.workers == cores else f"{c.workers} sync workers")
    elif c.worker_class == "gthread":
        parts.append(f"{c.workers} workers × {c.threads} threads = {c.slots:.0f} slots on "
                     f"{c.workers} processes: the slots hold the waiting, the processes "
                     f"(= cores) run the CPU part")
    else:
        parts.append(f"{c.workers} {c.worker_class} workers, one per core: each event loop "
                     f"holds every waiting request")
    chosen_m = chosen.measured
    parts[-1] += (f"; measured {chosen_m.rps:.1f} requests/s against a predicted "
                  f"{chosen_m.predicted_rps:.1f} (fidelity {chosen_m.fidelity:.2f}) at "
                  f"{users} users, {chosen.prediction.memory_mb:.0f} MiB of workers.")
    if chosen.prediction.risk:
        parts.append(f"Watch: {chosen.prediction.risk}.")
    default = next((t for t in trials if t.measured and "default" in t.prediction.candidate.note
                    and t is not chosen), None)
    if default:
        d = default.measured
        parts.append(f"gunicorn's default advice, {default.prediction.candidate.label} "
                     f"(2 × cores + 1), measured {d.rps:.1f} requests/s with "
                     f"{default.prediction.memory_mb:.0f} MiB.")
    losers = [t for t in trials if t.measured and t is not chosen and t is not default]
    for t in losers:
        m = t.measured
        parts.append(f"{t.prediction.candidate.label} measured {m.rps:.1f} requests/s "
                     f"(fidelity {m.fidelity:.2f}).")
    return " ".join(parts)
