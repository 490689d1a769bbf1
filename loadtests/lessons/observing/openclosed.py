"""Open against closed, with the open-loop generator: the same server at the same
throughput under each (:func:`versus`), and a stall each meets (:func:`stall`): a closed
loop's users stop sending while they wait, so it counts at most one slow request per user.
Each has its lines in the lesson's section (:func:`versus_lines`, :func:`stall_lines`),
and open against closed its chart (:func:`versus_chart`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from ...servers import ServerSpec, launch
from .openload import generate, generator, summarised
from .opentraffic import MODELS, WORKLOADS

#: The stall (with --full): a gevent worker stopped for ``stall_s`` (SIGSTOP, then SIGCONT)
#: ``at_s`` after the generator starts, in a run of ``run_s`` on /health, open at ``rate``
#: or closed with ``users``; answers slower than ``over_ms`` are counted.
STALL = {"rate": 100.0, "users": 10, "at_s": 1.5, "stall_s": 1.0, "run_s": 4.0,
         "over_ms": 500.0}


def stall(mode: str) -> dict:
    """One run of the stall, ``mode`` open or closed: what the generator counted."""
    load = (["--rate", f"{STALL['rate']:g}", "--seed", "3"] if mode == "open"
            else ["--closed", str(STALL["users"])])
    with launch(ServerSpec("gevent")) as server:
        (pid,) = server.worker_pids()
        argv = generator(f"{server.url}/health", STALL["run_s"], "--over",
                         f"{STALL['over_ms']:g}", *load)
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as running:
            try:
                time.sleep(STALL["at_s"])  # the stall's place in the run, not a wait for it
                os.kill(pid, signal.SIGSTOP)
                try:
                    time.sleep(STALL["stall_s"])
                finally:
                    os.kill(pid, signal.SIGCONT)
                out, _ = running.communicate(timeout=STALL["run_s"] + 60)
            except BaseException:
                running.kill()
                raise
    summary = json.loads(out)
    latency = summary["latency_ms"]
    return {"kind": "stall", "mode": mode, "load": (f"{STALL['rate']:g}/s" if mode == "open"
                                                     else f"{STALL['users']} users"),
            "stall_s": STALL["stall_s"], "scheduled": summary["scheduled"],
            "answered": summary["answered"], "over_ms": STALL["over_ms"],
            "over": summary["over"]["count"], "p50_ms": latency.get("p50"),
            "p99_ms": latency.get("p99"), "max_ms": latency.get("max")}


#: Open against closed (with --full): ``model`` (a label of :data:`MODELS`) on the io
#: workload, first a closed loop of as many users as it has slots for ``run_s``, then the
#: open load at the rate that loop achieved: the same server and throughput.
VERSUS = {"model": "sync -w2", "users": 2, "run_s": 10.0}


def versus() -> list[dict]:
    """The closed loop, then the open load at its throughput: a row each."""
    label, spec = next(model for model in MODELS if model[0] == VERSUS["model"])
    rows = []
    with launch(spec) as server:
        url = server.url + WORKLOADS["io"].path
        closed = summarised(url, VERSUS["run_s"], "--closed", str(VERSUS["users"]))
        rate = closed["achieved_rps"]
        opened = generate(url, rate, VERSUS["run_s"], seed=5)
    for mode, summary, load in (("closed", closed, f"{VERSUS['users']} users"),
                                ("open", opened, f"{rate:.1f}/s")):
        rows.append({"kind": "versus", "mode": mode, "label": label, "load": load,
                     "path": WORKLOADS["io"].path, "answered": summary["answered"],
                     "achieved_rps": summary["achieved_rps"],
                     "latency_ms": summary["latency_ms"]})
    return rows


def stall_lines(rows: list[dict]) -> list[str]:
    """The stall met by the open load and by the closed one (:func:`stall`'s rows): lines
    of the lesson's section."""
    if not rows:
        return []
    over, stalled = rows[0]["over_ms"], rows[0]["stall_s"]
    lines = ["", f"The stall a closed loop hides: a gevent worker on `/health` stopped for "
             f"{stalled:g} s (SIGSTOP, then SIGCONT) in the middle of a run, met once by the "
             "open load and once by a closed loop of users:", "",
             f"| load | answered | slower than {over:g} ms | p50 ms | p99 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['mode']}, {row['load']} | {row['answered']} | {row['over']} | "
                     f"{_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} | {_ms(row['max_ms'])} |")
    lines += ["", "Every request due during the stall waits for its end, counted from when "
              "it was due; the closed loop's users stop sending while they wait, so it counts "
              "at most one slow request per user."]
    return lines


#: The percentiles open against closed sets side by side (the summary's names).
VERSUS_AT = ("p50", "p90", "p99", "p99.9", "max")


def versus_lines(rows: list[dict]) -> list[str]:
    """The closed loop and the open load at its throughput (:func:`versus`'s rows): lines
    of the lesson's section."""
    if not rows:
        return []
    closed, opened = rows
    lines = ["", f"Open against closed at the same throughput: {closed['label']} on "
             f"`{closed['path']}`, first a closed loop of {closed['load']} (no think time), "
             f"then open arrivals at the rate that loop achieved:", "",
             "| load | answered | rate /s | " + " | ".join(f"{p} ms" for p in VERSUS_AT) + " |",
             "|---|---:|---:|" + "---:|" * len(VERSUS_AT)]
    for row in rows:
        lines.append(f"| {row['mode']}, {row['load']} | {row['answered']} | "
                     f"{row['achieved_rps']:.1f} | "
                     + " | ".join(_ms(row["latency_ms"].get(p)) for p in VERSUS_AT) + " |")
    ratio = opened["latency_ms"]["p99"] / closed["latency_ms"]["p99"]
    return [*lines, "", f"The same server at the same throughput: the open load's p99 is "
                    f"{ratio:.1f} times the closed loop's. The closed loop's users can hold "
                    "no more requests than there are users, so its queue is bounded; the "
                    "open load's queue is whatever the arrivals make it."]


def versus_chart(rows: list[dict], out: Path) -> str:
    """The closed loop's percentiles beside the open load's at its throughput."""
    from matplotlib.ticker import ScalarFormatter

    from ...matrix.charts import figure, save

    fig, ax = figure(6)
    for row in rows:
        rate = f" ({row['achieved_rps']:.1f}/s)" if row["mode"] == "closed" else ""
        ax.plot(range(len(VERSUS_AT)), [row["latency_ms"][p] for p in VERSUS_AT], marker="o",
                label=f"{row['mode']}, {row['load']}{rate}")
    ax.set_xticks(range(len(VERSUS_AT)), VERSUS_AT)
    ax.set_yscale("log")
    for axis in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
        axis(ScalarFormatter())
    ax.set_ylabel("latency from due, ms")
    ax.set_title(f"{rows[0]['label']} on {rows[0]['path'].split('?')[0]}: open against "
                 "closed at the same throughput")
    ax.legend(fontsize=8)
    return save(fig, out, "opentraffic-versus.png")


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
