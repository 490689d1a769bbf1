"""Write a matrix run's report: results.json, report.md and PNG charts.

The prose is generated from the numbers, so a report always explains the
run it belongs to; each lesson names the cells it is drawn from.
"""

from __future__ import annotations

import json
from pathlib import Path

from .charts import write_charts


def _find(rows: list[dict], scenario: str, label: str) -> dict | None:
    for row in rows:
        if row["scenario"] == scenario and row["label"] == label and "error" not in row:
            return row
    return None


def _rate(row: dict) -> str:
    text = f"**{row['rps']:.1f} rps**"
    if row.get("bound_rps"):
        text += f" against a bound of {row['bound_rps']:.1f} (fidelity {row['fidelity']:.2f})"
    return text


def _lesson_io(rows: list[dict], settings: dict) -> str:
    cells = [r for r in rows if r["scenario"] == "io" and "error" not in r]
    if not cells:
        return ""
    lines = [
        "### Blocking I/O: slots, not cores",
        "",
        f"Each `/io` request sleeps {settings['delay_s']:g} s. By Little's law a closed loop of "
        "users with no think time completes X = (requests in progress) ÷ (time each takes), so the "
        "ceiling is min(users, slots) ÷ delay, where a sync worker holds one request, a gthread "
        "worker one per thread, and a gevent worker up to `worker_connections` greenlets. "
        "`time.sleep` releases the GIL under threads and yields to the hub under gevent's "
        "monkey-patching, so the CPU hardly matters here:",
        "",
    ]
    for row in cells:
        lines.append(f"- {row['label']}, {row['users']} users: {_rate(row)}; server CPU "
                     f"{row['server_cpu_pct']:.0f}% of a core.")
    return "\n".join(lines)


def _lesson_gil(rows: list[dict], settings: dict) -> str:
    one = _find(rows, "cpu", "gthread -w1 --threads 1")
    four = _find(rows, "cpu", "gthread -w1 --threads 4")
    gevent = _find(rows, "cpu", "gevent -w1")
    sync = _find(rows, "cpu", "sync -w1")
    if not (one and four):
        return ""
    text = [
        "### The GIL: threads do not add CPU",
        "",
        f"`is_prime` is pure Python and holds the GIL; S = {settings['service_time_s'] * 1000:.0f}"
        " ms per call in one process. One gthread worker with 1 thread served "
        f"{_rate(one)}; with 4 threads {_rate(four)} — "
        f"{four['rps'] / one['rps']:.2f}× as much, and its server CPU stayed at "
        f"{four['server_cpu_pct']:.0f}% of a core: the threads take turns holding the GIL "
        "(handing it over every switch interval), so a process runs one core's worth of Python.",
    ]
    others = [r for r in (sync, gevent) if r]
    if others:
        text.append(" The same ceiling holds for " + " and ".join(
            f"{r['label']} ({r['rps']:.1f} rps)" for r in others) + ".")
    return "\n".join(text)


def _lesson_cores(rows: list[dict], cores: int) -> str:
    pairs = [(_find(rows, "cpu", f"{m} -w1"), _find(rows, "cpu", f"{m} -w2"))
             for m in ("sync", "gevent")]
    pairs = [(a, b) for a, b in pairs if a and b]
    if not pairs:
        return ""
    lines = [
        "### Multiple cores: only processes use them",
        "",
        f"This machine has {cores} cores. A second worker *process* has its own interpreter and "
        "its own GIL, so CPU-bound throughput scales with min(workers, cores):",
        "",
    ]
    for one, two in pairs:
        lines.append(
            f"- {one['label']} → {two['label']}: {one['rps']:.1f} → {two['rps']:.1f} rps "
            f"(×{two['rps'] / one['rps']:.2f}); server CPU {one['server_cpu_pct']:.0f}% → "
            f"{two['server_cpu_pct']:.0f}%.")
    lines += ["", "The book's process-based prime checker shows the same: its speed-up stops at "
              "the core count (`shared/chapter/facts.md`)."]
    return "\n".join(lines)


def _lesson_heartbeat(rows: list[dict]) -> str:
    cells = [r for r in rows if r["scenario"] == "heartbeat" and "error" not in r]
    if not cells:
        return ""
    lines = [
        "### The frozen event loop: can a busy worker still answer?",
        "",
        "Two users keep `/prime` busy while one paced user asks `/health` every 50 ms. A gevent "
        "worker runs every request on one thread under one hub; `is_prime` never yields, so the "
        "hub cannot accept or answer anything until the prime ends — the heartbeat waits for "
        "whole primes. A gthread worker hands the GIL to the heartbeat's thread within a switch "
        "interval. A second process answers while the first computes, until both are busy.",
        "",
        "| model | heartbeat p50 ms | p99 ms | max ms | /prime rps |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in cells:
        lines.append(f"| {row['label']} | {row['heartbeat_p50_ms']:.0f} | "
                     f"{row['heartbeat_p99_ms']:.0f} | {row['heartbeat_max_ms']:.0f} | "
                     f"{row['rps']:.1f} |")
    return "\n".join(lines)


def _table(rows: list[dict]) -> str:
    head = ("| scenario | model | users | requests | fail | rps | bound | fidelity | p50 | p95 | "
            "p99 | heartbeat p99/max | server CPU | locust CPU |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['scenario']} | {row['label']} | {row['users']} | error: "
                         f"{row['error'].splitlines()[0]} |" + " |" * 10)
            continue
        fid = "—" if row["fidelity"] is None else f"{row['fidelity']:.2f}"
        bound = "—" if row["bound_rps"] is None else f"{row['bound_rps']:.1f}"
        beat = ("—" if row["heartbeat_p99_ms"] is None
                else f"{row['heartbeat_p99_ms']:.0f} / {row['heartbeat_max_ms']:.0f}")
        flag = " ⚠" if row["locust_limited"] else ""
        lines.append(
            f"| {row['scenario']} | {row['label']} | {row['users']} | {row['requests']} | "
            f"{row['failures']} | {row['rps']:.1f} | {bound} | {fid} | {_ms(row['p50_ms'])} | "
            f"{_ms(row['p95_ms'])} | {_ms(row['p99_ms'])} | {beat} | "
            f"{row['server_cpu_pct']:.0f}% | {row['locust_cpu_pct']:.0f}%{flag} |")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _outliers(rows: list[dict], settings: dict) -> str:
    low, high = settings["fidelity_band"]
    odd = [r for r in rows if "error" not in r and r["fidelity"] is not None
           and not low <= r["fidelity"] <= high]
    limited = [r for r in rows if "error" not in r and r["locust_limited"]]
    lines = []
    service_ms = settings["service_time_s"] * 1000
    for row in odd:
        text = (f"- {row['scenario']} | {row['label']}: fidelity {row['fidelity']:.2f} is "
                f"outside {low}–{high}; server CPU {row['server_cpu_pct']:.0f}%, "
                f"Locust CPU {row['locust_cpu_pct']:.0f}%.")
        per_request = row.get("server_cpu_ms_per_request")
        if row["scenario"] in ("cpu", "heartbeat") and per_request:
            text += (f" The server spent {per_request:.0f} ms of CPU per request against "
                     f"S = {service_ms:.0f} ms timed in the runner at the start, and "
                     f"{row['runner_s_after_ms']:.0f} ms right after this cell: ")
            text += ("the work itself ran slower than S (a slower core in this window, or "
                     "GIL hand-offs), not a different model." if per_request > 1.05 * service_ms
                     else "the work ran at the speed of S, so the time went elsewhere (an idle "
                     "server: look at the load generator).")
        lines.append(text)
    for row in limited:
        lines.append(f"- {row['scenario']} | {row['label']}: a Locust process used "
                     f"{row['locust_max_process_cpu_pct']:.0f}% of a core — the load generator "
                     "may be the limit; rerun with `--locust-processes 2`.")
    if not lines:
        return f"Every cell with a bound lies within fidelity {low}–{high}; no Locust process " \
               "was near a full core."
    return "\n".join(lines)


def render_markdown(results: dict, charts: list[str]) -> str:
    machine, settings, rows = results["machine"], results["settings"], results["cells"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    parts = [
        "# Worker-model matrix report",
        "",
        f"Machine: {machine['cpu_count']} cores, {machine['processor']}, {machine['platform']}, "
        f"Python {machine['python']}; {versions}.",
        f"Preset `{settings['preset']}`: {settings['warmup_s']:g} s warm-up (statistics reset "
        f"after it) and {settings['duration_s']:g} s measured per cell; `/io` delay "
        f"{settings['delay_s']:g} s; `/prime/{settings['n']}` with S = "
        f"{settings['service_time_s'] * 1000:.0f} ms; {settings['locust_processes']} Locust "
        f"process(es); {results['elapsed_s']:.0f} s in all.",
        "",
        "rps = requests completed in the measured window ÷ its length; latencies are Locust's "
        "percentiles in ms; CPU is in percent of one core (psutil, master + workers for the "
        "server); in heartbeat cells rps and latencies are the `/prime` requests'.",
        "",
        _table(rows),
        "",
        "## Outliers and limits",
        "",
        _outliers(rows, settings),
        "",
        "## Lessons",
        "",
    ]
    for lesson in (_lesson_io(rows, settings), _lesson_gil(rows, settings),
                   _lesson_cores(rows, machine["cpu_count"]), _lesson_heartbeat(rows)):
        if lesson:
            parts += [lesson, ""]
    parts += ["## The bounds and their assumptions", ""]
    parts += [f"- **{name}**: {text}" for name, text in settings["assumptions"].items()]
    parts += ["", "## Charts", ""]
    parts += [f"![{name}]({name})" for name in charts]
    return "\n".join(parts) + "\n"


def write_report(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    charts = write_charts(results["cells"], out)
    (out / "report.md").write_text(render_markdown(results, charts))
