"""The switch interval: how often a thread holding the GIL must hand it over."""

from __future__ import annotations

from pathlib import Path

from ..matrix.cells import Scenario, cell
from .base import Lesson, Results, ms

#: Python's default sys.getswitchinterval(): cells without SWITCH_INTERVAL run with it.
DEFAULT = 0.005
SERVER = ("gthread", 1, 4)


def _cells(results: Results) -> list[dict]:
    """The gthread -w1 --threads 4 heartbeat and switch rows, by switch interval."""
    rows = [r for r in results.scenario("switch", "heartbeat")
            if (r["worker_class"], r["workers"], r["threads"]) == SERVER]
    if not any(r["scenario"] == "switch" for r in rows):
        return []
    return sorted(rows, key=lambda r: r["switch_interval"] or DEFAULT)


def section(results: Results) -> str:
    cells = _cells(results)
    if not cells:
        return ""
    lines = [
        "### The switch interval: how often a thread must hand over the GIL",
        "",
        "`SWITCH_INTERVAL` sets `sys.setswitchinterval` in each worker (Python's default is "
        "5 ms). A thread waiting for the GIL asks for it and gets it after at most one interval, "
        "so the heartbeat thread of a gthread worker — which gives the GIL up at every socket "
        "call — pays about one interval per call while two threads compute:",
        "",
        "| switch interval s | heartbeat p50 ms | p99 ms | max ms | /prime rps |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in cells:
        lines.append(f"| {row['switch_interval'] or DEFAULT:g} | {ms(row['heartbeat_p50_ms'])} | "
                     f"{ms(row['heartbeat_p99_ms'])} | {ms(row['heartbeat_max_ms'])} | "
                     f"{row['rps']:.1f} |")
    lines += ["", "A shorter interval answers sooner and costs the computing threads more "
              "hand-offs; a longer one starves the heartbeat."]
    return "\n".join(lines)


def chart(results: Results, out: Path) -> list[str]:
    from ..matrix.charts import figure, outside_legend, plain_log, save

    cells = _cells(results)
    if not cells:
        return []
    fig, ax = figure(7)
    xs = [r["switch_interval"] or DEFAULT for r in cells]
    # p99 and max are often close: different markers and lines keep both visible
    for key, style in (("p50", "o-"), ("p99", "s--"), ("max", "^:")):
        ax.plot(xs, [r[f"heartbeat_{key}_ms"] for r in cells], style, label=key,
                markersize=7 if key == "p99" else 5, fillstyle="none" if key == "p99" else "full")
    plain_log(ax, "x")
    plain_log(ax)
    ax.set_xticks(sorted(set(xs)), [f"{x * 1000:g} ms" for x in sorted(set(xs))])
    ax.minorticks_off()
    ax.set_xlabel("sys.setswitchinterval")
    ax.set_ylabel("/health latency, ms (log)")
    ax.set_title("gthread -w1 --threads 4: heartbeat vs switch interval")
    outside_legend(ax)
    ax.grid(alpha=0.3)
    return [save(fig, out, "switch_interval.png")]


LESSON = Lesson(
    book="Processes, Threads, and Python's Infamous GIL — the switch interval",
    name="switch",
    section=section,
    scenarios={"switch": Scenario("heartbeat", "/prime", "cpu", heartbeat=True)},
    assumptions={"switch": "The cpu bound; what changes with SWITCH_INTERVAL is the heartbeat's "
                           "latency."},
    quick=(cell("switch", *SERVER, users=3, switch=0.0005),),
    full=(cell("switch", *SERVER, users=3, switch=0.005),
          cell("switch", *SERVER, users=3, switch=0.05)),
    chart=chart,
)
