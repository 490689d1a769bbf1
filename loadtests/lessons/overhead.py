"""What one request costs each model: ``/health`` as fast as one worker answers it."""

from __future__ import annotations

import statistics

from ..matrix.cells import Scenario, cell
from ..servers import MODELS
from .base import Lesson, Results, switched

CELLS = tuple(cell("health", m, 1, 4 if m == "gthread" else 1, users=20) for m in MODELS)


def _tracing(results: Results) -> list[str]:
    """What TRACE=1 cost, from the observation's interleaved pairs."""
    runs = results.extra("overhead")
    if not runs:
        return []
    lines = ["", "What the request tracer costs (`TRACE=1`, the timelines): the same `/health` "
             f"load, {max(r['round'] for r in runs) + 1} rounds of untraced-then-traced pairs "
             "per model, medians:", "",
             "| worker | rps untraced | rps traced | ratio | µs/request untraced | traced |",
             "|---|---:|---:|---:|---:|---:|"]
    for label in dict.fromkeys(r["label"] for r in runs):
        off = [r for r in runs if r["label"] == label and not r["traced"]]
        on = [r for r in runs if r["label"] == label and r["traced"]]
        rps_off, rps_on = (statistics.median(r["rps"] for r in rs) for rs in (off, on))
        us_off, us_on = (statistics.median(r["server_cpu_us_per_request"] for r in rs)
                         for rs in (off, on))
        lines.append(f"| {label} | {rps_off:.0f} | {rps_on:.0f} | {rps_on / rps_off:.2f} | "
                     f"{us_off:.0f} | {us_on:.0f} |")
    return lines


def section(results: Results) -> str:
    rows = [r for r in map(results.row, CELLS) if r]
    tracing = _tracing(results)
    if not rows:
        return "\n".join(["### What tracing costs", *tracing[1:]]) if tracing else ""
    fastest = max(rows, key=lambda r: r["rps"])
    lines = [
        "### What a request costs: `/health` on one worker",
        "",
        "20 users ask `/health` in a closed loop, no think time, on one worker of each model. "
        "The work is nothing, so the rate is the model's own cost per request: parsing, the "
        "framework, scheduling (greenlet, thread or task switches) and the socket calls.",
        "",
        "| worker | rps | server CPU | µs of server CPU per request | p50 ms | locust CPU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        per = row["server_cpu_ms_per_request"]
        lines.append(f"| {row['label']} | {row['rps']:.0f} | {row['server_cpu_pct']:.0f}% | "
                     f"{per * 1000:.0f} | {row['p50_ms']:.0f} | {row['locust_cpu_pct']:.0f}% |")
    lines += ["", f"Fastest here: {fastest['label']}. A row whose Locust CPU nears 100% of a "
              "core measured the load generator as much as the server."]
    return "\n".join(lines + tracing)


def _observe(args) -> list[dict]:
    from .observing.overhead import measure

    return measure()


LESSON = Lesson(
    book="Python in the Multicore World — WSGI application servers",
    name="overhead",
    section=section,
    scenarios={"health": Scenario("health", "/health", None)},
    assumptions={"health": "No bound: the rate at which one worker answers its cheapest "
                           "request is its own cost per request (compared, not predicted)."},
    full=CELLS,
    observation=switched("trace-overhead", "also measure what the request tracer costs: "
                         "/health with and without TRACE=1 per model, interleaved (about "
                         "50 s)", _observe),
)
