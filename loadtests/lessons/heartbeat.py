"""The frozen event loop: can a worker busy with CPU work still answer a heartbeat?"""

from __future__ import annotations

from pathlib import Path

from ..matrix.cells import Scenario, cell
from .base import Lesson, Results, heartbeat_table


def section(results: Results) -> str:
    cells = results.scenario("heartbeat")
    if not cells:
        return ""
    return "\n".join([
        "### The frozen event loop: can a busy worker still answer?",
        "",
        "Two users keep `/prime` busy while one paced user asks `/health` every 50 ms. A gevent "
        "worker runs every request on one thread under one hub; `is_prime` never yields, so the "
        "hub cannot accept or answer anything until the prime ends — the heartbeat waits for "
        "whole primes. A gthread worker hands the GIL to the heartbeat's thread within a switch "
        "interval. A second process answers while the first computes, until both are busy.",
        "",
        heartbeat_table(cells),
    ])


def chart(results: Results, out: Path) -> list[str]:
    """Heartbeat latency of every cell that had a heartbeat user (nap, offload, switch too)."""
    from ..matrix.charts import bars, panels, save

    beats = [r for r in results.rows if r.get("heartbeat_p50_ms") is not None]
    if not beats:
        return []
    def latency(row: dict, key: str) -> float | None:  # a timeout is no answer, not a time
        answered = row.get("heartbeat_requests", 1) > row.get("heartbeat_failures", 0)
        return row[key] if answered else None

    def panel(ax, scenario: str, cells: list[dict]) -> None:
        bars(ax, [r["label"] for r in cells],
             {p: [latency(r, f"heartbeat_{p}_ms") for r in cells] for p in ("p50", "p99", "max")},
             log=True, missing="no answer")
        ax.set_title(f"{scenario}: /health beside the load", fontsize=10)
        ax.set_ylabel("ms (log)")

    fig = panels(beats, panel)
    fig.suptitle("/health latency (no answer: every heartbeat timed out)")
    return [save(fig, out, "heartbeat.png")]


LESSON = Lesson(
    book="The Real Impact of the GIL — the quick quiz: CPU work freezes an event loop",
    name="heartbeat",
    section=section,
    scenarios={"heartbeat": Scenario("heartbeat", "/prime", "cpu", heartbeat=True)},
    assumptions={"heartbeat": "The /prime users follow the cpu bound with users − 1 (one user "
                              "is the heartbeat); the heartbeat's latency is reported apart."},
    # make demo: one worker of each model; the -w2 cells are in the full preset
    quick=(cell("heartbeat", "sync", 1, users=3), cell("heartbeat", "gthread", 1, 4, users=3),
           cell("heartbeat", "gevent", 1, users=3)),
    full=(cell("heartbeat", "sync", 2, users=3), cell("heartbeat", "gevent", 2, users=3)),
    # the heartbeat between bytecodes on threads; behind whole primes on the frozen hub
    timelines=(cell("heartbeat", "gthread", 1, 4, users=3),
               cell("heartbeat", "gevent", 1, users=3)),
    chart=chart,
)
