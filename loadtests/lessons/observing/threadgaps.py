"""Where one gthread worker's `/mixed` miss lies: its four threads' queue, not the GIL.

Near the knee the twin of gthread -w1 --threads 4 on ``/mixed`` stands below the measured
latency. Each round here serves gthread -w1 with four threads, then with eight, at the
same rate (:data:`RHO` of the four threads' capacity), traced (``TRACE=1``) and timed by
the view (``--time elapsed``): the sleep, the wait to take the GIL back, and the check,
which the twin models. Beside each run's twin the row sets what the app's spans held:
the threads in the app on average and the share of time all of them were, the requests'
mean time outside the app, and the gaps between one span and the next on the same thread
(where under :data:`NEAR_S`: a thread going on to the next request, or idle a moment),
which the twin gives a busy thread none of.
"""

from __future__ import annotations

import itertools
import statistics

from ...servers import ServerSpec
from ...timeline.data import Span
from .band import BAND, span_of
from .openload import schedule
from .opentraffic import WORKLOADS, predicted_row, twin_of
from .requestpath import traced_run

#: The offered load (a share of four threads' capacity), the seconds, the rounds, the seed.
RHO, SECONDS, ROUNDS, SEED = 0.78, 10.0, 2, 5
#: The thread counts, in turn, at the same rate.
THREADS = (4, 8)
#: Gaps between a thread's spans shorter than this: the thread went on to another request.
NEAR_S = 0.03


def observe() -> list[dict]:
    """Two rows per round: four threads, then eight at the same rate."""
    rows = []
    for number in range(ROUNDS):
        rate = None
        for threads in THREADS:
            row = measure(threads, rate, number)
            rate = row["rate_rps"]
            rows.append(row)
    return rows


def measure(threads: int, rate: float | None = None, number: int = 0) -> dict:
    """gthread -w1 --threads ``threads`` on ``/mixed``, traced, at ``rate`` (None:
    :data:`RHO` of its own capacity): its row of the sweep, and what its spans held."""
    spec, work = ServerSpec("gthread", threads=threads), WORKLOADS["mixed"]
    twin, asked = twin_of(spec), rate
    served, rate, summary, cpu_s, spans = traced_run(
        spec, work, twin, lambda capacity: RHO * capacity if asked is None else asked,
        SECONDS, SEED, "--time", "elapsed")
    row = predicted_row(f"gthread -w1 --threads {threads}", spec, twin, summary, cpu_s, rate,
                        work, schedule(rate, SECONDS, SEED), served)
    app = statistics.fmean(s.seconds for s in spans) * 1000 if spans else 0.0
    return {"kind": "gaps", "scenario": "mixed", "path": work.path, "round": number + 1,
            "threads": threads, **row, "spans": len(spans), "app_mean_ms": app,
            "view_mean_ms": summary["fields_ms"]["elapsed"]["mean"],
            "outside_app_ms": summary["latency_ms"]["mean"] - app
            - summary["send_lag_ms"]["mean"],
            **in_app(spans, threads), **gaps(spans)}


def in_app(spans: list[Span], threads: int) -> dict:
    """The threads in the app on average over the spans' time, and the share of that time
    all ``threads`` were.

    >>> s = [Span(0, 10, 1, 1, 1, "/", 200), Span(5, 10, 1, 2, 2, "/", 200)]
    >>> in_app(s, 2)
    {'in_app_mean': 1.5, 'all_in_app': 0.5}
    """
    moments = sorted([(s.start_ns, 1) for s in spans] + [(s.end_ns, -1) for s in spans])
    if not moments:
        return {"in_app_mean": 0.0, "all_in_app": 0.0}
    held, last, weighted, full = 0, moments[0][0], 0, 0
    for at, step in moments:
        weighted += held * (at - last)
        full += (at - last) if held >= threads else 0
        held, last = held + step, at
    whole = moments[-1][0] - moments[0][0] or 1
    return {"in_app_mean": weighted / whole, "all_in_app": full / whole}


def gaps(spans: list[Span]) -> dict:
    """Between one span and the next on the same thread, those under :data:`NEAR_S`: how
    many, and their p50, p90 and mean in ms.

    >>> s = [Span(0, 10**6, 1, 7, 1, "/", 200), Span(3 * 10**6, 9 * 10**6, 1, 7, 1, "/", 200)]
    >>> gaps(s)["gap_p50_ms"], gaps(s)["near_gaps"]
    (2.0, 1)
    """
    by_thread: dict[int, list[Span]] = {}
    for span in spans:
        by_thread.setdefault(span.tid, []).append(span)
    found = [(later.start_ns - earlier.end_ns) / 1e6 for mine in by_thread.values()
             for earlier, later in itertools.pairwise(sorted(mine, key=lambda s: s.start_ns))]
    near = sorted(gap for gap in found if gap < NEAR_S * 1000)
    if not near:
        return {"gaps": len(found), "near_gaps": 0, "gap_p50_ms": None, "gap_p90_ms": None,
                "gap_mean_ms": None}
    return {"gaps": len(found), "near_gaps": len(near),
            "gap_p50_ms": statistics.median(near),
            "gap_p90_ms": near[min(len(near) - 1, int(0.9 * len(near)))],
            "gap_mean_ms": statistics.fmean(near)}


def lines(rows: list[dict]) -> list[str]:
    """The rounds' table and what it says: lines of the open-traffic lesson's section (a
    blank line first)."""
    if not rows:
        return []
    out = ["", f"Where one gthread worker's `/mixed` miss lies: each round serves gthread -w1 "
           f"with {' then '.join(str(t) for t in THREADS)} threads at the same rate ("
           f"{RHO:g} of four threads' capacity), traced. *view*: the view's own mean (the "
           "sleep, the GIL taken back, the check: what the twin models); *in app*: the "
           "threads the app's spans held on average, and the share of time all did; "
           "*outside*: a request's mean time outside the app (its way to a thread and back); "
           f"*gaps*: between a thread's spans, those under {NEAR_S * 1000:g} ms (a thread "
           "going on to the next request, or idle a moment), their p50 / p90 / mean.", "",
           "| round | worker | rate /s | p50 ms measured / predicted | ratio | p99 ratio | "
           "view ms | in app | all in app | outside ms | gaps ms |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        gap = ("—" if row["gap_p50_ms"] is None else
               f"{row['gap_p50_ms']:.1f} / {row['gap_p90_ms']:.1f} / {row['gap_mean_ms']:.1f}")
        out.append(f"| {row['round']} | {row['label']} | {row['rate_rps']:.1f} | "
                   f"{row['p50_ms']:.1f} / {row['predicted_p50_ms']:.1f} | "
                   f"{row['predicted_p50_ms'] / row['p50_ms']:.2f} | "
                   f"{row['predicted_p99_ms'] / row['p99_ms']:.2f} | "
                   f"{row['view_mean_ms']:.1f} | {row['in_app_mean']:.2f} | "
                   f"{row['all_in_app']:.2f} | {row['outside_app_ms']:.1f} | {gap} |")
    return [*out, "", *_reading(rows)]


def _reading(rows: list[dict]) -> list[str]:
    """The p50 ratios by thread count and the time outside the app beside them; where the
    fewest threads' twin fell short and the most's did not, what the gaps say."""
    said, low = [], {}
    for threads in dict.fromkeys(row["threads"] for row in rows):
        mine = [row for row in rows if row["threads"] == threads]
        ratios = [r["predicted_p50_ms"] / r["p50_ms"] for r in mine]
        low[threads] = min(ratios)
        said.append(f"with {threads} threads the twin's p50 stood at {span_of(ratios)} of "
                    "measured, the requests' time outside the app "
                    f"{span_of([r['outside_app_ms'] for r in mine], ' ms')}")
    out = "At the same rate, " + "; ".join(said) + "."
    fewest, most = min(low), max(low)
    if fewest != most and low[fewest] < BAND[0] <= low[most]:
        out += (f" With {most} threads the twin's p50 holds; with {fewest} it falls short, and "
                "the requests wait longer outside the app: in the queue for a thread, not in "
                "the view, whose own time the twin models. Between one span and the next a "
                "real thread runs gunicorn's own Python before and after the app, each short "
                "release in it a chance to lose the GIL; the *gaps* hold that time and the "
                "threads' idle moments alike (not told apart here), and the twin gives a "
                "thread going on to a queued request no gap at all. Not modelled.")
    return [out]
