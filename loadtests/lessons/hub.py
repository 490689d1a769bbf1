"""The blocked hub, as gevent's own monitor thread reports it (every gevent cell)."""

from __future__ import annotations

from pathlib import Path

from .base import Lesson, Results


def _cells(results: Results) -> list[dict]:
    return [r for r in results.rows if r.get("hub_blocked_reports") is not None
            and r["worker_class"] == "gevent"]  # asyncio's own: lessons/asyncio.py


def section(results: Results) -> str:
    cells = _cells(results)
    if not cells:
        return ""
    lines = [
        "### The blocked hub, as gevent reports it",
        "",
        "Every gevent cell runs with gevent's own monitor thread "
        "(`GEVENT_MONITOR_THREAD_ENABLE=true`, `GEVENT_MAX_BLOCKING_TIME=0.1`): every 0.1 s it "
        "checks whether any greenlet switch happened, and if not it raises `EventLoopBlocked`, "
        "which the app logs as one line. Reports × 0.1 s is a lower bound on how long the "
        "event loops were frozen (a period holding any switch is not reported); the last "
        "column divides it by the window and the number of workers. Napping switches "
        "greenlets at every nap, so the monitor sees no block there — although I/O still "
        "waits for gevent's next poll.",
        "",
        "| cell | reports | hub blocked ≥ s | % of worker time |",
        "|---|---:|---:|---:|",
    ]
    for row in cells:
        lines.append(f"| {row['scenario']} {row['label']} | {row['hub_blocked_reports']} | "
                     f"{row['hub_blocked_s']:.1f} | {row['hub_blocked_pct']:.0f}% |")
    return "\n".join(lines)


def chart(results: Results, out: Path) -> list[str]:
    from ..matrix.charts import bars, figure, save

    cells = _cells(results)
    if not cells:
        return []
    fig, ax = figure(max(6, 0.8 * len(cells)))
    bars(ax, [f"{r['scenario']}: {r['label']}" for r in cells],
         {"hub blocked, % of window": [r["hub_blocked_pct"] for r in cells]})
    ax.set_title("gevent's monitor: how long the event loop was frozen")
    ax.set_ylabel("% of the measured window")
    return [save(fig, out, "hub_blocked.png")]


LESSON = Lesson(name="hub", section=section, chart=chart,
                book="The Real Impact of the GIL — a blocked event loop, detected")
