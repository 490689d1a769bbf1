"""The app's PostgreSQL, watched while a candidate is measured: its connections at the peak,
against what the server allows, and how many it opened.

When the advisor's environment has a ``DATABASE_URL`` (the app under test reads the same
one), a thread counts the database's client connections every ``PERIOD_S`` through a
connection of its own (not counted), and reads ``max_connections`` and the slots
PostgreSQL keeps for superusers. A throughput that stops where the connections stop says
why: the database's limit, or a pool smaller than the configuration's slots; and
``pg_stat_database.sessions`` counts the connections opened meanwhile -- one per request
is a pool that does not keep its connections. No
``DATABASE_URL``, or no PostgreSQL there: nothing is watched.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass

PERIOD_S = 0.2
SESSIONS_SQL = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
COUNT_SQL = ("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
             "AND datname = current_database() AND pid <> pg_backend_pid()")


@dataclass(frozen=True)
class Connections:
    peak: int  # the app's connections at the busiest sample
    allowed: int  # max_connections less the superusers' reserved slots
    max_connections: int
    reserved: int
    #: connections opened to the database while watched (pg_stat_database.sessions)
    sessions: int = 0

    @property
    def at_limit(self) -> bool:
        return self.peak >= self.allowed - 1  # the watch's own connection takes one


@dataclass(frozen=True)
class Budget:
    """The connections a PostgreSQL lets the app open: ``max_connections`` less the slots
    it keeps for superusers (and, from PostgreSQL 16, ``reserved_connections``)."""

    max_connections: int
    reserved: int

    @property
    def allowed(self) -> int:
        return self.max_connections - self.reserved


def read_budget(conn) -> Budget:
    """``conn``'s server's :class:`Budget` (a psycopg connection)."""
    import psycopg

    most = int(conn.execute("SHOW max_connections").fetchone()[0])
    reserved = int(conn.execute("SHOW superuser_reserved_connections").fetchone()[0])
    with contextlib.suppress(psycopg.Error):  # PostgreSQL 16 and later
        reserved += int(conn.execute("SHOW reserved_connections").fetchone()[0])
    return Budget(most, reserved)


def budget(url: str | None = None) -> Budget | None:
    """The :class:`Budget` of the PostgreSQL at ``url`` (default: ``DATABASE_URL``), or None
    when there is none, or none answers there."""
    url = url if url is not None else os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
            return read_budget(conn)
    except psycopg.Error:
        return None


class DbWatch:
    """``with DbWatch() as watch: ...``; then ``watch.result`` (None when not watched)."""

    def __init__(self, url: str | None = None):
        self.url = url if url is not None else os.environ.get("DATABASE_URL", "")
        self.result: Connections | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = 0

    def __enter__(self) -> DbWatch:
        if not self.url.startswith(("postgres://", "postgresql://")):
            return self
        import psycopg

        try:
            self._conn = psycopg.connect(self.url, connect_timeout=2, autocommit=True)
            self._limits = read_budget(self._conn)
            self._sessions = self._conn.execute(SESSIONS_SQL).fetchone()[0]
        except psycopg.Error:
            return self
        self._thread = threading.Thread(target=self._sample, name="dbwatch", daemon=True)
        self._thread.start()
        return self

    @property
    def peak(self) -> int:
        """The most connections seen so far."""
        return self._peak

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self._peak = max(self._peak, self._conn.execute(COUNT_SQL).fetchone()[0])
            except Exception:  # the database went away: the peak so far stands
                return
            self._stop.wait(PERIOD_S)

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self._conn.execute("SELECT pg_stat_clear_snapshot()")
            opened = self._conn.execute(SESSIONS_SQL).fetchone()[0] - self._sessions
        except Exception:
            opened = 0
        self._conn.close()
        limits = self._limits
        self.result = Connections(self._peak, limits.allowed, limits.max_connections,
                                  limits.reserved, opened)
