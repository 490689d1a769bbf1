"""The advice for a goal on the terminal (rich) and in ``report.md`` and ``advice.png``:
each configuration's predicted percentiles at R beside the measured ones, and the runs
past R that measured the headroom."""

from __future__ import annotations

import os
import textwrap

from rich.table import Table

from ..lessons.base import ms
from ..matrix.charts import bars, outside_legend, save, subplots
from ..servers import ROOT


def _measured(row: dict) -> dict | None:
    """The run at the goal's rate, if this configuration was measured."""
    return row["measured"]["runs"][0] if row["measured"] else None


def goal_table(advice: dict) -> Table:
    goal = advice["goal"]
    table = Table(title=f"{advice['app']}: {goal['text']}, {goal['cores']} cores ("
                        + ("the twin's prediction; measured rows: open traffic)"
                           if goal["measured"] else "predicted by the twin, not measured)"))
    table.add_column("configuration")
    for name in ("processes", "memory MiB", "predicted p50 / p99 ms", "meets", "headroom rps",
                 "measured p50 / p99 ms", "meets"):
        table.add_column(name, justify="right")
    chosen = advice["recommended"]["label"]
    for row in shown(advice):
        run, p = _measured(row), row["predicted"]
        label = row["label"] + (" [green]◀ advised[/]" if row["label"] == chosen else "")
        table.add_row(label, str(row["workers"]), ms(row["memory_mb"]),
                      f"{ms(p['p50_ms'])} / {ms(p['p99_ms'])}", _yes(p["meets"]),
                      ms(p["headroom_rps"]),
                      f"{ms(run['p50_ms'])} / {ms(run['p99_ms'])}" if run else "—",
                      _yes(run["meets"]) if run else "—")
    return table


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


#: Configurations the report lists besides the measured ones: the leanest that meet the
#: goal, and the leanest that do not.
LISTED = 8


def shown(advice: dict) -> list[dict]:
    """The measured configurations, then the others in the plan's order, at most
    :data:`LISTED` in all."""
    rows = advice["candidates"]
    measured = [r for r in rows if r["measured"]]
    rest = [r for r in rows if not r["measured"]]
    return measured + rest[:max(0, LISTED - len(measured))]


def candidate_lines(advice: dict) -> list[str]:
    lines = ["| configuration | processes | memory MiB | predicted p50 / p99 ms | meets | "
             "predicted headroom rps | measured p50 / p99 ms | answered in time | meets |",
             "|---|---:|---:|---:|---|---:|---:|---:|---|"]
    for row in shown(advice):
        run, p = _measured(row), row["predicted"]
        mark = " **(advised)**" if row["label"] == advice["recommended"]["label"] else ""
        lines.append(
            f"| {row['label']}{mark}{' — ' + row['note'] if row['note'] else ''} | "
            f"{row['workers']} | {ms(row['memory_mb'])} | {ms(p['p50_ms'])} / "
            f"{ms(p['p99_ms'])} | {_yes(p['meets'])} | {ms(p['headroom_rps'])} | "
            + (f"{ms(run['p50_ms'])} / {ms(run['p99_ms'])} | {run['good']} of "
               f"{run['scheduled']} | {_yes(run['meets'])} |" if run else "— | — | — |"))
    return lines


def run_lines(advice: dict) -> list[str]:
    """Every open run of the advised configuration: at R, then past it."""
    row = next(r for r in advice["candidates"] if r["label"] == advice["recommended"]["label"])
    lines = ["| offered rps | achieved rps | p50 ms | p99 ms | answered in time | send lag "
             "p99 ms | meets |", "|---:|---:|---:|---:|---:|---:|---|"]
    for run in row["measured"]["runs"]:
        lines.append(f"| {run['rate']:.0f} | {run['achieved_rps']:.0f} | {ms(run['p50_ms'])} | "
                     f"{ms(run['p99_ms'])} | {run['good']} of {run['scheduled']} | "
                     f"{ms(run['send_lag_p99_ms'])} | {_yes(run['meets'])} |")
    return lines


#: The lab's pages a goal's advice rests on: (page, what it shows, when it applies).
LESSONS = (
    ("lessons/opentraffic.md", "open traffic and the simulated twin", lambda a: True),
    ("lessons/overload.md", "past capacity, the queue grows for as long as the peak lasts",
     lambda a: True),
    ("lessons/cores.md", "CPU-bound: one process per core", lambda a: a["mix"]["wait_fraction"]
     < 0.5),
    ("lessons/coroutines.md", "a blocking call holds the event loop",
     lambda a: a["mix"].get("loop_blocked")),
    ("lessons/dbbudget.md", "the database's connection budget",
     lambda a: a["goal"].get("database")),
)


def lesson_links(advice: dict, out) -> str:
    """The pages the advice rests on, linked from ``out`` (the report's folder)."""
    docs = ROOT / "docs"
    return "; ".join(f"[{what}]({os.path.relpath(docs / page, out)})"
                     for page, what, applies in LESSONS if applies(advice))


def lines(advice: dict, out=".") -> list[str]:
    """report.md's goal sections."""
    rec = advice["recommended"]
    runs = ([f"## The runs of {rec['label']}", "", *run_lines(advice), ""]
            if advice["goal"]["measured"] else [])
    return [
        "## Candidates at the goal's rate",
        "",
        *candidate_lines(advice),
        "",
        f"Predicted: the configuration's simulated twin at {advice['goal']['rate_rps']:g} "
        "requests/s, Poisson arrivals, each request the profile's S_cpu then its waiting; "
        "headroom: the highest rate at which the twin still meets the goal. Measured: the "
        "lab's open-loop generator at that rate, each latency from when its request was due. "
        f"{len(advice['candidates'])} configurations were tried; the table lists the measured "
        "ones and the leanest of the rest. ![chart](advice.png)",
        "",
        *runs,
        f"The lab's pages this rests on: {lesson_links(advice, out)}.",
        "",
    ]


def chart(advice: dict, out) -> str:
    """p99 at the goal's rate, predicted beside measured; and the advised configuration's
    p99 as the offered rate rises past it (measured only)."""
    goal = advice["goal"]
    measured = goal["measured"]
    fig, axes = subplots(1, 2 if measured else 1, figsize=(13 if measured else 11, 4.5),
                         layout="constrained", squeeze=False)
    left = axes[0][0]
    rows = [r for r in advice["candidates"] if r["measured"]] if measured else shown(advice)
    series = {"predicted p99": [r["predicted"]["p99_ms"] for r in rows]}
    if measured:
        series["measured p99"] = [_measured(r)["p99_ms"] for r in rows]
    bars(left, [textwrap.fill(r["label"], 16) for r in rows], series,
         colors={"predicted p99": "tab:purple", "measured p99": "tab:green"})
    for label in left.get_xticklabels():  # wrapped, level: long labels side by side
        label.set_rotation(0)
        label.set_horizontalalignment("center")
    left.axhline(goal["p99_ms"], color="tab:red", linestyle="--", label="goal's p99")
    outside_legend(left)
    left.set_ylabel(f"p99 ms at {goal['rate_rps']:g} requests/s"
                    + ("" if measured else " (—: past capacity)"))
    left.set_title("measured configurations at the goal's rate" if measured else
                   f"predicted for {goal['cores']} cores", fontsize=10)
    if not measured:
        return save(fig, out, "advice.png")
    right = axes[0][1]
    row = next(r for r in rows if r["label"] == advice["recommended"]["label"])
    runs = sorted(row["measured"]["runs"], key=lambda r: r["rate"])
    right.plot([r["rate"] for r in runs], [r["p99_ms"] for r in runs], "o-",
               color="tab:green", label="measured p99")
    right.axhline(goal["p99_ms"], color="tab:red", linestyle="--", label="goal's p99")
    right.axvline(goal["rate_rps"], color="0.5", linestyle=":", label="goal's rate")
    if row["predicted"]["headroom_rps"]:
        right.axvline(row["predicted"]["headroom_rps"], color="tab:purple", linestyle="-.",
                      label="predicted headroom")
    right.set_xlabel("offered requests/s")
    right.set_ylabel("p99 ms")
    right.set_title(f"{row['label']}: p99 as the rate rises", fontsize=10)
    outside_legend(right)
    return save(fig, out, "advice.png")
