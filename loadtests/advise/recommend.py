"""Step 4: choose among the measured candidates and say why, in the lab's terms.

The advice is the best-ranked prediction (highest ceiling; among equals no frozen loop,
less memory, the simpler model) that its measurement backs: no failures, measured within
:data:`AGREE` of predicted, and not far below the best measured throughput
(:data:`NEAR_BEST`). A measurement can refute a prediction (the mixed example's gthread
reached 0.70-0.82 of its closed-network ceiling on the 2-vCPU VM: the GIL's convoy,
:func:`convoy`) and the next candidate is taken; when no
measurement backs one, the best measured throughput is advised and the paragraph says
that the model does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from .measure import Measured
from .predict import FREEZE_S, Prediction, Profile

#: Measured ÷ predicted within this band: the measurement backs the prediction.
AGREE = (0.8, 1.2)
#: A backed candidate this far below the best measured throughput is not advised.
NEAR_BEST = 0.75
#: Below this waiting share the app is CPU-bound: slots cannot help, only cores can.
CPU_BOUND_WAIT = 0.5


@dataclass(frozen=True)
class Trial:
    """A candidate's prediction and, once loaded, its measurement."""

    prediction: Prediction
    measured: Measured | None = None


    @property
    def agrees(self) -> bool:
        low, high = AGREE
        return (self.measured is not None and self.measured.failures == 0
                and low <= self.measured.fidelity <= high)


def choose(trials: list[Trial]) -> Trial:
    """The recommended trial among the measured ones (``trials`` in predicted rank order)."""
    measured = [t for t in trials if t.measured]
    clean = [t for t in measured if t.measured.failures == 0] or measured
    top = max(clean, key=lambda t: t.measured.rps)
    backed = [t for t in trials
              if t.agrees and t.measured.rps >= NEAR_BEST * top.measured.rps]
    return backed[0] if backed else top


def command(trial: Trial, app: str, chdir: str | None) -> str:
    return trial.prediction.candidate.command(app, chdir)


def conf_lines(trial: Trial, app: str) -> list[str]:
    """gunicorn.conf.py's lines; none when another server is advised."""
    lines = trial.prediction.candidate.conf_lines()
    return [f'wsgi_app = "{app}"', *lines] if lines else []


def reasons(chosen: Trial, trials: list[Trial], profile: Profile, *, cores: int,
            users: int, excluded: dict[str, str] | None = None) -> str:
    """One paragraph: what the profile says, why this configuration, what it costs."""
    c = chosen.prediction.candidate
    r_ms, s_ms = profile.latency_s * 1000, profile.cpu_s * 1000
    knee = profile.knee(cores)
    parts = [f"A request takes R = {r_ms:.0f} ms, of which S_cpu = {s_ms:.1f} ms is CPU: "
             f"{profile.wait_fraction:.0%} of it waits."]
    parts += [f"{found.asyncio_fix()}." for found in profile.stalls]
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
            f"slots ÷ R)" + (", and each sync worker holds one request while it waits."
                             if any(t.prediction.candidate.worker_class == "sync"
                                    for t in trials) else "."))
    # another server: its name first, then its model in the lab's terms
    who = "" if c.server == "gunicorn" else f"{c.label}, "
    if c.model == "sync":
        parts.append(f"{c.workers} sync workers: one process per core"
                     if c.workers == cores else f"{c.workers} sync workers")
    elif c.model == "gthread":
        runs = ("the processes (= cores) run the CPU part" if c.workers == cores else
                f"its {c.workers} process{'es' * (c.workers > 1)} run the CPU part on "
                f"{c.workers} of the {cores} cores")
        parts.append(f"{who}{c.workers} workers × {c.threads} threads = {c.slots:.0f} slots on "
                     f"{c.workers} processes: the slots hold the waiting, {runs}")
    else:
        parts.append(f"{who}{c.workers} {c.model} workers, one per core: each event loop "
                     f"holds every waiting request"
                     + (", and with --reuse-port each worker has its own listening socket, "
                        "so the kernel spreads the connections over them (a gevent worker "
                        "accepts up to 100 pending connections at once and keeps them)"
                        if c.reuse_port else ""))
    chosen_m = chosen.measured
    parts[-1] += (f"; measured {chosen_m.rps:.1f} requests/s against a predicted "
                  f"{chosen_m.predicted_rps:.1f} (fidelity {chosen_m.fidelity:.2f}) at "
                  f"{users} users, {chosen.prediction.memory_mb:.0f} MiB of workers."
                  + database_limit(chosen, users))
    if not chosen.agrees:
        parts.append(f"No measurement agreed with its prediction within {AGREE[0]}–{AGREE[1]}: "
                     f"the lab's model does not fit this app on this machine, so this is "
                     f"simply the best measured throughput; look at the candidates' table.")
    refuted = [t for t in trials[:trials.index(chosen)] if t.measured and not t.agrees]
    for t in refuted:
        parts.append(f"{t.prediction.candidate.label} ranked higher but measured "
                     f"{t.measured.rps:.1f} requests/s, {t.measured.fidelity:.2f} of its "
                     f"prediction: the measurement refutes it.{database_limit(t, users)}"
                     f"{convoy(t, profile)}")
    if chosen.prediction.risk:
        parts.append(f"Watch: {chosen.prediction.risk}.")
    for model, why in (excluded or {}).items():
        parts.append(f"Not advised, {model}: {why}.")
    default = next((t for t in trials if t.measured and "default" in t.prediction.candidate.note
                    and t is not chosen), None)
    if default:
        d = default.measured
        parts.append(f"gunicorn's default advice, {default.prediction.candidate.label} "
                     f"(2 × cores + 1), measured {d.rps:.1f} requests/s with "
                     f"{default.prediction.memory_mb:.0f} MiB.")
    losers = [t for t in trials if t.measured and t is not chosen and t is not default
              and t not in refuted]
    for t in losers:
        m = t.measured
        parts.append(f"{t.prediction.candidate.label} measured {m.rps:.1f} requests/s "
                     f"(fidelity {m.fidelity:.2f}).{database_limit(t, users)}")
    return " ".join(parts)


def convoy(trial: Trial, profile: Profile) -> str:
    """Why a gthread measurement fell short of its prediction on an app with CPU work: the
    GIL's convoy (the matrix's convoy lesson), or "" for any other."""
    c, m = trial.prediction.candidate, trial.measured
    if (c.worker_class != "gthread" or m is None or trial.agrees or m.fidelity > AGREE[0]
            or profile.cpu_s < FREEZE_S or m.db is not None):
        return ""
    return (f" Its processes ran {m.busiest_pct:.0f} % of a core at most: the GIL's convoy. "
            "Each request's threads are woken several times a request (gthread's main thread "
            "before the request and after its answer, the request's thread when it was idle, "
            "and after each wait in the view) and each time take the GIL back only after the "
            "computing thread's switch interval (5 ms) or its burst, a wait the model's "
            "queue does not count (the lab's convoy lesson measures it); more threads "
            "lengthen the queue it waits in. "
            "A shorter SWITCH_INTERVAL shrinks it; gevent has none (one thread), and granian's "
            "WSGI threads fewer (its sockets are read and written by Rust threads, outside "
            "the GIL: the lab's servers lesson).")


#: More new database connections than this share of requests: the pool does not keep them.
CHURN = 0.2


def database_limit(trial: Trial, users: int) -> str:
    """Why a measurement fell short at the database (:mod:`.dbwatch`), or "" when it did not
    or nothing was watched."""
    c, db = trial.prediction.candidate, trial.measured.db if trial.measured else None
    if db is None:
        return ""
    churn = ""
    if db.sessions > CHURN * trial.measured.requests:
        churn = (f" It opened {db.sessions} new database connections for "
                 f"{trial.measured.requests} requests: the app's pool closes connections "
                 "instead of keeping them (psycopg2's ThreadedConnectionPool keeps only "
                 "`minconn` idle ones), so most requests pay for a new connection — a new "
                 "PostgreSQL backend each.")
    if trial.agrees:
        return churn
    if db.at_limit:
        return (f" It held {db.peak} database connections at the peak, all the server "
                f"allows (max_connections {db.max_connections}, {db.reserved} kept for "
                f"superusers), where its {c.slots:.0f} slots could open up to "
                f"{min(users, c.slots):.0f}: the rest waited or failed. Size the pools to "
                "fit (workers × pool ≤ what the server allows), or use fewer threads, or "
                "PgBouncer." + churn)
    if db.peak < 0.8 * min(users, c.slots):
        return (f" It held at most {db.peak} database connections for its "
                f"{min(users, c.slots):.0f} busy slots: the app's pool "
                f"(≈ {db.peak / c.workers:.0f} a worker) is smaller than the slots, so "
                "requests queued for a connection." + churn)
    return churn
