"""Steps 3 and 4 with a goal: measure the leanest configurations the twin says meet it,
advise the first whose measurement does, and say why in the lab's terms.

The plan (:mod:`.goal`) ranks every configuration; the first ``measured`` of those the twin
says meet the goal (or the closest, when none does) are loaded at R with open traffic
(:mod:`.atrate`). The first measured to meet the goal is advised, and only it is loaded
past R, at its predicted headroom: "meets p99 ≤ 200 ms up to 340 requests/s; predicted
355". When none does, the closest measured is named with what it missed, and where the
twin says the goal would be met (:func:`.goal.elsewhere`), labelled as a prediction.
"""

from __future__ import annotations

from pathlib import Path

from ..harness.machine import cores_here
from ..model.goal import Goal
from .atrate import AtRate, measure_at_rate
from .dbwatch import Budget, budget
from .goal import MAX_CORES, Plan, elsewhere, plan, with_headroom
from .predict import Profile
from .recommend import CPU_BOUND_WAIT
from .target import Target


def advise(args, knobs: dict, target: Target, profile: Profile, excluded: dict[str, str],
           cores: int, step, *, measuring: bool = True) -> dict:
    """advice.json's goal-specific content: the goal, every plan (the measured ones with
    their runs), the recommendation, and where the goal would be met if not here.
    ``measuring`` False: ``cores`` are not this machine's, so nothing is measured and the
    leanest the twin says meets the goal is advised, as a prediction."""
    goal: Goal = args.goal
    db = budget()  # DATABASE_URL's, which the app reads too
    plans = plan(profile, goal, cores=cores, kind=target.kind, memory=args.memory, db=db,
                 pool=args.db_pool)
    meeting = [p for p in plans if p.meets]
    # none meets it: the closest, the lowest p99 (past capacity: the most capacity) first
    closest = sorted(plans, key=lambda p: (p.forecast.p99_s, -p.capacity_rps))
    shortlist = [with_headroom(p, profile, goal, cores)
                 for p in (meeting or closest)[:knobs["measured"] if measuring else 1]]
    if not measuring:
        return predicted(args, target, plans, shortlist[0], profile, cores, excluded, db)
    measured: dict[str, AtRate] = {}
    chosen = None
    for p in shortlist:
        step(f"measuring {p.candidate.label} at {goal.rate:g} requests/s")
        at = measure_at_rate(p.candidate, target, goal, seconds=knobs["rate_s"],
                             timeout=args.timeout,
                             headroom_rps=None if chosen else p.headroom_rps)
        measured[p.candidate.label] = at
        if chosen is None and at.meets:
            chosen = p
    closest = chosen or min(shortlist, key=lambda p: _p99(measured[p.candidate.label]))
    where = _where(chosen is not None, profile, goal, cores, target)
    at = measured[closest.candidate.label]
    by_label = {p.candidate.label: p for p in shortlist}
    return {
        **_goal(goal, cores, measured=True, db=db, pool=args.db_pool),
        "candidates": [plan_row(by_label.get(p.candidate.label, p),
                                measured.get(p.candidate.label)) for p in plans],
        "recommended": recommended(
            closest, target, meets=chosen is not None, measured_rps=at.headroom_rps,
            refused_rps=at.refused_rps,
            reasons=reasons(closest, at, plans, shortlist, measured, profile, goal, cores,
                            excluded, where, db=db, pool=args.db_pool)),
        "elsewhere": where,
    }


def predicted(args, target: Target, plans: list[Plan], best: Plan, profile: Profile,
              cores: int, excluded: dict[str, str], db: Budget | None) -> dict:
    """The advice for cores not this machine's: the twin's, nothing measured."""
    goal: Goal = args.goal
    where = _where(best.meets, profile, goal, cores, target)
    c = best.candidate
    parts = [_profile_text(profile, cores),
             _plan_text(goal, plans, cores, db, args.db_pool),
             f"Predicted for {cores} cores, not measured: this machine has "
             f"{cores_here()}" + (f", the servers held to CPU {','.join(map(str, target.cpus))}"
                                  if target.cpus else "")
             + ". Run the advisor where the app will run (or with as many cores) to measure "
             "it."]
    if best.meets:
        parts.append(f"The leanest that meets it: {c.label} ({_size(best)}), predicted p99 "
                     f"{best.forecast.p99_s * 1000:.0f} ms, and the goal's p99 up to "
                     f"{best.headroom_rps:.0f} requests/s.")
    else:
        parts.append(f"None meets it on {cores} cores; the closest is {c.label}.")
        parts.append(elsewhere_text(where, goal, cores))
    parts += _watch(best, excluded)
    return {
        **_goal(goal, cores, measured=False, db=db, pool=args.db_pool),
        "candidates": [plan_row(best if p.candidate == c else p, None) for p in plans],
        "recommended": recommended(best, target, meets=best.meets, measured_rps=None,
                                   refused_rps=None,
                                   reasons=" ".join(part for part in parts if part)),
        "elsewhere": where,
    }


def _where(met: bool, profile: Profile, goal: Goal, cores: int, target: Target) -> dict | None:
    """Where the twin says the goal would be met, when it is not met here."""
    return None if met else elsewhere(profile, goal, cores=cores, kind=target.kind)


def _goal(goal: Goal, cores: int, *, measured: bool, db: Budget | None,
          pool: int | None) -> dict:
    database = None if db is None else {
        "allowed": db.allowed, "max_connections": db.max_connections, "reserved": db.reserved,
        "pool": pool}
    return {"goal": {"rate_rps": goal.rate, "p99_ms": goal.p99_s * 1000,
                     "p50_ms": None if goal.p50_s is None else goal.p50_s * 1000,
                     "text": str(goal), "cores": cores, "measured": measured,
                     "database": database}}


def recommended(p: Plan, target: Target, *, meets: bool, measured_rps: float | None,
                refused_rps: float | None, reasons: str) -> dict:
    """advice.json's recommendation: the configuration, how to run it, its headroom."""
    c = p.candidate
    chdir = None if Path(target.chdir) == Path.cwd().resolve() else target.chdir
    return {
        "label": c.label, "server": c.server, "worker_class": c.worker_class,
        "workers": c.workers, "threads": c.threads,
        "worker_connections": c.worker_connections, "meets": meets,
        "command": c.command(target.app, chdir),
        "conf_lines": [f'wsgi_app = "{target.app}"', *c.conf_lines()] if c.conf_lines() else [],
        "headroom": {"predicted_rps": p.headroom_rps, "measured_rps": measured_rps,
                     "refused_rps": refused_rps},
        "reasons": reasons,
    }


def _p99(at: AtRate) -> tuple[int, float]:
    """How far a measurement at R missed: requests not answered in time, then p99."""
    run = at.at_goal
    missed = run.scheduled - run.good  # a request not answered in time is worse than any p99
    return (missed, run.p99_ms if run.p99_ms is not None else float("inf"))


def plan_row(p: Plan, at: AtRate | None) -> dict:
    c, f = p.candidate, p.forecast
    return {
        "label": c.label, "server": c.server, "worker_class": c.worker_class,
        "workers": c.workers, "threads": c.threads, "worker_connections": c.worker_connections,
        "slots": "∞" if c.slots == float("inf") else int(c.slots), "note": c.note,
        "memory_mb": p.prediction.memory_mb, "risk": p.prediction.risk,
        "over_memory": p.over_memory,
        "db_connections": None if p.db_connections in (None, float("inf")) else p.db_connections,
        "over_db": p.over_db,
        "predicted": {"p50_ms": _ms(f.p50_s), "p99_ms": _ms(f.p99_s), "meets": p.meets,
                      "headroom_rps": p.headroom_rps},
        "measured": at.as_row() if at else None,
    }


def _ms(seconds: float) -> float | None:
    """Milliseconds, or None past the capacity (an infinite percentile is not JSON)."""
    return None if seconds == float("inf") else seconds * 1000


def reasons(chosen: Plan, at: AtRate, plans: list[Plan], shortlist: list[Plan],
            measured: dict[str, AtRate], profile: Profile, goal: Goal, cores: int,
            excluded: dict[str, str], where: dict | None, *, db: Budget | None = None,
            pool: int | None = None) -> str:
    """One paragraph: the profile, the goal, what the twin and the measurement said."""
    c, run = chosen.candidate, at.at_goal
    parts = [_profile_text(profile, cores), _plan_text(goal, plans, cores, db, pool)]
    for p in shortlist:
        if p is chosen:
            break
        if not p.meets:
            continue
        miss = measured[p.candidate.label].at_goal
        parts.append(f"{p.candidate.label} was predicted to meet it (p99 "
                     f"{p.forecast.p99_s * 1000:.0f} ms) but measured {_run_text(miss)}: the "
                     "measurement refutes it.")
    if at.meets:
        parts.append(f"The leanest that does, measured: {c.label} ({_size(chosen)}), "
                     f"predicted p99 {chosen.forecast.p99_s * 1000:.0f} ms, measured "
                     f"{_run_text(run)} (open traffic, each latency from when the request was "
                     "due).")
        parts.append(headroom_text(chosen, at))
    else:
        parts.append(f"No configuration measured meets it on this machine's {cores} cores: "
                     f"the closest, {c.label}, measured {_run_text(run)}.")
        parts.append(elsewhere_text(where, goal, cores))
    parts += _watch(chosen, excluded)
    return " ".join(part for part in parts if part)


def _profile_text(profile: Profile, cores: int) -> str:
    text = (f"A request takes R = {profile.latency_s * 1000:.0f} ms, of which S_cpu = "
            f"{profile.cpu_s * 1000:.1f} ms is CPU: {profile.wait_fraction:.0%} of it waits.")
    for found in profile.stalls:
        text += f" {found.asyncio_fix()}."
    if profile.wait_fraction < CPU_BOUND_WAIT and profile.cpu_s > 0:
        text += (f" The app is CPU-bound: {cores} cores answer at most cores ÷ S_cpu ≈ "
                 f"{cores / profile.cpu_s:.0f} requests/s whatever the worker class, and each "
                 f"worker's one GIL at most 1 ÷ S_cpu ≈ {1 / profile.cpu_s:.0f}.")
    return text


def _plan_text(goal: Goal, plans: list[Plan], cores: int, db: Budget | None = None,
               pool: int | None = None) -> str:
    meeting = sum(p.meets for p in plans)
    over = sum(p.over_memory for p in plans)
    text = (f"The goal is {goal}. Each configuration's simulated twin (Poisson arrivals at "
            f"{goal.rate:g}/s; each request S_cpu of Python, then R − S_cpu of waiting) "
            f"predicts its p50 and p99 there: {meeting} of the {len(plans)} configurations "
            f"tried meet it on {cores} cores"
            + (f" ({over} left out for the memory budget)." if over else "."))
    return text + database_text(plans, db, pool)


def database_text(plans: list[Plan], db: Budget | None, pool: int | None) -> str:
    """The database budget, and the configurations it refused, or "" without a database."""
    if db is None:
        return ""
    refused = [p for p in plans if p.over_db]
    each = f"its pool of {pool}" if pool else "one per thread or greenlet (no --db-pool given)"
    text = (f" The database allows the app {db.allowed} connections (max_connections "
            f"{db.max_connections} less {db.reserved} reserved); a configuration may hold "
            f"workers × {each}")
    if not refused:
        return text + ": every one fits."
    worst = max(refused, key=lambda p: p.db_connections)
    many = ("unbounded" if worst.db_connections == float("inf")
            else f"{worst.db_connections:.0f}")
    return (text + f": {len(refused)} would hold more and are refused (the most, "
            f"{worst.candidate.label}: {many}). Size the pools to fit (workers × pool ≤ "
            f"{db.allowed}), or put PgBouncer in front.")


def _size(p: Plan) -> str:
    c = p.candidate
    return (f"{c.workers} process{'es' * (c.workers > 1)}, "
            f"{p.prediction.memory_mb or 0:.0f} MiB of workers")


def _watch(p: Plan, excluded: dict[str, str]) -> list[str]:
    return ([f"Watch: {p.prediction.risk}."] if p.prediction.risk else []) + [
        f"Not advised, {model}: {why}." for model, why in excluded.items()]


def _run_text(run) -> str:
    missed = run.scheduled - run.good
    text = (f"p99 {run.p99_ms:.0f} ms, p50 {run.p50_ms:.0f} ms" if run.p99_ms is not None
            else "no answer")
    return text + (f", {missed} of {run.scheduled} requests not answered 2xx in time"
                   if missed else f" at {run.achieved_rps:.0f}/s achieved")


def headroom_text(chosen: Plan, at: AtRate) -> str:
    """"Meets the goal up to X requests/s measured (not at Y); predicted Z."""
    predicted = (f"predicted {chosen.headroom_rps:.0f}" if chosen.headroom_rps
                 else "no prediction")
    refused = f" (not at {at.refused_rps:.0f})" if at.refused_rps else ""
    return (f"It meets the goal up to {at.headroom_rps:.0f} requests/s measured{refused}; "
            f"{predicted}.")


def elsewhere_text(where: dict | None, goal: Goal, cores: int) -> str:
    """Where the twin says the goal would be met: a prediction, said as one."""
    if not where:
        return ""
    said = []
    if where["cores"]:
        said.append(f"{where['cores']} cores would meet it")
    if where["hosts"]:
        said.append(f"{where['hosts']} hosts of {cores} cores behind nginx, each running "
                    f"{where['host_config']} (up to {where['host_headroom_rps']:.0f} "
                    f"requests/s each), would share {goal.rate:g}/s")
    if not said:
        return (f"No number of cores or hosts meets it: a lone request already takes "
                f"{where['lone_ms']:.0f} ms, longer than the goal allows; the app itself must "
                "get faster." if where["lone_ms"] > goal.p99_s * 1000 or (
                    goal.p50_s is not None and where["lone_ms"] > goal.p50_s * 1000) else
                f"The twin finds no configuration that meets it up to {MAX_CORES} cores.")
    return "Predicted, not measured: " + ", or ".join(said) + "."
