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
    return "\n".join([
        "### The frozen event loop: can a busy worker still answer?",
        "",
        "Two users keep `/prime` busy while one paced user asks `/health` every 50 ms. A gevent "
        "worker runs every request on one thread under one hub; `is_prime` never yields, so the "
        "hub cannot accept or answer anything until the prime ends — the heartbeat waits for "
        "whole primes. A gthread worker hands the GIL to the heartbeat's thread within a switch "
        "interval. A second process answers while the first computes, until both are busy.",
        "",
        _heartbeat_table(cells),
    ])


def _heartbeat_table(cells: list[dict]) -> str:
    lines = ["| cell | heartbeat p50 ms | p99 ms | max ms | /prime rps | bound |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in cells:
        bound = "—" if row["bound_rps"] is None else f"{row['bound_rps']:.1f}"
        lines.append(f"| {row['scenario']} {row['label']} | {_ms(row['heartbeat_p50_ms'])} | "
                     f"{_ms(row['heartbeat_p99_ms'])} | {_ms(row['heartbeat_max_ms'])} | "
                     f"{row['rps']:.1f} | {bound} |")
    return "\n".join(lines)


def _lesson_nap(rows: list[dict], settings: dict) -> str:
    naps = [r for r in rows if r["scenario"] == "nap" and "error" not in r]
    if not naps:
        return ""
    plain = [_find(rows, "heartbeat", r["label"]) for r in naps]
    s_nap = naps[0]["service_time_ms"] or 0
    s_plain = (plain[0] or {}).get("service_time_ms") or settings["service_time_s"] * 1000
    text = [
        "### Power napping: `sleep(0)` when `i % 100_000 == 1`",
        "",
        "`/prime/<n>?nap=1` is the book's napping check: `time.sleep(0)` when "
        "`i % 100_000 == 1`, which yields to the hub under gevent's patching and releases the "
        "GIL under threads. The heartbeat no longer waits for whole primes:",
        "",
        _heartbeat_table([r for r in plain if r] + naps),
        "",
        f"The cost is CPU: the napping check took S_nap = {s_nap:.0f} ms against S = "
        f"{s_plain:.0f} ms in the runner — mostly the modulo test on every division, not the "
        "naps — and its throughput falls in the same proportion. Under gevent the heartbeat "
        "still waits tens of naps: `sleep(0)` only queues a callback, and gevent's loop polls "
        "for I/O once per batch of callbacks (`CALLBACK_CHECK_COUNT` = 50, checked against the "
        "switch interval), not after each one as asyncio does.",
    ]
    return "\n".join(text)


def _lesson_gilfree(rows: list[dict], settings: dict) -> str:
    cells = [r for r in rows if r["scenario"] == "gilfree" and "error" not in r]
    if not cells:
        return ""
    s_hash = cells[0]["service_time_ms"] or 0
    lines = [
        "### GIL-free work: threads scale when C releases the GIL",
        "",
        f"`/hash?mb={settings.get('mb', 64)}` hashes in C (S_hash = {s_hash:.0f} ms). The "
        "chapter's rule: every blocking I/O call and some CPU-intensive C code — hashlib, zlib, "
        "bz2, NumPy — releases the GIL, so threads of one process can use several cores:",
        "",
    ]
    for row in cells:
        lines.append(f"- {row['label']}, {row['users']} users: {_rate(row)}; server CPU "
                     f"{row['server_cpu_pct']:.0f}% of a core.")
    one = _find(rows, "cpu", "gthread -w1 --threads 1")
    four = _find(rows, "cpu", "gthread -w1 --threads 4")
    if one and four:
        lines += ["", f"Contrast `/prime` on the same worker: {one['rps']:.1f} rps with 1 thread, "
                  f"{four['rps']:.1f} with 4 — pure Python never leaves the GIL."]
    return "\n".join(lines)


def _lesson_offload(rows: list[dict]) -> str:
    cells = [r for r in rows if r["scenario"] == "offload" and "error" not in r]
    if not cells:
        return ""
    plain = [_find(rows, "heartbeat", r["label"]) for r in cells]
    return "\n".join([
        "### Offload to processes: one worker, every core",
        "",
        "`/offload/prime/<n>` runs `is_prime` in the worker's own `ProcessPoolExecutor` "
        "(spawned after the fork, shut down with the worker). The worker only waits on the "
        "result — cooperatively under gevent — so it keeps answering, and the pool's processes "
        "compute on all cores: CPU throughput reaches cores ÷ S with a single gunicorn worker.",
        "",
        _heartbeat_table([r for r in plain if r] + cells),
    ])


def _lesson_switch(rows: list[dict]) -> str:
    cells = sorted(
        [r for r in rows if "error" not in r and r["scenario"] in ("switch", "heartbeat")
         and r["label"].startswith("gthread -w1 --threads 4")],
        key=lambda r: r["switch_interval"] or 0.005)
    if not any(r["scenario"] == "switch" for r in cells):
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
        lines.append(f"| {row['switch_interval'] or 0.005:g} | {_ms(row['heartbeat_p50_ms'])} | "
                     f"{_ms(row['heartbeat_p99_ms'])} | {_ms(row['heartbeat_max_ms'])} | "
                     f"{row['rps']:.1f} |")
    lines += ["", "A shorter interval answers sooner and costs the computing threads more "
              "hand-offs; a longer one starves the heartbeat."]
    return "\n".join(lines)


def _lesson_hub(rows: list[dict]) -> str:
    cells = [r for r in rows if "error" not in r and r.get("hub_blocked_reports") is not None]
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


def _lesson_spinner(spinner: list[dict]) -> str:
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
    for row in odd:
        service_ms = row.get("service_time_ms") or settings["service_time_s"] * 1000
        busy_cores = row["server_cpu_pct"] / 100
        if row["workers"] > 1 and busy_cores < 0.6 * min(row["workers"], row["cpu_count"]):
            lines.append(
                f"- {row['scenario']} | {row['label']}: fidelity {row['fidelity']:.2f} is "
                f"outside {low}–{high}: the server used {busy_cores:.1f} cores, and its busiest "
                f"process {row['server_max_process_cpu_pct']:.0f}% of one — one worker did the "
                "work of all. The users' keep-alive connections were not spread over the "
                "workers: gevent's server accepts up to `max_accept` (100) pending connections "
                "at once, so one worker can take all of them before it blocks in `is_prime`, "
                "and a connection stays with the worker that accepted it.")
            continue
        text = (f"- {row['scenario']} | {row['label']}: fidelity {row['fidelity']:.2f} is "
                f"outside {low}–{high}; server CPU {row['server_cpu_pct']:.0f}%, "
                f"Locust CPU {row['locust_cpu_pct']:.0f}%.")
        per_request = row.get("server_cpu_ms_per_request")
        if row["scenario"] not in ("io", "mixed", "offload") and per_request:
            text += (f" The server spent {per_request:.0f} ms of CPU per request against "
                     f"S = {service_ms:.0f} ms timed in the runner around the cell "
                     f"({row['service_before_ms']:.0f} ms before, "
                     f"{row['service_after_ms']:.0f} ms after): ")
            if per_request > 1.05 * service_ms:
                text += ("the work itself ran slower than S (GIL hand-offs, or a slower core "
                         "in this window), not a different model.")
            elif per_request < 0.95 * service_ms:
                text += ("the server did the work faster than the runner's timing of S, so the "
                         "bound is low for this window (this machine's speed drifts).")
            else:
                text += ("the work ran at the speed of S, so the difference lies in the "
                         "count or in idle server time (look at the load generator).")
        cpu_users = row["users"] - (row.get("heartbeat_requests") is not None)
        if row["scenario"] != "io" and row["requests"] < 40:
            text += (f" Only {row['requests']} requests completed in the window: with up to "
                     f"{cpu_users} in progress at once, whose completions can come together, "
                     f"counting alone can move the fidelity by up to "
                     f"±{cpu_users / row['requests']:.2f}.")
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
        f"Preset `{settings['preset']}`: per cell a warm-up (statistics reset after it), then "
        "a measured window ("
        + "; ".join(f"{k}: {w:g} s + {d:g} s" for k, (w, d) in settings["windows_s"].items())
        + f"); `/io` delay "
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
                   _lesson_cores(rows, machine["cpu_count"]), _lesson_heartbeat(rows),
                   _lesson_nap(rows, settings), _lesson_gilfree(rows, settings),
                   _lesson_offload(rows), _lesson_switch(rows), _lesson_hub(rows),
                   _lesson_spinner(results.get("spinner", []))):
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
    charts = write_charts(results["cells"], out, results.get("spinner", []))
    (out / "report.md").write_text(render_markdown(results, charts))
