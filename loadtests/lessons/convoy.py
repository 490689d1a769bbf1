"""Mixed work on threads: a closed network near its knee, and the GIL's convoy beyond it.

Each ``/mixed`` request sleeps (the wait, ``--delay``) then computes ``MIXED_PRIME`` (about
13 ms of pure Python). A worker's requests in progress cycle between the sleep and its one
GIL: a closed queueing network, whose throughput mean value analysis gives exactly for a
FIFO server (``closed_rps``) -- below the asymptotes near the knee, where requests that
wake together queue. gthread falls short even of that: each time one of a request's
threads is woken (from its sleep; the worker's main thread before the request and after
its answer, to hand the connection back to the poller) it waits to take the GIL back
behind a computing thread, up to a switch interval -- the convoy effect (Beazley; CPython
bpo-7946). Its reads and writes, short releases, mostly take it back at once (measured in
:mod:`.observing.gilhop`). The timelines show where each
request's time went: asleep, on a CPU, waiting for a core, waiting for the GIL; and on an
event loop, the batches a frozen loop makes of the requests that arrive while it computes.
"""

from __future__ import annotations

from pathlib import Path

from webapp.work.primes import MIXED_PRIME, SHORT_PRIME

from ..matrix.cells import Scenario, cell, row_spec
from ..model.queueing import closed_customers, cpu_bound_rps, io_bound_rps
from ..timeline.data import mean_request_ms
from .base import Lesson, Results, ms

USERS = 50
DEFAULT = cell("convoy", "gthread", 2, 8, users=USERS)
#: The same with a switch interval of 0.5 ms: a thread waits a tenth as long for the GIL
FAST = cell("convoy", "gthread", 2, 8, users=USERS, switch=0.0005)
QUICK = (DEFAULT, FAST)
FULL = (cell("convoy", "gthread", 1, 4, users=USERS),
        cell("convoy", "gthread", 1, 8, users=USERS),
        cell("convoy", "gthread", 1, 16, users=USERS),
        cell("convoy", "gthread", 2, 4, users=USERS),
        cell("convoy", "gthread", 2, 16, users=USERS, reuse_port=True),
        cell("convoy", "gthread", 2, 8, users=USERS, switch=0.05),
        cell("convoy", "gthread", 2, 8, users=USERS, pin=True),
        cell("convoy", "gthread", 2, 8, users=USERS, reuse_port=True),
        cell("convoy", "gevent", 2, users=USERS, reuse_port=True),
        # the CPU slice per request: SHORT_PRIME, two to four times MIXED_PRIME's
        cell("convoylong", "gthread", 2, 8, users=USERS),
        cell("convoylong", "gthread", 2, 8, users=USERS, switch=0.0005))
SCENARIOS = ("convoy", "convoylong")


def asymptote(row: dict, delay: float, cores: int) -> float | None:
    """The bound as the other lessons draw it: min(users, slots) ÷ (delay + S) and
    min(users, workers, cores) ÷ S, whichever is lower."""
    s = (row.get("service_time_ms") or 0) / 1000
    if not s:
        return None
    slots = row_spec(row).slots
    return min(io_bound_rps(row["users"], slots, delay + s),
               cpu_bound_rps(row["users"], row["workers"], cores, s))


def phases(row: dict, delay: float) -> dict[str, float] | None:
    """A request's mean ms on the cell's thread workers: asleep, on a CPU, waiting for a
    core, and the rest of its time blocked -- for the GIL (its timeline's accounts)."""
    mean = mean_request_ms(row.get("trace"))
    if not mean:
        return None
    return {"asleep": delay * 1000, "cpu": mean["cpu"], "run queue": mean["run_queue"],
            "GIL": max(0.0, mean["blocked"] - delay * 1000), "in app": mean["in_app"],
            "idle": mean["idle_share"]}


def section(results: Results) -> str:
    rows = results.scenario(*SCENARIOS)
    if not rows:
        return ""
    delay, cores = results.settings["delay_s"], results.machine["cpu_count"]
    lines = [
        "### Mixed work on threads: the closed network and the GIL's convoy",
        "",
        f"{USERS} users ask `/mixed`: a {delay:g} s sleep, then `is_prime({MIXED_PRIME})` "
        f"(its own CPU: *check ms*; the *convoylong* rows check `{SHORT_PRIME}`, a longer "
        "slice). A worker's requests in progress cycle between the sleep "
        "and the worker's one GIL: a closed queueing network. Its bound here is the "
        "network's exact throughput by mean value analysis (*closed bound*), not the "
        "asymptote min(slots ÷ (delay + S), cores ÷ S) of the other lessons: near the knee, "
        "requests that wake together queue for the GIL, and the asymptote overstates. S, "
        "the GIL's demand, is all the Python a request runs (parsing, the framework, the "
        "check): the server's CPU per request under the load. On thread workers the "
        "timeline's accounts say where a request's time went (mean ms): asleep, on a CPU, "
        "waiting for a core (the OS's run queue), and blocked for the GIL.",
        "",
        "| cell | rps | closed bound | asymptote | fidelity | S ms | check ms | in app ms | "
        "CPU | run queue | GIL | threads idle | server CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        top = asymptote(row, delay, cores)
        split = phases(row, delay) or {}
        fidelity = "—" if row.get("fidelity") is None else f"{row['fidelity']:.2f}"
        lines.append(
            f"| {row['label']}{' (long)' if row['scenario'] == 'convoylong' else ''} | "
            f"{row['rps']:.1f} | {row['bound_rps'] or 0:.1f} | "
            f"{'—' if top is None else f'{top:.1f}'} | {fidelity} | "
            f"{row['service_time_ms'] or 0:.1f} | {row.get('service_load_ms') or 0:.1f} | "
            f"{ms(split.get('in app'))} | "
            f"{_ms1(split.get('cpu'))} | {_ms1(split.get('run queue'))} | "
            f"{_ms1(split.get('GIL'))} | {_share(split.get('idle'))} | "
            f"{row['server_cpu_pct']:.0f}% |")
    lines += ["", _finding(results, rows)]
    for row in rows:
        if text := _loop_batches(row):
            lines += ["", text]
    return "\n".join(lines)


def _loop_batches(row: dict) -> str:
    """An event-loop cell's own shortfall, from its timeline: the loop reads together every
    request that arrived while it computed; they sleep together, the core idle meanwhile."""
    workers = list((row.get("trace") or {}).get("workers", {}).values())
    if row["worker_class"] not in ("gevent", "asgi") or not workers \
            or "bursts" not in workers[0]:
        return ""
    ran = " and ".join(f"{sum(w['thread_cpu']):.2f}" for w in workers)
    bursts = " and ".join(f"{w['bursts']:.0%}" for w in workers)
    idle = " and ".join(f"{w.get('idle_holding', 0):.0%}" for w in workers)
    return (f"{row['label']} has no GIL handoffs, yet its workers ran {ran} of a core. Their "
            f"timelines: idle for {idle} of the window while they held requests, every one "
            "asleep. A loop busy computing reads nothing, so every request that arrived "
            f"meanwhile begins when it thaws ({bursts} of its requests began within 1 ms of "
            "the one before); those requests sleep together while the core idles, then "
            "compute one after another, and their clients answer together, so the batch "
            "comes back: the event loop's own convoy, outside the model too.")


def _ms1(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _finding(results: Results, rows: list[dict]) -> str:
    delay = results.settings["delay_s"]
    slow, fast = results.row(DEFAULT), results.row(FAST)
    text = ("Below the closed bound is the convoy: a request's threads are woken several "
            "times a request -- from its sleep; gthread's main thread before the request, to "
            "hand it to a thread, and after the answer, to hand the connection back to the "
            "poller -- and each time take the GIL back only after the computing thread's "
            "switch interval (5 ms by default) or its burst, whichever ends first: the *GIL* "
            "column, several times the queue a FIFO server would make. (Its reads and "
            "writes, short releases, mostly take the GIL back at once: the open-traffic "
            "lesson measures both.)")
    split_slow, split_fast = (phases(r, delay) if r else None for r in (slow, fast))
    if split_slow and split_fast and slow.get("fidelity") and fast.get("fidelity"):
        text += (f" A switch interval of 0.5 ms cut a request's GIL wait to "
                 f"{split_fast['GIL']:.1f} ms from {split_slow['GIL']:.1f}, and lengthened its "
                 f"wait for a core to {split_fast['run queue']:.1f} ms from "
                 f"{split_slow['run queue']:.1f} (ten times the switches, each a thread to "
                 f"wake on cores the other worker and Locust use too)")
        if split_fast.get("idle") is not None and split_slow.get("idle") is not None:
            text += (f", and left its threads idle between requests {split_fast['idle']:.0%} "
                     f"of the time instead of {split_slow['idle']:.0%} (the poller's share "
                     "of the GIL)")
        text += (f": {fast['rps']:.1f} rps (fidelity {fast['fidelity']:.2f}) against "
                 f"{slow['rps']:.1f} ({slow['fidelity']:.2f}).")
    return text + (" More threads do not hide it: they lengthen the queue each wake-up "
                   "waits in. Greenlets do not have it -- one thread, no GIL "
                   "handoffs -- but freeze their loop for each request's CPU.")


def chart(results: Results, out: Path) -> list[str]:
    """A request's time on each thread cell, stacked: asleep, CPU, run queue, GIL."""
    from ..matrix.charts import figure, save

    delay = results.settings["delay_s"]
    rows = [(row, split) for row in results.scenario(*SCENARIOS)
            if (split := phases(row, delay))]
    if not rows:
        return []
    fig, ax = figure(max(6.0, 1.1 * len(rows) + 2), 4.2)
    labels = [row["label"].replace(" --threads ", " t")
              + (" long" if row["scenario"] == "convoylong" else "") for row, _ in rows]
    bottom = [0.0] * len(rows)
    for part, colour in (("asleep", "tab:blue"), ("cpu", "tab:orange"),
                         ("run queue", "tab:gray"), ("GIL", "tab:red")):
        values = [split[part] for _, split in rows]
        ax.bar(range(len(rows)), values, 0.6, bottom=bottom, label=part, color=colour)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(range(len(rows)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("ms per request")
    ax.set_title("convoy: where a /mixed request's time went (thread workers, from the "
                 "timelines)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return [save(fig, out, "convoy.png")]


def explain(row: dict, settings: dict) -> str:
    """Why a thread worker falls short of its closed bound: the GIL's convoy, with its
    timeline's account of a request's time where the run traced it."""
    if row["scenario"] not in ("convoy", "convoylong") or row["worker_class"] != "gthread":
        return ""
    text = (" Its threads wait for the GIL longer than the closed network's queue: each short "
            "GIL release (reading the request, sending the answer, the poller's turn) costs a "
            "thread up to a switch interval to take it back behind a computing thread — the "
            "GIL's convoy, outside the model.")
    if mean := mean_request_ms(row.get("trace")):
        blocked, queued = mean["blocked"], mean["run_queue"]
        # the FIFO queue of the closed bound: each worker's N requests complete X_w a second,
        # so a cycle is N / X_w, of which the delay and S are not waiting
        per_worker = closed_customers(row["threads"] * row["workers"], row["workers"],
                                      row["users"])
        fifo_ms = (per_worker / (row["bound_rps"] / row["workers"]) - settings["delay_s"]) \
            * 1000 - row["service_time_ms"]
        text += (f" Its timeline: a request waited {blocked - settings['delay_s'] * 1000:.0f} "
                 f"ms for the GIL and {queued:.0f} ms for a core, where the closed network's "
                 f"FIFO queue would hold it {max(0.0, fifo_ms):.0f} ms, beside "
                 f"{row['service_time_ms']:.0f} ms of S.")
    return text


LESSON = Lesson(
    book="The Real Impact of the GIL — threads that wait behind one that computes",
    name="convoy",
    section=section,
    chart=chart,
    explain=explain,
    scenarios={"convoy": Scenario("convoy", "/mixed", "closed", n=MIXED_PRIME),
               "convoylong": Scenario("convoy", "/mixed", "closed", n=SHORT_PRIME)},
    assumptions={"convoy": "A closed network per worker, solved by mean value analysis: its "
                           "requests in progress (its slots, or its share of the users) each "
                           "sleep the delay, then need S at the worker's one GIL, served one "
                           "at a time (FIFO, exponential service: exact for that network); "
                           "the workers together at most cores ÷ S. S: the server's CPU per "
                           "request under the load (all of a request's Python holds the GIL, "
                           "not only its check). The GIL's convoy is outside the model.",
                 "convoylong": "As convoy, with a longer CPU slice per request "
                               "(SHORT_PRIME)."},
    quick=QUICK,
    full=FULL,
    timelines=QUICK,
    windows={"quick": (0.5, 3.0), "full": (2.0, 8.0)},  # convoylong: the same
)
