"""The database workload: ``pg_sleep`` and a query of N rows, over a pool of connections.

Pure workload code (no Flask): both twins call it. The choices come from the environment,
read when a worker process opens its pool (after the fork, and under gevent after the
monkey-patching):

* ``DATABASE_URL``: the server (the lab sets it for a cluster of its own);
* ``DB_DRIVER``: ``psycopg`` (psycopg 3 with ``psycopg_pool``, the default), ``psycopg2``
  (which releases the GIL while it waits but never yields to gevent's hub) or
  ``psycopg2-green`` (psycopg2 with psycogreen's wait callback: the classic fix);
* ``DB_POOL_SIZE``: connections per worker process (default 10);
* ``DB_POOL_TIMEOUT``: seconds a request waits for a free connection (default 2), then
  503 JSON naming the pool; a database that is down or full is a 503 too.

``/health`` never touches any of this.
"""

from __future__ import annotations

import os
import threading

from werkzeug.exceptions import ServiceUnavailable

DRIVERS = ("psycopg", "psycopg2", "psycopg2-green")
DEFAULT_POOL_SIZE = 10
DEFAULT_POOL_TIMEOUT = 2.0
#: Caps of the endpoints' parameters: the longest ``pg_sleep`` (ms) and the most rows.
MAX_MS = 5000
DEFAULT_MS = 100
MAX_ROWS = 10_000
DEFAULT_ROWS = 100

SLEEP_SQL = ("SELECT extract(epoch FROM clock_timestamp() - statement_timestamp()) "
             "FROM (SELECT pg_sleep(%s)) AS slept")
ROWS_SQL = "SELECT id, name, price FROM items ORDER BY id LIMIT %s"


class Unavailable(ServiceUnavailable):
    """No connection for this request (HTTP 503): the pool is exhausted, or the database is
    down or refuses connections."""


class Settings:
    """The database knobs of this process, from the environment."""

    def __init__(self, environ=os.environ):
        self.url = environ.get("DATABASE_URL", "").strip()
        self.driver = environ.get("DB_DRIVER", "").strip() or "psycopg"
        self.size = _positive(environ, "DB_POOL_SIZE", DEFAULT_POOL_SIZE, int)
        self.timeout = _positive(environ, "DB_POOL_TIMEOUT", DEFAULT_POOL_TIMEOUT, float)
        if self.driver not in DRIVERS:
            raise ValueError(f"DB_DRIVER must be one of {', '.join(DRIVERS)}, "
                             f"got {self.driver!r}")

    @property
    def name(self) -> str:
        return f"{self.driver} pool of {self.size}"


def _positive(environ, name: str, default, kind):
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if not value > 0:
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {raw!r}")
    return value


def exhausted(settings: Settings, waited: float) -> Unavailable:
    return Unavailable(f"database pool exhausted: all {settings.size} connections of the "
                       f"{settings.driver} pool in use for {waited:.1f} s (DB_POOL_TIMEOUT)")


def down(settings: Settings, error: Exception) -> Unavailable:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return Unavailable(f"database unavailable ({settings.driver}): {reason[:200]}")


class Lent:
    """How many of a pool's connections this process's requests hold right now (``with``
    around each use). It tells an exhausted pool from one still reconnecting: psycopg_pool's
    own ``pool_size`` also counts the connections it is opening (measured: a PoolTimeout
    while the database came back read 10 of 10, none available, with 4 requests lent)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Lent:
        with self._lock:
            self.count += 1
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self.count -= 1


def timed_out(settings: Settings, waited: float, refusal: Exception | None,
              lent: int) -> Unavailable:
    """psycopg_pool's ``PoolTimeout``, told apart by one direct attempt to connect just after
    it (``refusal``: what the server said, None when it accepted) and the connections this
    process's requests hold (``lent``): the database is down or refuses connections ("too
    many clients"); or every connection was lent out (the pool is exhausted); or the pool
    is still reconnecting after the database came back."""
    if refusal is not None:
        return down(settings, refusal)
    if lent >= settings.size:
        return exhausted(settings, waited)
    return down(settings, RuntimeError(
        f"no connection within {waited:.1f} s: {lent} of the pool's {settings.size} are in "
        "use and it is reconnecting"))


def not_configured() -> Unavailable:
    return Unavailable("database not configured: set DATABASE_URL")


def slept(ms: int, records) -> dict:
    """``/db``'s answer to a ``SLEEP_SQL``: ``elapsed`` is the server's own time for it."""
    return {"ms": ms, "elapsed": float(records[0][0])}


def listed(n: int, records) -> dict:
    """``/db/rows``'s answer to a ``ROWS_SQL``."""
    return {"n": n, "rows": rows_json(records)}


def about(driver: str, settings: Settings, waited: float) -> dict:
    """What every ``/db`` answer adds: the driver, the pool's size, the wait for a connection."""
    return {"driver": driver, "pool_size": settings.size, "pool_wait": waited}


def rows_json(records) -> list[dict]:
    """Query rows as JSON-ready dicts: the CPU part that grows with N."""
    return [{"id": id_, "name": name, "price": float(price)} for id_, name, price in records]
