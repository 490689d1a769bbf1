"""Why the twin misses gthread -w2 on CPU work: one worker against two on the same cores.

The sweep's gthread -w2 --threads 4 on ``/prime`` measures a longer latency than its twin,
and its threads wait in the kernel's run queue far longer than sync's. To tell the second
worker's share from one worker's own threads, each round runs gthread -w2 at a rate, then
gthread -w1 --threads 4 at the rate the busier of the two workers had just answered: the
same load on one worker, with the other worker gone from the cores. Where the sweep's twin
missed (``/prime``, and near the knee ``/mixed`` and ``/io``) a third run then serves
gthread -w2 at the first run's rate again with each worker pinned to a core of its own
(``PIN_CORES=1``): the twin gives each process's GIL holder a core, and the kernel, left
alone, does not always. Each run stands beside its twin (the sweep's prediction: its own
schedule, its S, its split) and reads the run queue per answer. In PostgreSQL too
(``/db``), where the sweep's tail runs long.
"""

from __future__ import annotations

import dataclasses

import psutil

from . import openload
from . import opentraffic as sweep
from .band import JUDGED_BELOW, span_of

#: (scenario, offered load of gthread -w2, whether a pinned run follows): CPU work below the
#: knee, where the sweep's gthread rows miss; the database cell, where its p99 ran short
#: (both now stand near their twins there); and the runs of ``/mixed`` and ``/io`` near the
#: knee that the sweep's twin missed.
CASES = (("cpu", 0.6, True), ("db", 0.7, False), ("mixed", 0.75, True), ("io", 0.8, True))
LABEL = "gthread -w2 --threads 4"
ONE = "gthread -w1 --threads 4"
#: The third run, where :data:`CASES` asks for it: the two workers again, each on a core of
#: its own.
PINNED = f"{LABEL} pinned"
#: How the reading names each run.
NAMES = {LABEL: "two workers", ONE: "one", PINNED: "two pinned to a core each"}
ROUNDS, SECONDS, SEED = 3, 10.0, 5


def observe() -> list[dict]:
    """Two or three rows per round of each case, one run after another (they share the
    cores)."""
    return [row for scenario, rho, pin in CASES for number in range(ROUNDS)
            for row in measure(scenario, rho, number, pin=pin)]


def measure(scenario: str, rho: float, number: int = 0, *, pin: bool = True) -> list[dict]:
    """gthread -w2 at ``rho`` of its capacity, then gthread -w1 at the busier worker's
    rate, and with ``pin`` gthread -w2 at the first's rate with ``PIN_CORES=1``: each run's
    row, with its twin's prediction."""
    two = dict(sweep.MODELS)[LABEL]
    first = _run(two, LABEL, scenario,
                 lambda ceiling: min(sweep.MAX_RATE, rho * ceiling), number)
    busier = first["shares"][0] * first["rate_rps"]
    one = dataclasses.replace(two, workers=1)
    second = _run(one, ONE, scenario, lambda _: busier, number)
    if not pin:
        return [first, second]
    pinned = dataclasses.replace(two, env=(*two.env, ("PIN_CORES", "1")))
    third = _run(pinned, PINNED, scenario, lambda _: first["rate_rps"], number)
    return [first, second, third]


def _run(spec, label: str, scenario: str, rate_of, number: int) -> dict:
    """One fresh server's floor and capacity, then one open run at ``rate_of(capacity)``."""
    work, twin = sweep.WORKLOADS[scenario], sweep.twin_of(spec)
    with sweep.serving(spec, work, twin, SEED) as served:
        rate = rate_of(served.capacity_rps)
        summary, cpu_s = openload.measured(served.server, served.url, rate, SECONDS, SEED)
        cores = [sorted(psutil.Process(pid).cpu_affinity())
                 for pid in served.server.worker_pids()]
    row = sweep.predicted_row(label, served.spec, twin, summary, cpu_s, rate, work,
                              openload.schedule(rate, SECONDS, SEED), served)
    # the cores each worker may run on, read while it served (pinned: one each)
    return {"kind": "pair", "scenario": scenario, "path": work.path, "round": number + 1,
            **row, "worker_cores": cores}


def lines(rows: list[dict]) -> list[str]:
    """The pairs' table and what it says: lines of the open-traffic lesson's section (a
    blank line first)."""
    if not rows:
        return []
    pinned = [_route(row) for row in rows if row["label"] == PINNED]
    then = (f"then, on {', '.join(f'`{path}`' for path in dict.fromkeys(pinned))}, gthread "
            "-w2 at the first run's rate again with each worker pinned to a core of its own "
            "(`PIN_CORES=1`, *pinned*), " if pinned else "")
    out = ["", "One worker against two: each round runs gthread -w2 --threads 4, then gthread "
           "-w1 --threads 4 at the rate the busier of the two workers answered (the same load "
           f"on one worker, the other gone from the cores), {then}each beside its twin. "
           "Predicted ÷ measured:", "",
           "| path | round | worker | rate /s | ρ | split | run queue ms | p50 ms | p99 ms | "
           "mean ms | p50 | p99 | mean |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        split = " / ".join(f"{share:.2f}" for share in row["shares"])
        out.append(f"| `{_route(row)}` | {row['round']} | {row['label']} | "
                   f"{row['rate_rps']:.1f} | {row['utilisation']:.2f} | {split} | "
                   f"{row['run_queue_ms']:.1f} | "
                   f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['mean_ms']:.1f} | "
                   + " | ".join(f"{_ratio(row, at):.2f}" for at in ("p50", "p99", "mean"))
                   + " |")
    return [*out, "", *_reading(rows)]


def _route(row: dict) -> str:
    """The row's path without its query: what the table and the reading name."""
    return row["path"].split("?")[0]


def _ratio(row: dict, at: str) -> float:
    return row[f"predicted_{at}_ms"] / row[f"{at}_ms"]


def _reading(rows: list[dict]) -> list[str]:
    """Per path, the ratios' range with two workers, with one, and with two pinned: the
    runs below ρ :data:`~.band.JUDGED_BELOW`, as the sweep judges its own."""
    said = []
    for path in dict.fromkeys(map(_route, rows)):
        mine = [row for row in rows if _route(row) == path]
        ranges = []
        for label in dict.fromkeys(row["label"] for row in mine):
            ours = [row for row in mine
                    if row["label"] == label and row["utilisation"] < JUDGED_BELOW]
            ranges.append(f"with {NAMES.get(label, label)}, " + (", ".join(
                f"{at} {span_of([_ratio(r, at) for r in ours])}" for at in ("p50", "p99"))
                if ours else f"no run below ρ {JUDGED_BELOW:g}"))
        said.append(f"On `{path}` the twin stood {'; '.join(ranges)}.")
    return [f"Below ρ {JUDGED_BELOW:g}: " + " ".join(said)]
