"""Why the twin's p99 falls short on CPU work: each request's own Python, replayed.

The sweep gives the twin the run's mean S for every request. On ``/prime`` and ``/mixed``
each answer says what its check cost (``cpu``), so a run can be replayed request by
request: the generator records each request's end with its answer's ``cpu`` (``--records``,
``--time cpu``), and the twin runs the same schedule three ways -- every request at the
mean S; each request's own CPU, shuffled (the spread without its order); and in the order
the requests came (the spread and its order: slow spells together, as the machine's speed
drifts). The CPUs are scaled so that their mean is S (the request's Python around the check
is in S too).
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
from pathlib import Path

from . import openload
from . import opentraffic as sweep
from .band import span_of

#: (model, scenario, offered load): where the sweeps' p99 fell short most often, on /prime
#: and on /mixed (whose Python runs after its wait: the replay times that turn), asyncio on
#: both, and sync -w2 on /mixed, short once.
CASES = (("gevent -w1", "cpu", 0.5), ("sync -w2", "cpu", 0.6), ("asgi -w1", "cpu", 0.6),
         ("gevent -w1", "mixed", 0.5), ("asgi -w1", "mixed", 0.5), ("sync -w2", "mixed", 0.6))
SECONDS, SEED = 10.0, 3
#: The twin's three runs of each case, in the table's order.
WAYS = ("mean S", "shuffled", "in order")


def observe() -> list[dict]:
    """A row per case, one after another (they share the cores)."""
    return [measure(*case) for case in CASES]


def measure(label: str, scenario: str, rho: float) -> dict:
    """One open run of ``scenario`` at ``rho`` with each request's CPU recorded, and the
    twin's three predictions of it."""
    spec, work = dict(sweep.MODELS)[label], sweep.WORKLOADS[scenario]
    twin = sweep.twin_of(spec)
    with (sweep.serving(spec, work, twin, SEED) as served,
          tempfile.TemporaryDirectory(prefix="lab-replay-") as folder):
        rate = rho * served.capacity_rps
        ends = Path(folder) / "ends.jsonl"
        summary, cpu_s = openload.measured(served.server, served.url, rate, SECONDS, SEED,
                                        "--time", "cpu", "--records", str(ends))
        cpus = [json.loads(line).get("cpu", 0.0) for line in ends.read_text().splitlines()]
    scale = cpu_s / (statistics.fmean(cpus) or cpu_s)
    ordered = tuple(cpu * scale for cpu in cpus)  # in due order: the twin's arrival order
    shuffled = list(ordered)
    random.Random(SEED).shuffle(shuffled)
    dues = openload.schedule(rate, SECONDS, SEED)
    rows = {way: sweep.predicted_row(label, spec, twin, summary, cpu_s, rate, work, dues,
                                     served, sequence)
            for way, sequence in zip(WAYS, ((), tuple(shuffled), ordered), strict=True)}
    row = rows["mean S"]
    check = summary["fields_ms"]["cpu"]
    return {"kind": "replay", "scenario": scenario, "path": work.path, **row,
            "check_cpu_p50_ms": check["p50"], "check_cpu_p99_ms": check["p99"],
            "check_cpu_max_ms": check["max"],
            "replayed": {way: {"p50_ms": rows[way]["predicted_p50_ms"],
                               "p99_ms": rows[way]["predicted_p99_ms"]} for way in WAYS}}


def lines(rows: list[dict]) -> list[str]:
    """The replay's table and what it says: lines of the open-traffic lesson's section (a
    blank line first)."""
    if not rows:
        return []
    out = ["", "Each request's own CPU, replayed: each answer's check CPU recorded in the "
           "order the requests came, and the twin run on the same "
           "schedule three ways: every request at the mean S (as the sweep), the same CPUs "
           "shuffled (their spread without their order), and in their order (slow spells "
           "together, as the machine's speed drifts). Predicted ÷ measured:", "",
           "| worker | path | ρ | answered | p50 ms | p99 ms | check CPU p50 / p99 / max ms | "
           + " | ".join(f"p50, {way}" for way in WAYS) + " | "
           + " | ".join(f"p99, {way}" for way in WAYS) + " |",
           "|---|---|---:|---:|---:|---:|---:|" + "---:|" * 2 * len(WAYS)]
    for row in rows:
        ratios = [row["replayed"][way][f"{at}_ms"] / row[f"{at}_ms"]
                  for at in ("p50", "p99") for way in WAYS]
        out.append(f"| {row['label']} | `{row['path'].split('?')[0]}` | "
                   f"{row['utilisation']:.2f} | {row['answered']} | "
                   f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
                   f"{row['check_cpu_p50_ms']:.1f} / {row['check_cpu_p99_ms']:.1f} / "
                   f"{row['check_cpu_max_ms']:.1f} | "
                   + " | ".join(f"{r:.2f}" for r in ratios) + " |")
    p99 = {way: [row["replayed"][way]["p99_ms"] / row["p99_ms"] for row in rows]
           for way in WAYS}
    said = "; ".join(f"{way}, {span_of(v)}" for way, v in p99.items())
    return [*out, "", f"The twin's p99 against the measured one: {said}. Where the order "
            "brings it closer than the shuffle does, the shortfall at the mean S is the "
            "machine's slow spells, which queue requests behind each other; the sweep cannot "
            "replay them (most apps do not answer their own CPU)."]
