"""``python -m loadtests.advise``: profile, predict, measure and recommend a configuration.

    python -m loadtests.advise --app examples.mixed:app --path /report --quick
    python -m loadtests.advise --chdir ~/mysite --app mysite.wsgi:application --path /api/items
    python -m loadtests.advise --app examples.waiting:app --path /lookup --rate 300 --p99 200

Without a goal it plans for ``--users`` and advises the highest measured ceiling; with
``--rate R --p99 MS`` (and ``--p50 MS``) it advises the leanest configuration that meets
the goal at R (:mod:`.goal`, measured by :mod:`.atrate`).

Exit status: 0 advised; 2 a mistake in what was asked (the app does not import, a path
answers 4xx/5xx, the app hangs), said in one line; 1 the measurement itself failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..harness.argtypes import add_presets, cpu_list, positive
from ..harness.machine import cores_here, machine_info
from ..harness.procs import run_main
from ..model.goal import Goal
from ..servers import ROOT
from . import forgoal, output
from .check import check
from .environment import MIN_GUNICORN, Environment, inspect
from .measure import as_row, measure
from .predict import Prediction, Profile, predict, ties
from .profile import PathProfile, profile_paths, serves_under
from .recommend import Trial, choose, command, conf_lines, reasons
from .target import BadInput, Target, redacted, resolve

#: Per preset: profile seconds per path; warm-up and measured seconds per candidate; seconds
#: of one-user timing on each candidate's server; worker classes measured (besides
#: gunicorn's default advice).
#: With a goal: seconds of each open run at a rate, and configurations measured at most.
PRESETS = {
    "quick": {"profile_s": 2.0, "warmup_s": 2.0, "duration_s": 5.0, "timing_s": 2.0,
              "classes": 2, "rate_s": 4.0, "measured": 2},
    "full": {"profile_s": 5.0, "warmup_s": 3.0, "duration_s": 15.0, "timing_s": 3.0,
             "classes": 3, "rate_s": 10.0, "measured": 3},
}
#: What else the app is served with, to check that it serves (and its memory): gunicorn's
#: other worker classes, and the other servers ("server interface", loadtests.servers).
OTHER_MODELS = {"wsgi": ("gthread", "gevent", "granian wsgi", "waitress wsgi"),
                "asgi": ("uvicorn asgi", "granian asgi")}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.advise",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--app",
                        help="your app as gunicorn names it: package.module:app (with "
                             "--check, the config's wsgi_app by default)")
    parser.add_argument("--path", action="append", required=True, dest="paths",
                        metavar="[METHOD ]PATH[=WEIGHT]",
                        help="a route to load, e.g. /api/items, or 'POST /api/items=1' "
                             "(repeat for more: the mix, by weight, 1 each by default)")
    parser.add_argument("--body", metavar="FILE",
                        help="the body of each POST, PUT or PATCH route")
    parser.add_argument("--header", action="append", default=[], dest="headers",
                        metavar="'NAME: VALUE'",
                        help="a header every request carries, e.g. an auth token (repeat)")
    parser.add_argument("--chdir", help="your project's folder (default: the current one)")
    parser.add_argument("--python", metavar="PATH",
                        help="your environment's interpreter (e.g. ~/proj/.venv/bin/python): it "
                             "imports and serves the app with its own packages and gunicorn "
                             f"({'.'.join(map(str, MIN_GUNICORN))} or later); the lab's "
                             "runs only the load (default: the lab's own)")
    add_presets(parser, quick="short windows, two worker classes measured (≤ 2 min)",
                full="longer windows, three worker classes measured")
    parser.add_argument("--users", type=positive(int), default=50,
                        help="concurrent users to plan for and load with (default %(default)s)")
    parser.add_argument("--rate", type=positive(float), metavar="R",
                        help="the goal's rate: requests a second at the peak (with --p99)")
    parser.add_argument("--p99", type=positive(float), metavar="MS",
                        help="the goal: p99 latency at --rate, milliseconds")
    parser.add_argument("--p50", type=positive(float), metavar="MS",
                        help="and p50 latency at --rate, milliseconds (optional)")
    parser.add_argument("--check", metavar="CONFIG",
                        help="with a goal: measure this gunicorn config file at it on this "
                             "machine, nothing else; exit 0 if it meets the goal, 1 if not")
    parser.add_argument("--cores", type=positive(int), metavar="N",
                        help="with a goal: plan for N cores, the machine the app will run on "
                             "(predicted; measured only where N is this machine's own)")
    parser.add_argument("--server-cpus", type=cpu_list, metavar="LIST", default=(),
                        help="hold every server the advisor starts to these CPUs (taskset's "
                             "list: 0 or 0,1), the load generator free to use the others; the "
                             "plan is for as many cores (a 1-core server on a 2-core machine)")
    parser.add_argument("--db-pool", type=positive(int), metavar="N",
                        help="with a goal and DATABASE_URL: the app's connection pool per "
                             "worker process, its most connections (default: one a slot)")
    parser.add_argument("--memory", type=positive(float), metavar="MIB",
                        help="with a goal: the workers' memory budget, MiB")
    parser.add_argument("--timeout", type=positive(float), default=10.0,
                        help="seconds a request may take before the app counts as hanging "
                             "(default %(default)s)")
    parser.add_argument("--out", type=Path,
                        help="report folder (default reports/advise-<timestamp>)")
    args = parser.parse_args(argv)
    if (args.rate is None) != (args.p99 is None):
        parser.error("a goal is --rate R and --p99 MS together")
    if not args.app and not args.check:
        parser.error("the following arguments are required: --app")
    for name in ("p50", "cores", "memory", "check", "db_pool"):
        if getattr(args, name) is not None and args.rate is None:
            parser.error(f"--{name.replace('_', '-')} is part of a goal: give --rate and "
                         "--p99 too")
    args.goal = None if args.rate is None else Goal(
        args.rate, args.p99 / 1000, None if args.p50 is None else args.p50 / 1000)
    return args


def mix(profiles: list[PathProfile], memory: dict[str, tuple[float, float]],
        shares: tuple[float, ...]) -> Profile:
    """The routes in their shares, as the load generators send them."""
    return Profile(statistics.fmean([p.latency_s for p in profiles], shares),
                   statistics.fmean([p.cpu_s for p in profiles], shares), memory,
                   tuple(p.loop_probe for p in profiles
                         if p.loop_probe and not p.loop_probe.yields))


def to_measure(ranked: list[Prediction], classes: int, cores: int) -> list[Prediction]:
    """The best of each worker class (another server's interface is a class of its own), for
    the best ``classes`` classes, then gunicorn's default advice (2 × cores + 1 sync workers)
    when the app is WSGI."""
    best: dict[str, Prediction] = {}
    for p in ranked:
        best.setdefault(p.candidate.served, p)
    chosen = list(best.values())[:classes]
    # fewer classes than asked (an ASGI app has one): the next best of any class
    chosen += [p for p in ranked if p not in chosen][:classes - len(chosen)]
    default = next((p for p in ranked if p.candidate.worker_class == "sync"
                    and p.candidate.workers == 2 * cores + 1), None)
    if default and default not in chosen:
        chosen.append(default)
    # the best of the other servers too, where its ceiling ties the best: measured beside
    peer = next((p for p in ranked if p.candidate.server != "gunicorn"), None)
    if peer and peer not in chosen and ties(peer, ranked[0].rps):
        chosen.append(peer)
    return chosen


def candidate_row(trial: Trial) -> dict:
    p, m = trial.prediction, trial.measured
    c = p.candidate
    return {
        "label": c.label, "server": c.server, "worker_class": c.worker_class,
        "workers": c.workers, "threads": c.threads, "worker_connections": c.worker_connections,
        "slots": "∞" if c.slots == float("inf") else int(c.slots), "note": c.note,
        "predicted_rps": m.predicted_rps if m else p.rps,
        "profile_predicted_rps": p.rps,
        "measured_rps": m.rps if m else None, "fidelity": m.fidelity if m else None,
        "memory_mb": p.memory_mb, "risk": p.risk,
        "measurement": as_row(m) if m else None,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.command = "python -m loadtests.advise " + shlex.join(
        redacted(sys.argv[1:] if argv is None else argv))
    knobs = PRESETS[args.preset]
    if args.check:
        return check(args, knobs["rate_s"])
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 150)
    here = cores_here()
    usable = len(args.server_cpus) if args.server_cpus else here.usable
    cores = args.cores or usable
    started = time.monotonic()
    out = args.out or ROOT / "reports" / f"advise-{dt.datetime.now():%Y%m%d-%H%M%S}"
    progress = Progress(TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                        console=console)
    try:
        with progress:
            task = progress.add_task(f"importing {args.app}", total=None)
            env = inspect(args.python)
            target = resolve(args.app, args.paths, args.chdir, args.body, args.headers,
                             args.server_cpus, args.python)
            progress.update(task, total=len(target.routes) + len(OTHER_MODELS[target.kind])
                            + (knobs["measured"] if args.goal else knobs["classes"] + 1))

            def step(text: str) -> None:
                progress.update(task, advance=1, description=text)

            profiles, profile, excluded = survey(args, knobs, target, step, env)
            if args.goal:
                advice = forgoal.advise(args, knobs, target, profile, excluded, cores, step,
                                        measuring=cores == usable)
            else:
                trials = ceiling_trials(args, knobs, target, profile, cores, out, step)
    except BadInput as error:
        print(f"advise: {error}", file=sys.stderr)
        return 2
    except (RuntimeError, TimeoutError, OSError) as error:
        print(f"advise: the measurement failed: {error}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    absent = [m for m in OTHER_MODELS[target.kind] if not env.serves(m)]
    if args.goal:
        advice = {**common(args, target, profiles, profile, excluded, cores, elapsed),
                  **advice}
    else:
        best = choose(trials)
        advice = build(args, target, profiles, profile, trials, best, excluded, cores, elapsed)
    advice["environment"] = {"python": env.python or sys.executable, "gunicorn": env.gunicorn,
                             "python_version": env.python_version, "not_installed": absent}
    if absent:
        line = env.add_line(absent)
        advice["recommended"]["reasons"] += f" {line[0].upper()}{line[1:]}."
    if args.goal:
        output.write(advice, out)
        console.print(output.goal_table(advice))
    else:
        output.write(advice, out)
        console.print(output.candidates_table(advice))
    console.print(f"[bold]advised:[/] {advice['recommended']['command']}")
    console.print(advice["recommended"]["reasons"])
    console.print(f"report: {out / 'report.md'}  ({advice['elapsed_s']:.0f} s)")
    return 0


def survey(args, knobs: dict, target: Target, step, env: Environment,
           ) -> tuple[list[PathProfile], Profile, dict[str, str]]:
    """Steps 1 and 2: each path's profile, then the app under each other model installed
    where it runs: the profiles, their mix with each model's worker memory, and the models
    left out, why."""
    profiles, memories = profile_paths(
        target, window_s=knobs["profile_s"], timeout=args.timeout,
        on_path=lambda path: step(f"profiling {path} (one worker, one user)"))
    excluded = {}
    for model in OTHER_MODELS[target.kind]:
        if not env.serves(model):
            step(f"{model}: not installed there")
            continue
        step(f"serving under {model}")
        served = serves_under(target, model, timeout=args.timeout, profiles=tuple(profiles))
        if isinstance(served, str):
            excluded[model] = served
        else:
            memories[model] = served
    return profiles, mix(profiles, memories, target.traffic.shares), excluded


def ceiling_trials(args, knobs: dict, target: Target, profile: Profile, cores: int,
                   out: Path, step) -> list[Trial]:
    """Without a goal: every candidate's ceiling at ``--users``, the best measured."""
    ranked = predict(profile, cores=cores, users=args.users, kind=target.kind)
    trials = {p: Trial(p) for p in ranked}
    for index, p in enumerate(to_measure(ranked, knobs["classes"], cores), 1):
        step(f"measuring {p.candidate.label}")
        trials[p] = Trial(p, measure(
            p.candidate, target, users=args.users, warmup=knobs["warmup_s"],
            duration=knobs["duration_s"], timing_s=knobs["timing_s"],
            timeout=args.timeout, cores=cores, held=profile.loop_blocked,
            out_dir=out / "runs" / f"{index:02d}-{p.candidate.label.replace(' ', '')}"))
    return list(trials.values())


def cpu_model() -> str:
    """The CPU's model name (Linux), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def common(args, target: Target, profiles: list[PathProfile], profile: Profile,
           excluded: dict[str, str], cores: int, elapsed: float) -> dict:
    """advice.json's content with a goal or without: the app, the machine, the profile."""
    return {
        "app": target.app, "kind": target.kind,
        "paths": [str(route) for route in target.routes],
        # the headers' names only: a token's value is not the report's to keep
        "traffic": {"shares": dict(zip([str(r) for r in target.routes],
                                       target.traffic.shares, strict=True)),
                    "body_file": target.traffic.body_file,
                    "headers": [name for name, _ in target.traffic.headers]},
        "chdir": target.chdir, "machine": {**machine_info(), "cpu_model": cpu_model(),
                                           "cores": str(cores_here()),
                                           "usable_cores": cores_here().usable},
        "command": args.command,
        "settings": {"preset": args.preset, "users": args.users, "timeout_s": args.timeout,
                     **PRESETS[args.preset]},
        "elapsed_s": elapsed,
        "profile": {p.path: {"latency_s": p.latency_s, "cpu_s": p.cpu_s,
                             "wait_fraction": p.wait_fraction, "rss_mb": p.rss_mb,
                             "uss_mb": p.uss_mb, "requests": p.requests,
                             "loop_overlap": p.loop_probe.overlap if p.loop_probe else None}
                    for p in profiles},
        "mix": {"latency_s": profile.latency_s, "cpu_s": profile.cpu_s,
                "loop_blocked": profile.loop_blocked,
                "wait_fraction": profile.wait_fraction,
                "knee": profile.knee(cores),
                "worker_memory_mb": {k: {"rss": r, "uss": u}
                                     for k, (r, u) in profile.memory.items()}},
        "excluded_models": excluded,
    }


def build(args, target: Target, profiles: list[PathProfile], profile: Profile,
          trials: list[Trial], best: Trial, excluded: dict[str, str], cores: int,
          elapsed: float) -> dict:
    """advice.json's content without a goal."""
    chdir = None if Path(target.chdir) == Path.cwd().resolve() else target.chdir
    c = best.prediction.candidate
    return {
        **common(args, target, profiles, profile, excluded, cores, elapsed),
        "candidates": [candidate_row(t) for t in trials],
        "recommended": {
            "label": c.label, "server": c.server, "worker_class": c.worker_class,
            "workers": c.workers, "threads": c.threads,
            "worker_connections": c.worker_connections,
            "command": command(best, target.app, chdir),
            "conf_lines": conf_lines(best, target.app),
            "reasons": reasons(best, trials, profile, cores=cores, users=args.users,
                               excluded=excluded),
        },
    }


if __name__ == "__main__":
    run_main(main)
