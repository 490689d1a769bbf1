"""Connection balance: which worker accepts a connection, and gunicorn's ``reuse_port`` remedy.

Under load, a gevent worker accepts up to ``max_accept`` pending connections
at once, so the first worker to wake can take every user's keep-alive
connection before it blocks in ``is_prime``; a connection stays with its
worker. With ``REUSE_PORT=1`` each worker listens on its own ``SO_REUSEPORT``
socket and the kernel hashes each new connection to one of them.
"""

from __future__ import annotations

from ..matrix.cells import cell
from .base import Lesson, Results

PAIRS = tuple((cell(scenario, "gevent", 2, users=users),
               cell(scenario, "gevent", 2, users=users, reuse_port=True))
              for scenario, users in (("cpu", 8), ("heartbeat", 3)))


def _connections(row: dict) -> int:
    """How many keep-alive connections carry the cell's CPU load."""
    return row["users"] - (row.get("heartbeat_requests") is not None)


def section(results: Results) -> str:
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
)
