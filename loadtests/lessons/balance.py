"""Connection balance: which worker accepts a connection, and gunicorn's ``reuse_port`` remedy.

Under load, a gevent worker accepts up to ``max_accept`` pending connections
at once, so the first worker to wake can take every user's keep-alive
connection before it blocks in ``is_prime``; a connection stays with its
worker. With ``REUSE_PORT=1`` each worker listens on its own ``SO_REUSEPORT``
socket and the kernel hashes each new connection to one of them.

Its observation (``--at-once``, :mod:`.observing.balance`) opens the connections all at once
with wrk, a second client, against gthread and asgi: how they split between the workers,
what that costs against the bound, and what the twin predicts fed the split.
"""

from __future__ import annotations

import argparse
import statistics

from ..matrix.cells import cell
from .base import Lesson, Results, switched

PAIRS = tuple((cell(scenario, "gevent", 2, users=users),
               cell(scenario, "gevent", 2, users=users, reuse_port=True))
              for scenario, users in (("cpu", 8), ("heartbeat", 3)))


def _connections(row: dict) -> int:
    """How many keep-alive connections carry the cell's CPU load."""
    return row["users"] - (row.get("heartbeat_requests") is not None)


def section(results: Results) -> str:
    parts = [_reuse_port(results), _at_once(results)]
    return "\n\n".join(part for part in parts if part)


def _reuse_port(results: Results) -> str:
    pairs = results.pairs(PAIRS)
    if not pairs:
        return ""
    lines = [
        "### Connection balance: `reuse_port` spreads connections over the workers",
        "",
        "Two gevent workers, one listening socket: under CPU load the first worker to wake "
        "may accept every keep-alive connection (gevent accepts up to `max_accept` pending "
        "connections at once) and keep them; the other idles. With `REUSE_PORT=1` gunicorn "
        "gives each worker its own `SO_REUSEPORT` socket and the kernel hashes each new "
        "connection to one of them:",
        "",
        "| cell | rps | fidelity | server CPU | busiest process |",
        "|---|---:|---:|---:|---:|",
    ]
    for pair in pairs:
        for row in pair:
            fidelity = "—" if row["fidelity"] is None else f"{row['fidelity']:.2f}"
            lines.append(f"| {row['scenario']} {row['label']} | {row['rps']:.1f} | {fidelity} | "
                         f"{row['server_cpu_pct']:.0f}% | "
                         f"{row['server_max_process_cpu_pct']:.0f}% |")
    hashed = ", ".join(f"{k} connections: {2 ** (1 - k):.0%}"
                       for k in sorted({_connections(a) for a, _ in pairs}))
    lines += ["", "Hashing spreads only what it is given: the chance that all k connections "
              f"land on one of two workers is 2 × ½ᵏ ({hashed}), so a cell with few "
              "connections can still run on one worker in some runs."]
    return "\n".join(lines)


def _at_once(results: Results) -> str:
    rows = results.extra("balance")
    if not rows:
        return ""
    cases: dict[tuple, list[dict]] = {}
    for row in rows:
        cases.setdefault((row["label"], row["path"], row["connections"], row["remedy"]),
                         []).append(row)
    runs = max(len(case) for case in cases.values())
    lines = [
        "### Connections opened at once (wrk): gthread and asyncio split them too",
        "",
        "wrk opens all its connections when it starts and keeps each one, as nginx's "
        "upstream keep-alive pool and most benchmark clients do; Locust's users ramp up. "
        f"Each case ran {runs} times on one server; once every connection was accepted, "
        "psutil counted each worker's. The bound assumes the requests spread over the slots "
        "(as the matrix's bounds do); the twin (`loadtests.model.simulate`, a closed loop) "
        "is fed each run's split, each connection pinned to its worker, and S measured in "
        "the same run. Behind nginx, wrk's connections end at nginx, and the split counted "
        "is of nginx's own connections to the workers; where its pool is smaller than "
        "wrk's connections they come and go, so the table gives each worker's share of the "
        "answers, and the twin is fed that split, each request going to a worker by it:",
        "",
        "| server | work | connections | remedy | connections per worker, each run "
        "| runs with ¾ on one | rps, lowest – highest | bound (spread) | lowest fidelity "
        "| twin ÷ measured |",
        "|---|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for (label, path, connections, remedy), case in cases.items():
        splits = " · ".join(map(_split, case))
        rates = [row["rps"] for row in case]
        ratios = [row["predicted_rps"] / row["rps"] for row in case]
        lines.append(
            f"| {label} | `{path}` | {connections} | {remedy or '—'} | {splits} "
            f"| {sum(_lopsided(row) for row in case)} of {len(case)} "
            f"| {min(rates):.1f} – {max(rates):.1f} "
            f"| {statistics.median(row['bound_rps'] for row in case):.1f} "
            f"| {min(row['fidelity'] for row in case):.2f} "
            f"| {min(ratios):.2f} – {max(ratios):.2f} |")
    ratios = [row["predicted_rps"] / row["rps"] for row in rows]
    lines += _behind_nginx(rows)
    lines += [
        "",
        "gthread's loop accepts one connection per turn, and asyncio's (gunicorn's asgi "
        "worker) up to 100 pending connections in one turn (`create_server`'s backlog); "
        "both workers wake, and which woke first, and how far ahead it got, decides the "
        "split, run by run. A worker left fewer connections than its threads idles the "
        "rest (gthread on waiting work); a worker left none loses its core (asgi on CPU "
        "work). More connections do not change who wakes first. `REUSE_PORT=1` gives each "
        "worker its own socket, and the kernel hashes each connection to one of them.",
        "",
        f"Fed each run's split, the twin's rate was {min(ratios):.2f}–{max(ratios):.2f} of "
        f"the measured one in all {len(rows)} runs; the bound that assumes a spread load "
        f"was as far as {1 / min(row['fidelity'] for row in rows):.1f}× above it.",
    ]
    return "\n".join(lines)


def _behind_nginx(rows: list[dict]) -> list[str]:
    """What nginx's upstream keep-alive pool did to the split: lines of the section."""
    pools: dict[int, list[dict]] = {}
    for row in rows:
        if row.get("pool"):
            pools.setdefault(row["pool"], []).append(row)
    if not pools:
        return []
    said = "; ".join(f"with a pool of {pool} ({'as many as' if case[0]['kept'] else 'fewer than'}"
                     f" wrk's {case[0]['connections']}), {sum(map(_lopsided, case))} of "
                     f"{len(case)} runs had ¾ or more on one worker "
                     f"({'connections' if case[0]['kept'] else 'answers'}), at "
                     f"{min(row['rps'] for row in case):.1f}–{max(row['rps'] for row in case):.1f}"
                     " rps" for pool, case in sorted(pools.items(), reverse=True))
    return ["", f"nginx in front does not reliably even it: nginx opens its "
                f"connections to the workers as wrk's requests reach it, all at once, and "
                f"a pool keeps what it opened; a smaller one closes the rest once answered "
                f"and opens new ones, which the worker that wakes first accepts again. "
                f"Here, {said}."]


def _split(row: dict) -> str:
    """Each worker's connections in the run ("12/4"), or where they came and went (behind
    a small nginx pool) each worker's share of the answers ("answers 0.62/0.38")."""
    if row.get("kept", True):
        return "/".join(map(str, row["split"]))
    total = sum(row["answers"]) or 1
    return "answers " + "/".join(f"{n / total:.2f}" for n in row["answers"])


def _lopsided(row: dict) -> bool:
    """Whether one worker held three quarters of the run's connections or more (behind a
    small nginx pool: gave three quarters of the answers or more)."""
    held = row["split"] if row.get("kept", True) else row["answers"]
    return held[0] >= 0.75 * sum(held)


def _observe(args: argparse.Namespace) -> list[dict]:
    from ..services.fleet import lacking
    from .observing.balance import observe

    if reason := lacking(("wrk",)):
        print(f"at-once: skipped: {reason}")
        return []
    return observe()


def diagnose(row: dict, settings: dict) -> str | None:
    """One worker did the work of all: the server short of its cores, and its busiest
    process carrying most of what it did."""
    busy_cores = row["server_cpu_pct"] / 100
    if not (row["workers"] > 1 and busy_cores < 0.6 * min(row["workers"], row["cpu_count"])
            and row["server_max_process_cpu_pct"] >= 0.75 * row["server_cpu_pct"]):
        return None
    low, high = settings["fidelity_band"]
    return (f"- {row['scenario']} | {row['label']}: fidelity {row['fidelity']:.2f} is "
            f"outside {low}–{high}: the server used {busy_cores:.1f} cores, and its busiest "
            f"process {row['server_max_process_cpu_pct']:.0f}% of one — one worker did the "
            "work of all. The users' keep-alive connections were not spread over the "
            "workers: gevent's server accepts up to `max_accept` (100) pending connections "
            "at once, so one worker can take all of them before it blocks in `is_prime`, "
            "and a connection stays with the worker that accepted it.")


LESSON = Lesson(
    book="Python in the Multicore World — WSGI application servers' workers",
    name="balance",
    section=section,
    diagnose=diagnose,
    full=tuple(remedy for _, remedy in PAIRS),  # the plain -w2 cells: cores, heartbeat
    observation=switched("at-once", "also open wrk's connections all at once against "
                                    "gthread and asgi -w2, and behind nginx: the split and "
                                    "its cost (about 100 s)",
                         _observe, whole_preset=True, needs=("wrk",)),
)
