"""Why the twin misses gthread -w2 on CPU work: one worker against two on the same cores.

The sweep's gthread -w2 --threads 4 on ``/prime`` measures a longer latency than its twin,
and its threads wait in the kernel's run queue far longer than sync's. To tell the second
worker's share from one worker's own threads, each round runs gthread -w2 at a rate, then
gthread -w1 --threads 4 at the rate the busier of the two workers had just answered: the
same load on one worker, with the other worker gone from the cores. Each run stands beside
its twin (the sweep's prediction: its own schedule, its S, its split) and reads the run
queue per answer. In PostgreSQL too (``/db``), where the sweep's tail runs long.
"""

from __future__ import annotations

import dataclasses

from . import openload
from . import opentraffic as sweep
from .band import span_of

#: (scenario, offered load of gthread -w2): CPU work below the knee, where the sweep's
#: gthread rows miss, and the database cell where its p99 runs short.
CASES = (("cpu", 0.6), ("db", 0.7))
LABEL = "gthread -w2 --threads 4"
ROUNDS, SECONDS, SEED = 3, 10.0, 5


def observe() -> list[dict]:
    """Two rows per round of each case, one run after another (they share the cores)."""
    return [row for scenario, rho in CASES for number in range(ROUNDS)
            for row in measure(scenario, rho, number)]


def measure(scenario: str, rho: float, number: int = 0) -> list[dict]:
    """gthread -w2 at ``rho`` of its capacity, then gthread -w1 at the busier worker's
    rate: each run's row, with its twin's prediction."""
    two = dict(sweep.MODELS)[LABEL]
    first = _run(two, LABEL, scenario,
                 lambda ceiling: min(sweep.MAX_RATE, rho * ceiling), number)
    busier = first["shares"][0] * first["rate_rps"]
    one = dataclasses.replace(two, workers=1)
    second = _run(one, "gthread -w1 --threads 4", scenario, lambda _: busier, number)
    return [first, second]


def _run(spec, label: str, scenario: str, rate_of, number: int) -> dict:
    """One fresh server's floor and capacity, then one open run at ``rate_of(capacity)``."""
    work, twin = sweep.WORKLOADS[scenario], sweep.twin_of(spec)
    with sweep.serving(spec, work, twin, SEED) as served:
        rate = rate_of(served.capacity_rps)
        summary, cpu_s = openload.measured(served.server, served.url, rate, SECONDS, SEED)
    row = sweep.predicted_row(label, served.spec, twin, summary, cpu_s, rate, work,
                              openload.schedule(rate, SECONDS, SEED), served)
    return {"kind": "pair", "scenario": scenario, "path": work.path, "round": number + 1,
            **row}


def lines(rows: list[dict]) -> list[str]:
    """The pairs' table and what it says: lines of the open-traffic lesson's section (a
    blank line first)."""
    if not rows:
        return []
    out = ["", "One worker against two: each round runs gthread -w2 --threads 4, then gthread "
           "-w1 --threads 4 at the rate the busier of the two workers answered (the same load "
           "on one worker, the other gone from the cores), each beside its twin. "
           "Predicted ÷ measured:", "",
           "| path | round | worker | rate /s | split | run queue ms | p50 ms | p99 ms | "
           "mean ms | p50 | p99 | mean |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        split = " / ".join(f"{share:.2f}" for share in row["shares"])
        out.append(f"| `{row['path'].split('?')[0]}` | {row['round']} | {row['label']} | "
                   f"{row['rate_rps']:.1f} | {split} | {row['run_queue_ms']:.1f} | "
                   f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['mean_ms']:.1f} | "
                   + " | ".join(f"{_ratio(row, at):.2f}" for at in ("p50", "p99", "mean"))
                   + " |")
    return [*out, "", *_reading(rows)]


def _ratio(row: dict, at: str) -> float:
    return row[f"predicted_{at}_ms"] / row[f"{at}_ms"]


def _reading(rows: list[dict]) -> list[str]:
    """Per path, the ratios' range with two workers and with one."""
    said = []
    for path in dict.fromkeys(row["path"].split("?")[0] for row in rows):
        mine = [row for row in rows if row["path"].startswith(path)]
        ranges = []
        for workers in (2, 1):
            ours = [row for row in mine if len(row["shares"]) == workers]
            ranges.append(f"with {'two workers' if workers == 2 else 'one'}, " + ", ".join(
                f"{at} {span_of([_ratio(r, at) for r in ours])}" for at in ("p50", "p99")))
        said.append(f"On `{path}` the twin stood {'; '.join(ranges)}.")
    return [" ".join(said)]
