"""Past the knee: a burst of open traffic at three times a server's capacity, under each
worker model -- who keeps answering in time, who melts, and how long the melt outlasts
the burst.

Not a Locust cell: the observation (:mod:`loadtests.lessons.observing.overload`) offers
each model half its capacity, then three times it, then half again, with a client deadline
of a second, and counts every request's outcome. Beside each measurement, the fluid model
(:mod:`loadtests.model.overload`): the queue grows at λ − μ in the burst and drains at
μ − λ after it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..harness.argtypes import positive
from .base import Lesson, Results, switched

#: Seconds of each phase (before, burst, after), per preset.
SECONDS = {"quick": (3, 6, 12), "full": (5, 10, 30)}
#: A model "melts" when its goodput in the burst falls below this share of its capacity.
MELTED_BELOW = 0.5


def _seconds(value: float | None) -> str:
    return "not in the run" if value is None else f"{value:.0f} s"


def _outcomes(row: dict) -> str:
    """Every outcome by kind, and their sum against what was scheduled."""
    kinds = [f"{status}: {n}" for status, n in row["statuses"].items()]
    kinds += [f"{kind}: {n}" for kind, n in row["failed"].items()]
    kinds += [f"{name}: {row[key]}" for name, key in (("timed out", "timed_out"),
                                                      ("dropped", "dropped")) if row[key]]
    ended = row["scheduled"] - row["unaccounted"]
    return f"{', '.join(kinds)} (= {ended} of {row['scheduled']})"


def table(rows: list[dict]) -> str:
    """One row per model: goodput by phase beside the fluid's, recovery, queues, memory."""
    lines = ["| worker | capacity /s | goodput /s before · burst · after | burst, predicted | "
             "recovery measured / predicted | peak accept queue · client waiting | peak MB | "
             "workers replaced | outcomes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        before, during, after = row["goodput_rps"]
        peak = row["peak"]
        lines.append(
            f"| {row['label']} | {row['capacity_rps']:.0f} | {before:.0f} · {during:.0f} · "
            f"{after:.0f} | {row['predicted_burst_goodput_rps']:.0f} | "
            f"{_seconds(row['recovery_s'])} / {_seconds(row['predicted_recovery_s'])} | "
            f"{peak['accept_queue']} · {peak['established']} | {peak['rss_mb']:.0f} | "
            f"{row['workers_replaced']} | {_outcomes(row)} |")
    return "\n".join(lines)


def section(results: Results) -> str:
    rows = results.extra("overload")
    if not rows:
        return ""
    first = rows[0]
    shares = " → ".join(f"{rate / first['capacity_rps']:.1f}× for {seconds:g} s"
                        for rate, seconds in first["phases"])
    melted = [row["label"] for row in rows
              if row["goodput_rps"][1] < MELTED_BELOW * row["capacity_rps"]]
    lines = [
        "### Overload: a burst at three times the capacity",
        "",
        f"Each model serves `{first['path'].split('?')[0]}` (CPU work) on one process. A "
        "closed loop of four users measures its capacity; the open-loop generator then "
        f"offers Poisson arrivals at {shares} of it, with a client deadline of "
        f"{first['deadline_s']:g} s. Goodput is the answers with a 2xx status within the "
        "deadline; recovery is the time from the burst's end to the first second from which "
        "every second's p99 is within the deadline; the fluid model predicts both from the "
        "capacity alone (the queue grows at λ − μ and drains at μ − λ). The accept queue "
        "holds the connections no worker has accepted yet, whether or not their client "
        "still waits; *client waiting* counts the server's connections whose client has not "
        "given up, accepted or not.",
        "", table(rows), "",
        (f"Melted (goodput in the burst below {MELTED_BELOW:g} of capacity): "
         f"{', '.join(melted)}." if melted else
         f"None melted (goodput in the burst below {MELTED_BELOW:g} of capacity)."),
    ]
    return "\n".join(lines)


def chart(results: Results, out: Path) -> list[str]:
    """Goodput a second, and the accept queue, over the run, a line per model."""
    rows = results.extra("overload")
    if not rows:
        return []
    import matplotlib.pyplot as plt

    from ..matrix.charts import save

    fig, (good, queue) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, layout="constrained")
    for row in rows:
        line, = good.plot([r["t"] for r in row["timeline"]], [r["good"] for r in row["timeline"]],
                          marker=".", label=row["label"])
        queue.plot([q["t"] for q in row["queue"]], [q["accept_queue"] for q in row["queue"]],
                   color=line.get_color(), label=f"{row['label']}: accept queue")
        queue.plot([q["t"] for q in row["queue"]], [q["established"] for q in row["queue"]],
                   color=line.get_color(), linestyle=":",
                   label=f"{row['label']}: client waiting")
    start = 0.0
    for _, seconds in rows[0]["phases"][:2]:
        start += seconds
        for ax in (good, queue):
            ax.axvline(start, color="grey", linewidth=0.8)
    good.set_ylabel("answered 2xx within the deadline, a second")
    good.set_title("Overload: goodput and the queue, a burst at 3× the capacity")
    good.legend(fontsize=7)
    queue.set_ylabel("connections")
    queue.set_xlabel("seconds of the run (lines: the burst's start and end)")
    queue.legend(fontsize=6, ncol=2)
    return [save(fig, out, "overload.png")]


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overload-seconds", type=positive(int), nargs=3, default=None,
                        metavar=("BEFORE", "BURST", "AFTER"),
                        help="whole seconds of each phase of the overload burst (default: "
                             + ", ".join(" ".join(f"{s:g}" for s in secs) + f" {preset}"
                                         for preset, secs in SECONDS.items()) + ")")


def _observe(args: argparse.Namespace) -> list[dict]:
    from .observing.overload import observe

    return observe(tuple(args.overload_seconds or SECONDS[args.preset]))


LESSON = Lesson(
    book="Past the chapter — overload: a burst past capacity, who sheds and who melts",
    name="overload",
    section=section,
    chart=chart,
    observation=switched("overload", "also offer each model a burst at three times its "
                                     "capacity and measure goodput, outcomes and recovery",
                         _observe, _add_arguments, whole_preset=True),
)
