"""Slow clients and the buffering proxy: which models may face the internet directly.

k connections trickle a request header, one byte a second (slowloris), while the heartbeat
asks ``/health`` (each ask gives up after 2 s: a failure). A sync worker reads one request
at a time, a gthread worker one per thread: slow clients take those slots and the heartbeat
waits. gevent and asyncio hold a connection as a greenlet or a task, and answer. Behind
nginx -- which reads every request whole before it passes it on -- every model answers. The
observation adds slow *bodies* and slow *readers* of a large response, which hold whatever reads
or writes them unless nginx buffers the request or the response.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..matrix.cells import Scenario, cell
from ..servers import MODELS
from .base import Lesson, Results, ms, switched

#: Slow clients per cell: at or above the slots of sync (1) and gthread (4 threads).
K = 5


def _cell(model: str, k: int = K, proxy: str | None = None):
    return cell("slowclients", model, 1, 4 if model == "gthread" else 1, users=1, slow=k,
                proxy=proxy)


DIRECT = {m: _cell(m) for m in MODELS}
BEHIND = {m: _cell(m, proxy="nginx") for m in MODELS}
BELOW = _cell("gthread", 2)  # fewer slow clients than threads: a thread is left
#: What the proxy costs where nothing is slow: the same worker with and without nginx.
COST = tuple((cell(s, "gevent", 1, users=u), cell(s, "gevent", 1, users=u, proxy="nginx"))
             for s, u in (("health", 20), ("io", 100)))


def _beat(row: dict | None) -> str:
    if not row:
        return "—"
    asked = row["heartbeat_requests"] or 0
    failed = row.get("heartbeat_failures") or 0
    return (f"{ms(row['heartbeat_p50_ms'])} / {ms(row['heartbeat_p99_ms'])} / "
            f"{ms(row['heartbeat_max_ms'])} ({asked - failed} ok, {failed} failed)")


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _held_table(watched: list[dict]) -> list[str]:
    return [
        "| worker | front | slow clients | hung up after s | ended by | /health meanwhile "
        "| /health once they left |",
        "|---|---|---:|---:|---|---|---|",
        *[f"| {w['label']} | {w['front']} | {w['slow_clients']} | {_seconds(w['held_s'])} | "
          f"{w['ended_by']} | {w['health_during']} | {w['health_after']} |" for w in watched],
    ]


def section(results: Results) -> str:
    direct = {m: results.row(c) for m, c in DIRECT.items()}
    behind = {m: results.row(c) for m, c in BEHIND.items()}
    if not any(direct.values()) and not any(behind.values()):
        return ""
    lines = [
        "### Slow clients: who may face the internet directly",
        "",
        f"{K} connections send a request line and then one header byte a second "
        "(slowloris); the heartbeat asks `/health` every 0.05 s and gives up after 2 s. "
        "Heartbeat p50 / p99 / max in ms, with how many answered and failed in the window:",
        "",
        "| worker | direct | behind nginx |",
        "|---|---|---|",
        *[f"| {DIRECT[m].spec.label} | {_beat(direct[m])} | {_beat(behind[m])} |"
          for m in MODELS if direct[m] or behind[m]],
    ]
    below = results.row(BELOW)
    if below:
        lines += ["", f"gthread with 2 slow clients, fewer than its 4 threads: {_beat(below)} — "
                  "a free thread answers; the pool is only as deep as its threads."]
    observed = results.extra("slowclients") or []
    watched = [w for w in observed if w.get("kind", "header") == "header"]
    bodies = [w for w in observed if w.get("kind") == "body"]
    readers = [w for w in observed if w.get("kind") == "reader"]
    if watched:
        lines += ["", "How long a slow client holds the server (each model's own settings, the "
                  "lab's defaults; `loadtests/lessons/observing/slowclients.py`): the first "
                  "time the server hung up on one, and what ended it.", "", *_held_table(watched)]
    if bodies:
        lines += ["", "Slow bodies: a whole header announcing 1 MiB to `/upload`, then one body "
                  "byte a second.", "", *_held_table(bodies)]
    if readers:
        first = readers[0]
        lines += [
            "",
            f"Slow readers: each asks for {first['mb']} MiB of `/download` and reads "
            f"{first['read_kib_s']} KiB a second (a 16 KiB receive buffer); `/health` is asked "
            "once they are reading. With `X-Accel-Buffering: no` (`?unbuffered=1`) the app "
            "asks nginx not to buffer the response.",
            "",
            "| worker | front | slow readers | /health meanwhile |",
            "|---|---|---:|---|",
            *[f"| {w['label']} | {w['front']} | {w['slow_clients']} | {w['health_during']} |"
              for w in readers],
        ]
    cost = results.pairs(COST)
    if cost:
        lines += ["", "What nginx costs where nothing is slow (the same gevent -w1 worker):", "",
                  "| load | direct rps | behind nginx rps | direct p50 ms | behind nginx p50 ms |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {a['scenario']}, {a['users']} users | {a['rps']:.0f} | {b['rps']:.0f} | "
                  f"{ms(a['p50_ms'])} | {ms(b['p50_ms'])} |" for a, b in cost]
    return "\n".join(lines)


def chart(results: Results, out: Path) -> list[str]:
    from ..matrix.charts import bars, figure, save

    pairs = [(m, results.row(DIRECT[m]), results.row(BEHIND[m])) for m in MODELS]
    pairs = [(m, a, b) for m, a, b in pairs if a or b]
    if not pairs:
        return []

    def p99(row):  # a heartbeat that timed out is no answer, not a 2 s latency
        row = row or {}
        if row.get("heartbeat_failures", 0) >= row.get("heartbeat_requests", 1):
            return None
        return row.get("heartbeat_p99_ms")

    fig, ax = figure(8)
    bars(ax, [m for m, _, _ in pairs],
         {"direct": [p99(a) for _, a, _ in pairs], "behind nginx": [p99(b) for _, _, b in pairs]},
         log=True, missing="no answer")
    ax.set_title(f"/health p99 beside {K} slow clients (no answer: heartbeats timed out)",
                 fontsize=10)
    ax.set_ylabel("ms (log)")
    return [save(fig, out, "slowclients.png")]


def observe(args: argparse.Namespace) -> list[dict]:
    from .observing.slowclients import watch

    return watch()


LESSON = Lesson(
    book="Python in the Multicore World — WSGI application servers behind a proxy",
    name="slowclients",
    section=section,
    chart=chart,
    observation=switched("slowwatch", "also watch how long slow clients (slow headers, "
                                      "bodies and readers) hold each model, direct and behind "
                                      "nginx (about 45 s)", observe, needs=("nginx",)),
    scenarios={"slowclients": Scenario("slowclients", "heartbeat", None, heartbeat=True,
                                       extra=("--heartbeat-timeout", "2"))},
    assumptions={"slowclients": "No bound: k slowloris connections (a header byte a second) "
                                "beside the heartbeat; what counts is whether /health answers."},
    quick=(DIRECT["sync"], BEHIND["sync"]),
    # direct, the worker is held by a slow socket and serves nothing; behind nginx, it serves
    timelines=(DIRECT["sync"], BEHIND["sync"]),
    # a heartbeat every 0.05 s: 2.5 s hold ~50 behind nginx, and a timed-out one direct
    windows={"quick": (0.5, 2.5), "full": (2.0, 8.0)},
    full=(*DIRECT.values(), *BEHIND.values(), BELOW, *(b for _, b in COST)),
)
