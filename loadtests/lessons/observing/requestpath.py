"""Where an open request's time goes, and how much of it the twin's S holds.

Each model serves ``/prime/<n>`` at a low offered load (:data:`RHO` of its capacity: the
queue all but empty), with three clocks on every request:

* the generator's, from each request's due time to its answer, which also reads the view's
  own times from the answer (``--time elapsed --time cpu``: the check's wall and CPU);
* the server's tracer (``TRACE=1``, :mod:`webapp.instrument.trace`): each request's span in
  the app, from the app's call to its response's close;
* the CPU meter's: the server's CPU per request, the S the twin is fed.

Means add up, so the mean latency splits exactly into the generator's send lag, the way in
and back (connecting, accepting, parsing, any wait in a queue, the answer's return), the app
around the check, and the check itself. The twin's S holds only what the server spent CPU
on; the rest of the wall is not in it.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from ...model.simulate import Twin
from ...servers import ServerSpec
from ...timeline.data import Span, Timeline
from .band import span_of
from .openload import measured, schedule
from .opentraffic import FLOOR, MODELS, WORKLOADS, Served, Workload, predicted_row, serving, twin_of

#: The offered load (a share of each model's capacity), the seconds of arrivals, the seed.
RHO, SECONDS, SEED = 0.2, 8.0, 3


def observe() -> list[dict]:
    """A row per model, one after another (they share the cores)."""
    return [measure(label, spec) for label, spec in MODELS]


class Traced(NamedTuple):
    """One traced open run (:func:`traced_run`)."""

    served: Served
    rate: float
    summary: dict
    cpu_s: float
    #: The app's spans of the run: one per request (``webapp/instrument/trace.py``).
    spans: list[Span]


def traced_run(spec: ServerSpec, work: Workload, twin: Twin, rate_of: Callable[[float], float],
               seconds: float, seed: int, *flags: str) -> Traced:
    """A fresh server for ``work``, traced (``TRACE=1``), and one open run on it at
    ``rate_of(its capacity)`` with the generator's ``flags``: the run, and the app's spans
    of it."""
    with tempfile.TemporaryDirectory(prefix="lab-trace-") as folder:
        traced = dataclasses.replace(spec, env=(*spec.env, ("TRACE", "1"),
                                                ("TRACE_DIR", folder)))
        with serving(traced, work, twin, seed) as served:
            rate = rate_of(served.capacity_rps)
            started = time.monotonic_ns()  # the tracer's clock: the earlier runs' spans before
            summary, cpu_s = measured(served.server, served.url, rate, seconds, seed, *flags)
        # the spans are written as each worker exits
        spans = [span for span in Timeline.load(Path(folder)).spans if span.start_ns >= started]
    return Traced(served, rate, summary, cpu_s, spans)


def measure(label: str, spec: ServerSpec) -> dict:
    """One model's open run at :data:`RHO`, traced: its row of the sweep (the twin's
    prediction beside it), and the parts of its mean latency."""
    work, twin = WORKLOADS["cpu"], twin_of(spec)
    served, rate, summary, cpu_s, traced = traced_run(
        spec, work, twin, lambda capacity: RHO * capacity, SECONDS, SEED,
        "--time", "elapsed", "--time", "cpu")
    spans = [span.seconds * 1000 for span in traced]
    row = predicted_row(label, spec, twin, summary, cpu_s, rate, work,
                        schedule(rate, SECONDS, SEED), served)
    check, check_cpu = summary["fields_ms"]["elapsed"], summary["fields_ms"]["cpu"]
    return {"kind": "path", "scenario": "cpu", "path": work.path, **row,
            "spans": len(spans), "lag_mean_ms": summary["send_lag_ms"]["mean"],
            "app_mean_ms": statistics.fmean(spans), "app_p50_ms": statistics.median(spans),
            "check_mean_ms": check["mean"], "check_p50_ms": check["p50"],
            "check_cpu_mean_ms": check_cpu["mean"], "check_cpu_p50_ms": check_cpu["p50"],
            "check_cpu_p99_ms": check_cpu["p99"]}


def parts(row: dict) -> dict[str, float]:
    """The mean latency's parts (ms): they add up to ``row['mean_ms']``."""
    return {"send lag": row["lag_mean_ms"],
            "way in and back": row["mean_ms"] - row["lag_mean_ms"] - row["app_mean_ms"],
            "app around the check": row["app_mean_ms"] - row["check_mean_ms"],
            "check": row["check_mean_ms"]}


def table(rows: list[dict]) -> list[str]:
    """Lines of the section: the parts of each model's mean latency beside S and the twin."""
    names = list(parts(rows[0]))
    lines = ["| worker | ρ | rate /s | answered / traced | mean ms measured / predicted | "
             + " | ".join(names) + " | S (server CPU a request) | outside (on /health) | "
             "check CPU p50 / p99 | p50 ms measured / predicted |",
             "|---|---:|---:|---:|---:|" + "---:|" * len(names) + "---:|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {row['label']} | {row['utilisation']:.2f} | {row['rate_rps']:.1f} | "
            f"{row['answered']} / {row['spans']} | {row['mean_ms']:.1f} / "
            f"{row['predicted_mean_ms']:.1f} | "
            + " | ".join(f"{value:.2f}" for value in parts(row).values())
            + f" | {row['cpu_ms']:.2f} | {row['outside_ms']:.2f} | "
            f"{row['check_cpu_p50_ms']:.1f} / "
            f"{row['check_cpu_p99_ms']:.1f} | {row['p50_ms']:.1f} / "
            f"{row['predicted_p50_ms']:.1f} |")
    return lines


def lines(rows: list[dict]) -> list[str]:
    """Where each model's time went at a low load, and how much of it S holds: lines of
    the open-traffic lesson's section (a blank line first)."""
    if not rows:
        return []
    ratios = [row["predicted_mean_ms"] / row["mean_ms"] for row in rows]
    app_over_s = [row["app_mean_ms"] / row["cpu_ms"] for row in rows]
    skew = [row["check_cpu_p50_ms"] - row["check_cpu_mean_ms"] for row in rows]
    outside = [row["outside_ms"] for row in rows]
    lag, way = ([parts(row)[name] for row in rows] for name in ("send lag", "way in and back"))
    return ["", f"Where the time goes: each model on `{rows[0]['path']}` at ρ "
            f"{rows[0]['utilisation']:.1f}, every request timed by three clocks (the "
            "generator's, from its due time; the server's tracer, from the app's call to the "
            "response's close; and the view's own, around the check, read from its answer), "
            "beside the server's CPU per request (S). Means add up: the parts are the mean "
            "latency's.", "", *table(rows), "",
            f"The app's span is {span_of(app_over_s)} of S: the server's CPU per request holds "
            "what happens in the app. Outside it each request spent the generator's send lag "
            f"({span_of(lag, ' ms')}) and the way in and back ({span_of(way, ' ms')}: "
            "connecting, accepting, parsing, the loopback, the answer's return, and any wait "
            "in the queue). The twin adds to each latency the time a request spends outside "
            "the server, measured on the same server beforehand (`/health` at "
            f"{FLOOR[0]:g}/s: its mean latency less the server's CPU per request, "
            f"{span_of(outside, ' ms')}), and puts its waits in the queue; its mean then stood "
            f"at {span_of(ratios)} of the measured one. The check's CPU for one number also "
            "spreads from request to request (its p50 against its p99), where the twin gives "
            f"every request the mean; its median less its mean: {min(skew):+.2f} to "
            f"{max(skew):+.2f} ms. Where it is above, the twin's p50, near the mean, falls "
            "further short than its mean does."]
