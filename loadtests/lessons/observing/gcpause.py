"""What stalls one gevent worker's loop under open traffic: its first full garbage
collection, with ``GC_FREEZE`` off and on.

A fresh gevent worker on ``/io`` at a few hundred requests a second answers each 20 ms
sleep in about 21 ms, yet now and then a run's p99 stands well above the twin's. A full
collection (generation 2) walks every object the process tracks -- the app and all it
imported -- holding the one thread and so the loop: every request in progress waits it
out. Each run here starts a fresh server, runs the sweep's floor and profile, then an
open run, and reads ``/info``'s ``gc`` (``webapp/instrument/gcpauses.py``) before and
after it: the collections by generation during the run and how long the full ones took,
beside the view's own ``elapsed`` (a 20 ms sleep: its longest, less 20 ms, is the loop's
longest stall) and the twin's prediction, which has no collector. With ``GC_FREEZE=1`` the
worker calls ``gc.freeze()`` once the app is loaded, and the collector leaves the app's
objects alone.
"""

from __future__ import annotations

import dataclasses

from . import openload
from . import opentraffic as sweep
from .band import span_of

#: The model and rate: one gevent worker on /io, about where the quick preset's open cell
#: runs it; seconds of arrivals per run, the runs per setting, and the schedule's seed.
LABEL, RATE = "gevent -w1", 333.0
SECONDS, PAIRS, SEED = 6.0, 2, 1


def observe() -> list[dict]:
    """``PAIRS`` pairs of runs, GC_FREEZE off then on, each on a fresh server."""
    return [measure(freeze) for _ in range(PAIRS) for freeze in (False, True)]


def measure(freeze: bool, rate: float = RATE) -> dict:
    """One open run on a fresh gevent worker, its collections beside its latency."""
    spec, work = dict(sweep.MODELS)[LABEL], sweep.WORKLOADS["io"]
    spec = dataclasses.replace(spec, env=(*spec.env, ("GC_FREEZE", "1" if freeze else "0")))
    twin = sweep.twin_of(spec)
    with sweep.serving(spec, work, twin, SEED) as served:
        before = sweep.gc_of(served.server, spec)
        summary, cpu_s = openload.measured(served.server, served.url, rate, SECONDS, SEED,
                                        "--time", "elapsed")
        after = sweep.gc_of(served.server, spec)
    row = sweep.predicted_row(LABEL, spec, twin, summary, cpu_s, rate, work,
                              openload.schedule(rate, SECONDS, SEED), served)
    return {"kind": "gc", "scenario": "io", "path": work.path, **row, "freeze": freeze,
            "frozen": after["frozen"],
            "collections": [a - b for a, b in zip(after["collections"],
                                                  before["collections"], strict=True)],
            **sweep.full_collections(before, after),
            "elapsed_max_ms": summary["fields_ms"]["elapsed"]["max"]}


def lines(rows: list[dict]) -> list[str]:
    """The runs' table and what it says: lines of the open-traffic lesson's section (a
    blank line first)."""
    if not rows:
        return []
    out = ["", f"What stalls one gevent worker's loop: {len(rows)} open runs of "
           f"{rows[0]['label']} on `{rows[0]['path']}` at {rows[0]['rate_rps']:.0f}/s, each on "
           "a fresh server, `GC_FREEZE` off and on in turn. *collections*: the garbage "
           "collector's runs during the run, by generation (0 / 1 / 2: a full one); *full "
           "ms*: how long the full ones held the worker; *view max*: the longest a 20 ms "
           "sleep took in the view (the loop's longest stall, plus 20 ms).", "",
           "| GC_FREEZE | answered | p50 ms | p99 ms measured / predicted | ratio | view max ms "
           "| collections | full ms |",
           "|---|---:|---:|---:|---:|---:|---|---:|"]
    for row in rows:
        out.append(f"| {int(row['freeze'])} | {row['answered']} | {row['p50_ms']:.1f} | "
                   f"{row['p99_ms']:.1f} / {row['predicted_p99_ms']:.1f} | "
                   f"{row['predicted_p99_ms'] / row['p99_ms']:.2f} | "
                   f"{row['elapsed_max_ms']:.1f} | "
                   f"{' / '.join(map(str, row['collections']))} | {row['full_ms']:.1f} |")
    return [*out, "", _said(rows)]


def _said(rows: list[dict]) -> str:
    """One sentence per setting: the full collections met, and the p99 against the twin's."""
    said = []
    for freeze in (False, True):
        mine = [row for row in rows if row["freeze"] == freeze]
        if not mine:
            continue
        full = [row["full_ms"] for row in mine if row["collections"][2]]
        ratios = [row["predicted_p99_ms"] / row["p99_ms"] for row in mine]
        met = (f"{len(full)} of {len(mine)} runs met a full collection"
               + (f" ({span_of(full, ' ms', 1)})" if full else ""))
        said.append(f"GC_FREEZE={int(freeze)}: {met}; the twin's p99 stood at "
                    f"{span_of(ratios)} of measured.")
    return " ".join(said)
