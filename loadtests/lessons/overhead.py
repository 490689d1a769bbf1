"""What one request costs each model: ``/health`` as fast as one worker answers it."""

from __future__ import annotations

from ..cells import Scenario, cell
from .base import Lesson, Results

MODELS = ("sync", "gthread", "gevent", "asgi")
CELLS = tuple(cell("health", m, 1, 4 if m == "gthread" else 1, users=20) for m in MODELS)


def section(results: Results) -> str:
    rows = [r for r in map(results.row, CELLS) if r]
    if not rows:
        return ""
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
    return "\n".join(lines)


LESSON = Lesson(
    name="overhead",
    section=section,
    scenarios={"health": Scenario("health", "/health", None)},
    assumptions={"health": "No bound: the rate at which one worker answers its cheapest "
                           "request is its own cost per request (compared, not predicted)."},
    full=CELLS,
)
