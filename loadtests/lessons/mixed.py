"""Mixed load: I/O requests stuck behind CPU work on the same workers (no single bound)."""

from __future__ import annotations

from ..matrix.cells import Scenario, cell
from .base import Lesson, Results, ms


def section(results: Results) -> str:
    rows = results.scenario("mixed")
    if not rows:
        return ""
    lines = [
        "### Mixed load: I/O stuck behind CPU work",
        "",
        "Half the users ask `/io` (a 0.1 s sleep), half `/prime`, on the same workers. No "
        "single bound judges these cells: the slots hold the waiting, the cores the CPU, and "
        "an `/io` request that lands on a worker busy in `is_prime` waits for it. The rates "
        "and latencies are of both kinds together:",
        "",
        "| cell | users | rps | p50 ms | p99 ms | server CPU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {row['label']} | {row['users']} | {row['rps']:.1f} | {ms(row['p50_ms'])} | "
              f"{ms(row['p99_ms'])} | {row['server_cpu_pct']:.0f}% |" for row in rows]
    slowest = max(rows, key=lambda row: row["p99_ms"] or 0)
    lines += ["", f"An `/io` request alone takes 0.1 s and a prime S = "
              f"{results.settings['service_time_s']:.2f} s; the slowest p99 here, "
              f"{ms(slowest['p99_ms'])} ms on {slowest['label']}, is requests waiting behind "
              "the primes on their worker. Threads hand the GIL to a waking sleeper within a "
              "switch interval; a sync worker, or a gevent loop busy in a prime, holds every "
              "request it has until the prime ends."]
    return "\n".join(lines)


LESSON = Lesson(
    book="The Real Impact of the GIL — I/O stuck behind CPU work",
    name="mixed",
    section=section,
    scenarios={"mixed": Scenario("mixed", "Aggregated", None)},
    assumptions={"mixed": "No single-resource bound: I/O and CPU requests share the workers, "
                          "so no fidelity is computed."},
    full=(cell("mixed", "sync", 2, users=20), cell("mixed", "gthread", 2, 8, users=20),
          cell("mixed", "gevent", 1, users=20), cell("mixed", "gevent", 2, users=20)),
)
