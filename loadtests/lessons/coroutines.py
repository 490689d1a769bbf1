"""Native coroutines: asyncio on gunicorn's asgi worker, side by side with gevent.

Both run every request of a worker on one thread under one event loop, so
both freeze under CPU work; they differ in how often the loop polls for I/O
while a check naps, in what they offer instead (``asyncio.to_thread``), and in
what a request costs.
"""

from __future__ import annotations

import math

from webapp.work.primes import NAP_EVERY

from ..matrix.cells import Scenario, cell
from .base import Lesson, Results, ms

IO = {m: cell("io", m, 1, users=100) for m in ("gevent", "asgi")}
FROZEN = {m: cell("heartbeat", m, 1, users=3) for m in ("gevent", "asgi")}
NAP = {m: cell("nap", m, 1, users=3) for m in ("gevent", "asgi")}
OFFLOAD = {m: cell("offload", m, 1, users=3) for m in ("gevent", "asgi")}
THREAD = cell("thread", "asgi", 1, users=3)
MODELS = ("gevent", "asgi")


def _cells(results: Results, cells: dict) -> list[dict | None]:
    return [results.row(cells[m]) for m in MODELS]


def _rps(row: dict | None) -> str:
    if not row:
        return "—"
    fidelity = "" if row["fidelity"] is None else f" ({row['fidelity']:.2f})"
    return f"{row['rps']:.1f}{fidelity}"


def _beat(row: dict | None) -> str:
    return "—" if not row else (f"{ms(row['heartbeat_p50_ms'])} / "
                                f"{ms(row['heartbeat_p99_ms'])}")


def _blocked(row: dict | None) -> str:
    if not row or row.get("hub_blocked_pct") is None:
        return "—"
    return f"{row['hub_blocked_s']:.1f} s ({row['hub_blocked_pct']:.0f}%)"


def _spinner(results: Results, model: str, query: str) -> str:
    rows = [r for r in results.extra("spinner")
            if r["label"] == f"{model} -w1" and r["query"] == query]
    return f"{rows[0]['frames_per_s']:.1f}" if rows else "—"


def section(results: Results) -> str:
    io, frozen = _cells(results, IO), _cells(results, FROZEN)
    nap, offload = _cells(results, NAP), _cells(results, OFFLOAD)
    thread = results.row(THREAD)
    if not any(r and r["worker_class"] == "asgi" for r in (*io, *frozen, *nap, *offload)):
        return ""
    table = [
        ("`/io` rps, 100 users (fidelity)", *map(_rps, io)),
        ("heartbeat p50 / p99 ms beside plain `/prime`", *map(_beat, frozen)),
        ("loop blocked (watchdog) beside plain `/prime`", *map(_blocked, frozen)),
        ("heartbeat p50 / p99 ms beside napping `/prime`", *map(_beat, nap)),
        ("napping `/prime` rps (fidelity)", *map(_rps, nap)),
        ("heartbeat p50 / p99 ms beside `to_thread`", "n/a", _beat(thread)),
        ("`to_thread` `/prime` rps (fidelity)", "n/a", _rps(thread)),
        ("heartbeat p50 / p99 ms beside offloaded `/prime`", *map(_beat, offload)),
        ("offloaded `/prime` rps (fidelity)", *map(_rps, offload)),
        ("spinner frames / s: plain, nap, offload",
         *(", ".join(_spinner(results, m, q) for q in ("—", "nap=1", "offload=1"))
           for m in MODELS)),
    ]
    lines = [
        "### gevent and asyncio side by side",
        "",
        "`-k asgi` is gunicorn's own asyncio worker serving the app's ASGI twin "
        "(`webapp/asyncapp`): every request a task on one event loop, as every request is a "
        "greenlet under gevent. Both freeze while a check holds the thread; both answer at "
        "once when the check runs elsewhere. Each has a watchdog thread that reports a 0.1 s "
        "period in which its loop did not run (gevent's own monitor; the lab's asyncio "
        "watchdog, `webapp/instrument/loopwatchdog.py`): reports × 0.1 s is a lower bound on "
        "the frozen time. Rows the run has no cells for are left out.",
        "",
        "| measure | gevent -w1 | asgi -w1 |",
        "|---|---:|---:|",
        *[f"| {name} | {a} | {b} |" for name, a, b in table
          if {a, b} - {"—", "n/a", "—, —, —"}],
    ]
    napping = next((r for r in nap if r and r["worker_class"] == "asgi"), None)
    if napping and napping.get("service_time_ms"):
        divisions = math.isqrt(results.settings["n"]) // 2
        naps = max(1, divisions // (NAP_EVERY // 2))
        slice_ms = napping["service_time_ms"] / naps
        lines += [
            "",
            f"Why napping helps asyncio more: `/prime/{results.settings['n']}` naps about "
            f"{naps} times, once per {NAP_EVERY // 2:,} divisions, so each slice between two "
            f"naps takes ≈ {slice_ms:.1f} ms. asyncio polls its selector on every pass of the "
            "loop, so the heartbeat's request moves one step (accept, read, respond) per pass, "
            f"each pass running one slice of each of the {napping['users'] - 1} napping checks. "
            "gevent runs up to 50 callbacks (`CALLBACK_CHECK_COUNT`) between two polls.",
        ]
    if thread:
        lines += [
            "",
            "`asyncio.to_thread` frees the loop but not the GIL: the checks run in the "
            "default executor's threads, one core's worth of Python per process "
            f"({thread['server_cpu_pct']:.0f}% server CPU), and the heartbeat pays the GIL "
            "hand-offs a gthread worker pays. Only the process pool computes on every core.",
        ]
    return "\n".join(lines)


LESSON = Lesson(
    book="A Concurrent Hello World — the spinner with coroutines",
    name="coroutines",
    section=section,
    scenarios={"thread": Scenario("heartbeat", "/prime", "cpu", heartbeat=True,
                                  extra=("--thread",))},
    assumptions={"thread": "asgi only: /prime?thread=1 runs is_prime in asyncio's default "
                           "executor; threads add nothing, so the cpu bound: min(cpu users, "
                           "workers, cores) / S."},
    # make demo: the heartbeat cell shows both the frozen loop and the 1 ÷ S ceiling, so the
    # plain cpu cells wait for the full preset; napping and offloading on asgi too, since
    # the offload backends came (keeping make demo within 2.5 minutes)
    quick=(IO["asgi"], FROZEN["asgi"]),
    timelines=(FROZEN["asgi"],),  # the frozen loop: tasks wait for the coroutine in a prime
    full=(NAP["asgi"], OFFLOAD["asgi"], cell("io", "asgi", 2, users=100),
          cell("cpu", "asgi", 1, users=8),
          cell("cpu", "asgi", 2, users=8), THREAD, cell("gilfree", "asgi", 1, users=4)),
)
