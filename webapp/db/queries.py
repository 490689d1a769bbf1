"""The two database requests, as plain functions: ``pg_sleep`` (waiting) and N rows (CPU)."""

from __future__ import annotations

from . import ROWS_SQL, SLEEP_SQL, about, listed, slept
from .pools import fetch, pool


def sleep(ms: int) -> dict:
    """``SELECT pg_sleep(ms / 1000)``: ``elapsed`` is the server's own time for it."""
    records, waited = fetch(SLEEP_SQL, (ms / 1000,))
    settings = pool().settings
    return slept(ms, records) | about(settings.driver, settings, waited)


def rows(n: int) -> dict:
    """The first ``n`` rows of the seeded table, as JSON-ready dicts."""
    records, waited = fetch(ROWS_SQL, (n,))
    settings = pool().settings
    return listed(n, records) | about(settings.driver, settings, waited)
