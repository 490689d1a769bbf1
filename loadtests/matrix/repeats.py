"""Repeated runs of one cell: the median with its min–max, and whether a deviation is noise.

A single run cannot tell noise from effect. ``--repeat N`` runs every cell N
times (in rounds, so the repeats of a cell lie minutes apart and the machine's
drift shows in their spread); :func:`aggregate` folds them into one row and
:func:`verdict` says what the spread allows one to conclude.

>>> rows = [{"rps": 5.0, "fidelity": 0.80, "heartbeat_p99_ms": None},
...         {"rps": 6.0, "fidelity": 0.96, "heartbeat_p99_ms": None},
...         {"rps": 5.5, "fidelity": 0.88, "heartbeat_p99_ms": None}]
>>> row = aggregate(rows)
>>> row["repeats"], row["rps"], row["fidelity_min"], row["fidelity_max"]
(3, 5.5, 0.8, 0.96)
>>> verdict(row, (0.85, 1.05))
'noise'
"""

from __future__ import annotations

import statistics

#: The numbers reported as median with min–max over the repeats. The heartbeat's p50, p99
#: and max are each a median (which keeps p50 ≤ p99 ≤ max, as every run has them), not
#: the median-rps run's p50 and max beside the runs' median p99.
SPREAD = ("rps", "fidelity", "heartbeat_p50_ms", "heartbeat_p99_ms", "heartbeat_max_ms")


def aggregate(rows: list[dict]) -> dict:
    """One row for a cell run several times: the run at the median rps, with the median,
    min and max of each :data:`SPREAD` number, and how many runs back them."""
    ok = [row for row in rows if "error" not in row]
    if not ok:
        return rows[-1]
    middle = sorted(ok, key=lambda row: row["rps"])[(len(ok) - 1) // 2]
    out = dict(middle, repeats=len(ok))
    for key in SPREAD:
        values = [row[key] for row in ok if row.get(key) is not None]
        if values:
            out[key] = statistics.median(values)
            out[f"{key}_min"], out[f"{key}_max"] = min(values), max(values)
    return out


def verdict(row: dict, band: tuple[float, float]) -> str:
    """``in band``, ``finding`` (every run outside the band, on the same side), ``noise``
    (the runs' range crosses an edge of the band) or ``no bound``.

    >>> verdict({"fidelity": 0.5, "fidelity_min": 0.45, "fidelity_max": 0.55}, (0.85, 1.05))
    'finding'
    >>> verdict({"fidelity": 0.95}, (0.85, 1.05))
    'in band'
    """
    if row.get("fidelity") is None:
        return "no bound"
    low, high = band
    lo = row.get("fidelity_min", row["fidelity"])
    hi = row.get("fidelity_max", row["fidelity"])
    if low <= lo and hi <= high:
        return "in band"
    if hi < low or lo > high:
        return "finding"
    return "noise"


def spread(row: dict, key: str, digits: int = 2) -> str:
    """``key``'s value, with its min–max when the row aggregates several runs.

    >>> spread({"fidelity": 0.951, "fidelity_min": 0.9, "fidelity_max": 1.0, "repeats": 2},
    ...        "fidelity")
    '0.95 (0.90–1.00)'
    >>> spread({"fidelity": None}, "fidelity")
    '—'
    """
    value = row.get(key)
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    if row.get("repeats", 1) > 1 and f"{key}_min" in row:
        text += f" ({row[f'{key}_min']:.{digits}f}–{row[f'{key}_max']:.{digits}f})"
    return text
