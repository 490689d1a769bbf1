"""The band the open-traffic twin is held to, and the lines under each sweep table: the
runs outside it, and where the twin would have stood fed otherwise."""

from __future__ import annotations

#: The twin's band: predicted ÷ measured, for p50 and p99, below :data:`JUDGED_BELOW`.
BAND = (0.8, 1.25)
JUDGED_BELOW = 0.8

def verdict(row: dict) -> str:
    """Whether the prediction fell in the band ("in", "out"), or is not judged there."""
    if row["utilisation"] >= JUDGED_BELOW:
        return f"not judged (ρ ≥ {JUDGED_BELOW:g})"
    if row["p50_ms"] is None or row["p99_ms"] is None:
        return "out (nothing answered)"
    ratios = (row["predicted_p50_ms"] / row["p50_ms"], row["predicted_p99_ms"] / row["p99_ms"])
    return "in" if all(BAND[0] <= r <= BAND[1] for r in ratios) else "out"


def span_of(values: list[float], unit: str = "", digits: int = 2) -> str:
    """The least and the most of ``values``, as "a–b" (one number when they agree).

    >>> span_of([0.91, 1.08]), span_of([21.0, 21.04], " ms", 1)
    ('0.91–1.08', '21.0 ms')
    """
    low, high = f"{min(values):.{digits}f}{unit}", f"{max(values):.{digits}f}{unit}"
    return low if low == high else f"{min(values):.{digits}f}–{high}"


def ratio(predicted: float, measured: float | None) -> str:
    return "—" if not measured else f"{predicted / measured:.2f}"


def outside(judged: list[dict]) -> str:
    """The judged runs outside the band, each by its model, ρ and ratios (and the CPU time
    the hypervisor stole during the run, where the row has it): a sentence, or "" when
    there are none.

    >>> outside([{"label": "sync -w2", "utilisation": 0.53, "p50_ms": 20.0, "p99_ms": 60.0,
    ...            "predicted_p50_ms": 18.0, "predicted_p99_ms": 39.0, "steal_ms": 0.0}])
    ' Outside it: sync -w2 at ρ 0.53 (p50 0.90, p99 0.65; steal 0 ms).'
    """
    out = [row for row in judged if verdict(row) != "in"]
    if not out:
        return ""
    return " Outside it: " + "; ".join(
        f"{row['label']} at ρ {row['utilisation']:.2f} (p50 "
        f"{ratio(row['predicted_p50_ms'], row['p50_ms'])}, p99 "
        f"{ratio(row['predicted_p99_ms'], row['p99_ms'])}"
        + ("" if row.get("steal_ms") is None else f"; steal {row['steal_ms']:g} ms") + ")"
        for row in out) + "."


def waited(rows: list[dict]) -> list[str]:
    """Where the twin waited what the server measured, not the delay asked for: a line,
    with the ratios the twin would have stood at below :data:`JUDGED_BELOW` fed the delay.

    >>> print(waited([{"delay_s": 0.02, "wait_ms": 20.9, "utilisation": 0.5, "p50_ms": 22,
    ...                 "p99_ms": 40, "asked_p50_ms": 21, "asked_p99_ms": 30}])[1][-71:])
    20 ms asked for instead, it stood at p50 0.95 and p99 0.75 of measured.
    """
    waits = [row["wait_ms"] for row in rows
             if row.get("wait_ms") is not None and row["wait_ms"] != row["delay_s"] * 1000]
    if not waits:
        return []
    asked = rows[0]["delay_s"] * 1000
    line = ("The twin waited what the requests took in the database at the profile's rate, "
            "where nothing queues (the median of the answers' own `wall`): "
            f"{span_of(waits, ' ms', digits=1)}, against {asked:g} asked for.")
    if judged := _judged(rows, "asked"):
        line += (f" Fed the {asked:g} ms asked for instead, it stood at p50 "
                 f"{_span(judged, 'asked', 'p50')} and p99 {_span(judged, 'asked', 'p99')} "
                 "of measured.")
    return ["", line]


def locked(rows: list[dict]) -> list[str]:
    """Where the twin ran an event loop (``loadtests/model/loop.py``): a line per model, with
    the ratios it stood at below :data:`JUDGED_BELOW` with a lock in the loop's place, beside
    the loop's own (none where the sample predates the loop).

    >>> print(locked([{"label": "asgi -w1", "utilisation": 0.5, "p50_ms": 50, "p99_ms": 100,
    ...                "predicted_p50_ms": 50, "predicted_p99_ms": 90, "lock_p50_ms": 40,
    ...                "lock_p99_ms": 70}])[1][-88:])
    p50 0.80 and p99 0.70 of measured below ρ 0.8, against the loop's p50 1.00 and p99 0.90.
    """
    out = []
    for label in dict.fromkeys(row["label"] for row in rows if row.get("lock_p99_ms")):
        if not (judged := _judged([row for row in rows if row["label"] == label], "lock")):
            continue
        out += ["", f"{label}'s twin runs its event loop as asyncio does, each step after the "
                    "iteration it was scheduled in (`loadtests/model/loop.py`); with a lock in "
                    f"its place, first come first served, it stood at p50 "
                    f"{_span(judged, 'lock', 'p50')} and p99 {_span(judged, 'lock', 'p99')} of "
                    f"measured below ρ {JUDGED_BELOW:g}, against the loop's p50 "
                    f"{_span(judged, 'predicted', 'p50')} and p99 "
                    f"{_span(judged, 'predicted', 'p99')}."]
    return out


def _judged(rows: list[dict], key: str) -> list[dict]:
    """The rows below :data:`JUDGED_BELOW` that answered and carry the twin's ``key``
    prediction (``asked``, ``lock``)."""
    return [row for row in rows if row.get(f"{key}_p99_ms") and row["p50_ms"]
            and row["p99_ms"] and row["utilisation"] < JUDGED_BELOW]


def _span(rows: list[dict], key: str, at: str) -> str:
    """The ``key`` prediction's ratios to measured at ``at`` (p50, p99), as "a–b"."""
    return span_of([row[f"{key}_{at}_ms"] / row[f"{at}_ms"] for row in rows])
