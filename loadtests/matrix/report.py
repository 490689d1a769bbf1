"""Write a matrix run's report: results.json, report.md and PNG charts.

The skeleton -- header, the table of every cell, outliers with their measured
causes, the bounds' assumptions, the charts -- is generic; each lesson of
:mod:`loadtests.lessons` renders its own section and chart from its own cells.
The prose is generated from the numbers, so a report always explains the run
it belongs to.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from ..lessons import LESSONS, SCENARIO, Results
from ..lessons.base import ms as _ms
from ..lessons.base import timelines
from ..model.queueing import drift
from . import charts, twin
from .bounds import CPU_KINDS
from .cells import Scenario
from .repeats import spread, verdict
from .result import dump, upgrade

_UNKNOWN = Scenario("", "", None)


def _bound_kind(row: dict) -> str | None:
    return SCENARIO.get(row["scenario"], _UNKNOWN).bound


def _table(rows: list[dict]) -> str:
    head = ("| scenario | model | users | requests | fail | rps | bound | fidelity | ± count | "
            "S ms | p50 | p95 | p99 | heartbeat p99/max | server CPU | locust CPU |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['scenario']} | {row['label']} | {row['users']} | error: "
                         f"{row['error'].splitlines()[0]} |" + " |" * 12)
            continue
        fid = spread(row, "fidelity")
        bound = "—" if row["bound_rps"] is None else f"{row['bound_rps']:.1f}"
        beat = ("—" if row["heartbeat_p99_ms"] is None
                else f"{spread(row, 'heartbeat_p99_ms', 0)} / {row['heartbeat_max_ms']:.0f}")
        flag = " ⚠" if row["locust_limited"] else ""
        lines.append(
            f"| {row['scenario']} | {row['label']} | {row['users']} | {row['requests']} | "
            f"{row['failures']} | {spread(row, 'rps', 1)} | {bound} | {fid} | "
            f"{_counting(row)} | {_service(row)} | {_ms(row['p50_ms'])} | "
            f"{_ms(row['p95_ms'])} | {_ms(row['p99_ms'])} | {beat} | "
            f"{row['server_cpu_pct']:.0f}% | {row['locust_cpu_pct']:.0f}%{flag} |")
    return "\n".join(lines)


def _counting(row: dict) -> str:
    """± how far counting alone can move rps (requests in progress ÷ completed)."""
    share = row.get("counting_uncertainty")
    return "—" if share is None or row.get("bound_rps") is None else f"±{share:.2f}"


def _service(row: dict) -> str:
    """The S the bound used: under load (L), in the idle server (I), or the whole server's
    CPU per request (W)."""
    if not row.get("bound_rps") or not row.get("service_time_ms"):
        return "—"
    source = {"load": " L", "idle": " I", "server": " W"}.get(row.get("service_source"), "")
    return f"{row['service_time_ms']:.1f}{source}"


def _repeats(settings: dict) -> list[str]:
    """The header's word on repeats, when a run has more than one per cell."""
    repeat = settings.get("repeat", 1)
    if repeat <= 1:
        return []
    return [f"Each cell ran {repeat} times, in rounds (every cell once, then again), so its runs "
            "lie minutes apart: rps, fidelity and heartbeat p99 are the median with the min–max "
            "in brackets; the other columns are the median-rps run's. A cell whose runs fall "
            "on both sides of the band is noise, not a finding.", ""]


def _samples(row: dict) -> str:
    samples = row.get("service_samples_ms")
    return f" ({' and '.join(f'{s:.0f}' for s in samples)} ms)" if samples else ""


def _drift(settings: dict) -> str:
    """The quiet-machine check: how far S moved over the timings at the start."""
    samples = settings.get("service_start_samples_s")
    if not samples:
        return ""
    return (f" (quiet-machine check: {len(samples)} timings at the start, "
            f"{min(samples) * 1000:.0f}–{max(samples) * 1000:.0f} ms, ±{drift(samples):.0%}: "
            "a cell's fidelity can move that much from the machine alone)")


def _timings(rows: list[dict]) -> str:
    """How the in-server S compares with the runner's cross-check timing of the same work."""
    ratios = sorted(r["service_time_ms"] / r["service_runner_ms"] for r in rows
                    if "error" not in r and r.get("service_runner_ms") and r["service_time_ms"])
    if not ratios:
        return ""
    return (f"Each bound's S is timed in the cell's own server (under the load, or two "
            f"idle requests just before the window). Against the runner's timing of the same "
            f"work, S in the server ÷ S in the runner was {statistics.median(ratios):.2f} "
            f"(median of {len(ratios)} cells; {ratios[0]:.2f}–{ratios[-1]:.2f}).")


def _under_load(rows: list[dict]) -> str:
    """How S under load compares with S timed in the idle server, in the cells that have both."""
    both = sorted((r["service_load_ms"] / r["service_idle_ms"], r["label"], r["scenario"])
                  for r in rows if "error" not in r and r.get("service_source") == "load"
                  and r.get("service_idle_ms"))
    if not both:
        return ""
    ratios = [ratio for ratio, _, _ in both]
    (low, *_), (high, label, scenario) = both[0], both[-1]
    return (f"S under load (L: the mean CPU seconds each `/prime` check took where it ran — "
            f"the server's thread, or the offload backend's process — during the window, from "
            f"its answers) ÷ S timed in the idle server "
            f"just before: median {statistics.median(ratios):.2f}, {low:.2f}–{high:.2f} over "
            f"{len(both)} cells (the highest: {scenario} | {label}). A bound resting on the idle "
            "timing would be off by as much.")


def _outliers(rows: list[dict], settings: dict) -> str:
    low, high = settings["fidelity_band"]
    ok = [r for r in rows if "error" not in r]
    odd = [r for r in ok if verdict(r, (low, high)) == "finding"]
    noise = [r for r in ok if verdict(r, (low, high)) == "noise"]
    limited = [r for r in rows if "error" not in r and r["locust_limited"]]
    lines = []
    for row in odd:
        # a lesson's own diagnosis replaces the line; its explanations add to it
        if whole := next((line for lesson in LESSONS if lesson.diagnose
                          and (line := lesson.diagnose(row, settings))), None):
            lines.append(whole)
            continue
        service_ms = row.get("service_time_ms") or settings["service_time_s"] * 1000
        text = (f"- {row['scenario']} | {row['label']}: fidelity {row['fidelity']:.2f} is "
                f"outside {low}–{high}; server CPU {row['server_cpu_pct']:.0f}%, "
                f"Locust CPU {row['locust_cpu_pct']:.0f}%.")
        text += "".join(lesson.explain(row, settings) for lesson in LESSONS if lesson.explain)
        per_request = row.get("server_cpu_ms_per_request")
        if _bound_kind(row) in CPU_KINDS and _bound_kind(row) != "offload" and per_request:
            timed = ("each check's own CPU under the load" if row.get("service_source") == "load"
                     else f"timed in the cell's idle server just before the window{_samples(row)}")
            text += (f" The server spent {per_request:.0f} ms of CPU per request against "
                     f"S = {service_ms:.0f} ms, {timed}: ")
            if per_request > 1.05 * service_ms:
                text += ("the work itself ran slower than S (GIL hand-offs, or a slower core "
                         "in this window), not a different model.")
            elif per_request < 0.95 * service_ms:
                text += ("the server did the work faster under load than alone, so the bound "
                         "is low for this window (this machine's speed drifts).")
            else:
                text += ("the work ran at the speed of S, so the difference lies in the "
                         "count or in idle server time (look at the load generator).")
        cpu_users = row["users"] - (row.get("heartbeat_requests") is not None)
        if _bound_kind(row) != "io" and row["requests"] < 40:
            judged = ("rps (the fidelity rests on Little's law, which it does not move)"
                      if row.get("fidelity_of") == "little" else "the fidelity")
            text += (f" Only {row['requests']} requests completed in the window: with up to "
                     f"{cpu_users} in progress at once, whose completions can come together, "
                     f"counting alone can move {judged} by up to "
                     f"±{cpu_users / max(1, row['requests']):.2f}.")
        lines.append(text)
    for row in noise:
        lines.append(f"- {row['scenario']} | {row['label']}: fidelity {spread(row, 'fidelity')} "
                     f"over {row['repeats']} runs crosses the {low}–{high} band: noise, not a "
                     "finding.")
    for row in limited:
        lines.append(f"- {row['scenario']} | {row['label']}: a Locust process used "
                     f"{row['locust_max_process_cpu_pct']:.0f}% of a core — the load generator "
                     "may be the limit; rerun with `--locust-processes 2`.")
    if not lines:
        return f"Every cell with a bound lies within fidelity {low}–{high}; no Locust process " \
               "was near a full core."
    return "\n".join(lines)


def _cells_part(results: dict) -> list[str]:
    """The preset, the windows and the cells' table, with their outliers."""
    settings, rows = results["settings"], results["cells"]
    return [
        f"Preset `{settings['preset']}`: per cell a warm-up (statistics reset after it), then "
        "a measured window ("
        + "; ".join(f"{k}: {w:g} s + {d:g} s" for k, (w, d) in settings["windows_s"].items())
        + f"); `/io` delay "
        f"{settings['delay_s']:g} s; `/prime/{settings['n']}` with S = "
        f"{settings['service_time_s'] * 1000:.0f} ms{_drift(settings)}"
        + (f", and `/prime/{settings['short_n']}` in the throughput cells (cpu)"
           if settings.get("short_n") else "")
        + f"; {settings['locust_processes']} Locust "
        f"process(es); {results['elapsed_s']:.0f} s in all.",
        "",
        *_repeats(settings),
        "rps = requests completed in the measured window ÷ its length; latencies are Locust's "
        "percentiles in ms; CPU is in percent of one core (psutil, master + workers for the "
        "server); in heartbeat cells rps and latencies are the `/prime` requests'. "
        "fidelity = X ÷ bound, where X is rps in the io cells and, in the CPU cells, Little's "
        "law for the closed loop: users ÷ their mean response time, which bursts of "
        "completions do not move. "
        "± count: how far counting alone can move rps (requests in progress ÷ "
        "requests completed: completions at the window's edges fall in or out). S: the "
        "service time the bound rests on, under the load (L), timed in the idle server "
        "just before (I), or the server's whole CPU per request under the load (W).",
        "",
        _table(rows),
        "",
        "## Outliers and limits",
        "",
        *((timings, "") if (timings := _timings(rows)) else ()),
        *((load, "") if (load := _under_load(rows)) else ()),
        _outliers(rows, settings),
        "",
    ]


def render_markdown(results: dict, chart_names: list[str]) -> str:
    results = upgrade(results)
    machine, settings, rows = results["machine"], results["settings"], results["cells"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    parts = [
        "# Worker-model matrix report",
        "",
        f"Machine: {machine['cpu_count']} cores, {machine['processor']}, {machine['platform']}, "
        f"Python {machine['python']}; {versions}.",
        *(_cells_part(results) if rows else
          ["", "No cells this run: only the lessons' observations below "
           f"({results['elapsed_s']:.0f} s in all).", ""]),
        *twin.section(rows, settings),
        "## Lessons",
        "",
    ]
    view = Results(results)
    for lesson in LESSONS:
        if section := lesson.section(view):
            parts += [section, "", *timelines(lesson, view)]
    if rows:
        parts += ["## The bounds and their assumptions", ""]
        parts += [f"- **{name}**: {text}" for name, text in settings["assumptions"].items()]
        parts += [""]
    parts += ["## Charts", ""]
    parts += [f"![{name}]({name})" for name in chart_names]
    return "\n".join(parts) + "\n"


def write_report(results: dict, out: Path) -> None:
    """``results.json`` (this schema's version), the charts and ``report.md`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    results = upgrade(results)
    dump(results, out / "results.json")
    view = Results(results)
    names = charts.overview(view.rows, out)
    names += charts.fidelity(view.rows, out, tuple(results["settings"]["fidelity_band"]))
    for lesson in LESSONS:
        if lesson.chart:
            names += lesson.chart(view, out)
    names += charts.cpu(view.rows, out)
    (out / "report.md").write_text(render_markdown(results, names))
