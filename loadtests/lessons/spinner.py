"""The spinner: does the worker keep streaming frames while it computes?

Not a Locust cell: the observation reads one ``/spin/<n>`` stream per model
(:mod:`loadtests.lessons.observing.spinner`), with the full preset or ``--spinner``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from webapp.work.primes import SLOW_PRIME

from ..harness.argtypes import positive
from .base import Lesson, Results, switched


def section(results: Results) -> str:
    spinner = results.extra("spinner")
    if not spinner:
        return ""
    lines = [
        "### The spinner: does the worker keep turning while it computes?",
        "",
        "`/spin/<n>` streams a frame every 0.1 s while `is_prime(n)` runs in a thread (a "
        "greenlet under gevent). The longest gap is the longest wait between two chunks:",
        "",
        "| worker | query | frames | seconds | frames / s | longest gap s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in spinner:
        lines.append(f"| {row['label']} | {row['query']} | {row['frames']} | "
                     f"{row['elapsed_s']:.2f} | {row['frames_per_s']:.1f} | "
                     f"{row['longest_gap_s']:.2f} |")
    lines += ["", "Threads hand the GIL over, so the spinner turns; a plain gevent worker "
              "shows one frame and then nothing until the answer — the chapter's Quick Quiz; "
              "napping and the process pool make it turn again."]
    return "\n".join(lines)


def chart(results: Results, out: Path) -> list[str]:
    from ..matrix.charts import bars, figure, save

    spinner = results.extra("spinner")
    if not spinner:
        return []
    fig, ax = figure(7)
    bars(ax, [f"{r['label']} {r['query']}".replace(" —", "") for r in spinner],
         {"frames per second": [r["frames_per_s"] for r in spinner]})
    ax.set_title("/spin: spinner frames while is_prime runs (10/s = never blocked)")
    ax.set_ylabel("frames / s")
    return [save(fig, out, "spinner.png")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spin-n", type=positive(int), default=SLOW_PRIME,
                        help="number for the spinner (default %(default)s, about 1.6 s)")


def observe(args: argparse.Namespace) -> list[dict]:
    from .observing.spinner import watch

    return watch(args.spin_n)


LESSON = Lesson(name="spinner", section=section, chart=chart,
    book="A Concurrent Hello World — the supervisors side by side",
                observation=switched("spinner", "also watch /spin/<n> per model", observe,
                                     more=add_arguments))
