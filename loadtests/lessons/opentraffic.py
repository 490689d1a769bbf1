"""Open traffic: requests that arrive at a rate, measured from when each was due, beside
what the simulated twin of each worker model predicts.

Not a Locust cell: the observation (:mod:`loadtests.lessons.observing.opentraffic`) runs
each model under the lab's open-loop generator, one open cell per model at half its
capacity in the quick preset (``make demo``), and a sweep of offered loads with the full
one (waiting, CPU, the two in turn, and one database cell). Each row's prediction is
judged by the band the twin is held to: p50 and p99 within 0.8–1.25 of measured below
80 % utilisation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..harness.argtypes import positive
from .base import Lesson, Observation, Results
from .observing.band import BAND, JUDGED_BELOW, locked, outside, ratio, verdict, waited

#: Offered loads (shares of each model's capacity) and seconds per run, per preset.
RHOS = {"quick": (0.5,), "full": (0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1)}
SECONDS = {"quick": 6.0, "full": 10.0}
#: The scenarios per preset: waiting work, and with --full CPU work, the two in turn, and
#: waiting in PostgreSQL too.
SCENARIOS = {"quick": ("io",), "full": ("io", "cpu", "mixed", "db")}
#: What each scenario's table says its requests do.
DOES = {"io": "waits {delay}", "cpu": "runs a dozen milliseconds of pure Python",
        "mixed": "waits {delay}, then runs a dozen milliseconds of pure Python",
        "db": "waits {delay} in PostgreSQL, `pg_sleep` on a pooled psycopg 3 connection"}


def table(rows: list[dict]) -> str:
    """Measured beside predicted, one row per open run."""
    lines = ["| worker | ρ | offered / achieved /s | answered | p50 ms measured / predicted "
             "| ratio | p99 ms measured / predicted | ratio | band | split | send lag p99 ms "
             "| run queue ms | full GC ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|"]
    for row in rows:
        lost = row["failed"] + row["timed_out"] + row["dropped"]
        answered = f"{row['answered']}" + (f" (+{lost} not)" if lost else "")
        split = " / ".join(f"{share:.2f}" for share in row["shares"])
        lines.append(
            f"| {row['label']} | {row['utilisation']:.2f} | {row['rate_rps']:.0f} / "
            f"{row['achieved_rps']:.0f} | {answered} "
            f"| {_ms(row['p50_ms'])} / {row['predicted_p50_ms']:.1f} "
            f"| {ratio(row['predicted_p50_ms'], row['p50_ms'])} "
            f"| {_ms(row['p99_ms'])} / {row['predicted_p99_ms']:.1f} "
            f"| {ratio(row['predicted_p99_ms'], row['p99_ms'])} | {verdict(row)} | {split} "
            f"| {_ms(row['send_lag_p99_ms'], 2)} | {_ms(row.get('run_queue_ms'))} "
            f"| {_ms(row.get('full_ms'))} |")
    return "\n".join(lines)


def _ms(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _runs(results: Results) -> list[dict]:
    """The open runs beside the twin (the stall's rows have a kind of their own)."""
    return [row for row in results.extra("opentraffic") if "kind" not in row]


def _kind(results: Results, kind: str) -> list[dict]:
    """The observation's rows of one kind (open against closed, the stall, ...)."""
    return [row for row in results.extra("opentraffic") if row.get("kind") == kind]


def _scenario(row: dict) -> str:
    return row.get("scenario", "io")  # (the first sample's rows were all io)


def _path(row: dict) -> str:
    return row.get("path", f"/io?delay={row['delay_s']:g}")


def _per_request_lines(results: Results) -> list[str]:
    """Where each model's time went at a low load (:mod:`.observing.requestpath`), each
    request's own CPU replayed (:mod:`.observing.servicereplay`), and a fresh worker's
    garbage collections (:mod:`.observing.gcpause`), what a thread pays to take the GIL
    back (:mod:`.observing.gilhop`), one gthread worker against two
    (:mod:`.observing.workerpair`), and one worker's four threads against eight
    (:mod:`.observing.threadgaps`)."""
    from .observing import gcpause, gilhop, requestpath, servicereplay, threadgaps, workerpair

    return (requestpath.lines(_kind(results, "path"))
            + servicereplay.lines(_kind(results, "replay"))
            + gcpause.lines(_kind(results, "gc"))
            + gilhop.lines(_kind(results, "gilhop"))
            + workerpair.lines(_kind(results, "pair"))
            + threadgaps.lines(_kind(results, "gaps")))


def section(results: Results) -> str:
    rows = _runs(results)
    per_request = _per_request_lines(results)
    if not rows:
        return ("\n".join(["### Where an open request's time goes", *per_request])
                if per_request else "")
    first = rows[0]
    lines = [
        "### Open traffic: measured at a rate, and predicted",
        "",
        "The lab's open-loop generator sends Poisson arrivals at ρ × each model's capacity "
        f"(at most {max(row['rate_rps'] for row in rows):.0f}/s here), latency counted from "
        "each request's due time. The capacity is the least of slots ÷ (delay + S), "
        f"processes ÷ S and cores ÷ S ({first['cores']} cores), S the server's CPU per "
        "request measured in the same run. The twin (`loadtests.model.simulate`) is fed S, "
        "the delay, the cores, the split of the answers between the workers and the time "
        "a request spends outside the server (`/health`'s mean latency on the same server "
        "first, less its CPU), and predicts p50 and p99 at the same rate. *run queue ms*: "
        "the time the workers' threads spent runnable but waiting for a core, per answer "
        "(`schedstat`), which the twin gives none of: it puts only the thread that holds "
        "the GIL or loop on a core. *full GC ms*: how long full garbage collections held "
        "the worker during the run (`/info`'s `gc`; the twin has no collector; —: not read, "
        "where two workers serve or the sample predates it). Under each table, the runs "
        "outside the band, with the CPU time the hypervisor stole from the machine during "
        "each (psutil's `steal`, every CPU; none where the sample predates it).",
    ]
    for scenario in dict.fromkeys(map(_scenario, rows)):
        mine = [row for row in rows if _scenario(row) == scenario]
        does = DOES[scenario].format(delay=f"{mine[0]['delay_s']:g} s")
        judged = [row for row in mine if row["utilisation"] < JUDGED_BELOW]
        inside = sum(verdict(row) == "in" for row in judged)
        lines += ["", f"`{_path(mine[0])}` (each request {does}):", "", table(mine), "",
                  f"{inside} of {len(judged)} runs below ρ {JUDGED_BELOW:g} fell in the band "
                  f"({BAND[0]:g}–{BAND[1]:g} of measured, for both p50 and p99)."
                  + outside(judged), *waited(mine), *locked(mine)]
    from .observing import openclosed

    return "\n".join(lines + per_request + openclosed.versus_lines(_kind(results, "versus"))
                     + openclosed.stall_lines(_kind(results, "stall")))


def chart(results: Results, out: Path) -> list[str]:
    rows = _runs(results)
    names = [name for scenario in dict.fromkeys(map(_scenario, rows))
             if (name := _chart([r for r in rows if _scenario(r) == scenario], scenario, out))]
    if not (versus := _kind(results, "versus")):
        return names
    from .observing import openclosed

    return [*names, openclosed.versus_chart(versus, out)]


def _chart(rows: list[dict], scenario: str, out: Path) -> str | None:
    """p50 and p99 against ρ per model, measured and predicted: ``opentraffic.png`` for io,
    ``opentraffic-SCENARIO.png`` for the others; None with one point per model."""
    from ..matrix.charts import save, subplots

    labels = list(dict.fromkeys(row["label"] for row in rows))
    if all(sum(row["label"] == label for row in rows) < 2 for label in labels):
        return None  # the table says it
    fig, axes = subplots(1, 2, figsize=(12, 4.5), layout="constrained", sharey=True)
    for ax, at in zip(axes, ("p50", "p99"), strict=True):
        for label in labels:
            mine = [row for row in rows if row["label"] == label and row[f"{at}_ms"]]
            line, = ax.plot([r["utilisation"] for r in mine], [r[f"{at}_ms"] for r in mine],
                            marker="o", label=f"{label} measured")
            ax.plot([r["utilisation"] for r in mine],
                    [r[f"predicted_{at}_ms"] for r in mine],
                    linestyle="--", color=line.get_color(), label=f"{label} predicted")
        ax.set_yscale("log")
        ax.set_xlabel("offered load ρ (share of the model's capacity)")
        ax.set_title(f"{at}, measured and predicted")
    axes[0].set_ylabel("latency from due, ms")
    axes[1].legend(fontsize=7)
    fig.suptitle(f"Open traffic on {_path(rows[0]).split('?')[0]}")
    return save(fig, out, "opentraffic.png" if scenario == "io" else
                f"opentraffic-{scenario}.png")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--open-traffic", action=argparse.BooleanOptionalAction, default=None,
                        help="also run each model under open traffic beside the twin's "
                             "prediction: one rate per model on waiting work with --quick; "
                             "with --full, a sweep of offered loads on waiting, CPU and mixed "
                             "work and in PostgreSQL, open against closed at the same "
                             "throughput, and a 1 s stall met open and closed "
                             "(default: on with either preset and every cell)")
    parser.add_argument("--request-path", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="also trace each model on /prime at ρ 0.2 and split its mean "
                             "latency into the send lag, the way in and back, the app and "
                             "the check, beside the server's CPU per request (about 60 s; "
                             "default: on with the full preset's sweep)")
    parser.add_argument("--service-replay", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="also record each request's own CPU (gevent -w1 at ρ 0.5 and "
                             "sync -w2 at 0.6 on /prime, gevent -w1 and asgi -w1 at 0.5 on "
                             "/mixed) and "
                             "replay it to the twin, in order and shuffled, beside the mean S "
                             "(about 65 s; default: on with the full preset's sweep)")
    parser.add_argument("--gc-pause", action=argparse.BooleanOptionalAction, default=None,
                        help="also run a fresh gevent -w1 on /io at 333/s four times, "
                             "GC_FREEZE off and on in turn, each run's garbage collections "
                             "beside its p99 and the twin's (about 50 s; default: on with the "
                             "full preset's sweep)")
    parser.add_argument("--worker-pair", action=argparse.BooleanOptionalAction, default=None,
                        help="also run gthread -w2 --threads 4, then one such worker at "
                             "the busier worker's rate, then the two again pinned to a core "
                             "each (PIN_CORES=1): three rounds on /prime at ρ 0.6, /mixed at "
                             "0.75 and /io at 0.8, and in PostgreSQL at 0.7 (not pinned), each "
                             "beside its twin; first, what a thread pays to take the GIL "
                             "back after a short release and after a wait, while another "
                             "computes; last, gthread -w1 on /mixed with 4 then 8 threads at "
                             "one rate, traced (about 10 minutes; default: on with the full "
                             "preset's sweep)")
    parser.add_argument("--open-seconds", type=positive(float), default=None,
                        help="seconds of arrivals per open run (default: "
                             + ", ".join(f"{s:g} {p}" for p, s in SECONDS.items()) + ")")


def _observe(args: argparse.Namespace) -> list[dict] | None:
    whole = getattr(args, "whole_preset", True)
    sweep = whole if args.open_traffic is None else args.open_traffic
    path, replay, pause, pair = (args.preset == "full" and sweep if chosen is None else chosen
                                 for chosen in (args.request_path, args.service_replay,
                                                args.gc_pause, args.worker_pair))
    if not (sweep or path or replay or pause or pair):
        return None
    from .observing import (
        gcpause,
        gilhop,
        opentraffic,
        requestpath,
        servicereplay,
        threadgaps,
        workerpair,
    )

    rows = (opentraffic.observe(RHOS[args.preset], args.open_seconds or SECONDS[args.preset],
                                SCENARIOS[args.preset], stalls=args.preset == "full")
            if sweep else [])
    return (rows + (requestpath.observe() if path else [])
            + (servicereplay.observe() if replay else [])
            + (gcpause.observe() if pause else [])
            + (gilhop.observe() + workerpair.observe() + threadgaps.observe()
               if pair else []))


LESSON = Lesson(
    book="Past the chapter — open traffic: requests that arrive whatever the server is doing",
    name="opentraffic",
    section=section,
    chart=chart,
    observation=Observation(_add_arguments, _observe, "open_traffic"),
)
