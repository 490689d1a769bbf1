"""The two database requests, as plain functions: ``pg_sleep`` (waiting) and N rows (CPU)."""

from __future__ import annotations

from . import ROWS_SQL, SLEEP_SQL, rows_json
from .pools import fetch, pool


def _about(waited: float) -> dict:
    settings = pool().settings
    return {"driver": settings.driver, "pool_size": settings.size, "pool_wait": waited}


def sleep(ms: int) -> dict:
    """``SELECT pg_sleep(ms / 1000)``: ``elapsed`` is the server's own time for it."""
    records, waited = fetch(SLEEP_SQL, (ms / 1000,))
    return {"ms": ms, "elapsed": float(records[0][0]), **_about(waited)}


def rows(n: int) -> dict:
    """The first ``n`` rows of the seeded table, as JSON-ready dicts."""
    records, waited = fetch(ROWS_SQL, (n,))
    return {"n": n, "rows": rows_json(records), **_about(waited)}
