"""One pool per worker process and driver; ``borrow()`` lends a connection, timed.

* ``psycopg``: ``psycopg_pool.ConnectionPool`` (waits up to ``DB_POOL_TIMEOUT`` for a free
  connection, checks each one before lending it, reconnects after the server comes back).
* ``psycopg2`` and ``psycopg2-green``: psycopg2's ``ThreadedConnectionPool``, which does not
  wait (it raises "connection pool exhausted" at once), behind a semaphore of the pool's
  size that does, and which keeps idle connections only up to ``minconn`` (the lab sets it
  to the size): the one place the lab works around it. ``psycopg2-green`` first registers
  psycogreen's wait callback, so that the driver waits through gevent's hub.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

from . import Lent, Settings, down, exhausted, not_configured, timed_out

#: Seconds a new connection may take (a server that is down refuses at once; one that is
#: unreachable would otherwise hang the request).
CONNECT_TIMEOUT_S = 2

_pool = None
_lock = threading.Lock()


def _forget_after_fork() -> None:
    global _pool
    _pool = None  # a pool's connections and threads belong to the process that opened it


os.register_at_fork(after_in_child=_forget_after_fork)


def pool():
    """This process's pool, opened on first use (in the worker, after any patching)."""
    global _pool
    with _lock:
        if _pool is None:
            settings = Settings()
            if not settings.url:
                raise not_configured()
            _pool = (PsycopgPool if settings.driver == "psycopg" else Psycopg2Pool)(settings)
        return _pool


def close() -> None:
    """Close this process's pool, if it has one (the worker's exit hook)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.close()
            _pool = None


class PsycopgPool:
    def __init__(self, settings: Settings):
        # psycopg chooses its wait function when imported -- C, unless gevent has patched
        # `select` -- so it is imported here, in the worker, after gevent's worker patched.
        import psycopg
        import psycopg_pool

        self.settings, self.errors, self.lent = settings, (psycopg.Error,), Lent()
        self.timeout_error, self.connect = psycopg_pool.PoolTimeout, psycopg.connect
        self.pool = psycopg_pool.ConnectionPool(
            settings.url, min_size=settings.size, max_size=settings.size,
            timeout=settings.timeout, name=settings.name, open=True,
            check=psycopg_pool.ConnectionPool.check_connection,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S})

    @contextlib.contextmanager
    def borrow(self) -> Iterator[tuple[object, float]]:
        start = time.perf_counter()
        try:
            with self.pool.connection() as conn, self.lent:
                yield conn, time.perf_counter() - start
        except self.timeout_error:
            raise timed_out(self.settings, time.perf_counter() - start,
                            self._refusal(), self.lent.count) from None
        except self.errors as error:
            raise down(self.settings, error) from None

    def _refusal(self) -> Exception | None:
        """What the server says to one new connection now (None: it accepts)."""
        try:
            self.connect(self.settings.url, connect_timeout=1).close()
        except self.errors[0] as error:
            return error
        return None

    def close(self) -> None:
        self.pool.close(timeout=1)


class Psycopg2Pool:
    def __init__(self, settings: Settings):
        import psycopg2
        import psycopg2.pool

        if settings.driver == "psycopg2-green":
            import psycogreen.gevent

            psycogreen.gevent.patch_psycopg()  # psycopg2 waits through gevent's hub
        self.settings, self.errors = settings, psycopg2.Error
        self.pool = psycopg2.pool.ThreadedConnectionPool(
            0, settings.size, settings.url, connect_timeout=CONNECT_TIMEOUT_S)
        # psycopg2's pool opens `minconn` connections at once and, on putconn, closes every
        # connection beyond `minconn` idle ones (pool.py, _putconn): built with minconn=0 it
        # connects on demand, and raised to the size it keeps what it opened.
        self.pool.minconn = settings.size
        self.slots = threading.BoundedSemaphore(settings.size)

    @contextlib.contextmanager
    def borrow(self) -> Iterator[tuple[object, float]]:
        start = time.perf_counter()
        if not self.slots.acquire(timeout=self.settings.timeout):
            raise exhausted(self.settings, time.perf_counter() - start)
        try:
            try:
                conn = self.pool.getconn()
            except self.errors as error:
                raise down(self.settings, error) from None
            broken = True
            try:
                conn.autocommit = True
                yield conn, time.perf_counter() - start
                broken = False
            except self.errors as error:
                raise down(self.settings, error) from None
            finally:
                self.pool.putconn(conn, close=broken or bool(conn.closed))
        finally:
            self.slots.release()

    def close(self) -> None:
        self.pool.closeall()


def fetch(sql: str, params: tuple) -> tuple[list[tuple], float]:
    """Run one query on a pooled connection: its rows, and the seconds spent waiting for
    the connection."""
    with pool().borrow() as (conn, waited), conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall(), waited
