"""The database requests for the asyncio twin: psycopg 3's ``AsyncConnectionPool``, awaited.

One pool per worker process, opened inside the running loop on first use. Whatever
``DB_DRIVER`` says, the awaited path is psycopg 3 (the async driver); ``?sync=1`` calls the
blocking pool of :mod:`.pools` inside the coroutine instead -- the Quick Quiz's mistake,
which freezes the loop for the whole query.
"""

from __future__ import annotations

import asyncio
import time

from . import (
    ROWS_SQL,
    SLEEP_SQL,
    Lent,
    Settings,
    about,
    down,
    listed,
    not_configured,
    slept,
    timed_out,
)

_pool = None
_lock: asyncio.Lock | None = None


async def pool():
    global _pool, _lock
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _pool is None:
            settings = Settings()
            if not settings.url:
                raise not_configured()
            _pool = AsyncPool(settings)
            await _pool.pool.open()
        return _pool


class AsyncPool:
    def __init__(self, settings: Settings):
        import psycopg
        import psycopg_pool

        self.settings, self.lent = settings, Lent()
        self.timeout_error, self.errors = psycopg_pool.PoolTimeout, psycopg.Error
        self.connect = psycopg.AsyncConnection.connect
        self.pool = psycopg_pool.AsyncConnectionPool(
            settings.url, min_size=settings.size, max_size=settings.size,
            timeout=settings.timeout, name=settings.name, open=False,
            check=psycopg_pool.AsyncConnectionPool.check_connection,
            kwargs={"autocommit": True, "connect_timeout": 2})

    async def fetch(self, sql: str, params: tuple) -> tuple[list[tuple], float]:
        start = time.perf_counter()
        try:
            async with self.pool.connection() as conn:
                waited = time.perf_counter() - start
                with self.lent:
                    async with conn.cursor() as cursor:
                        await cursor.execute(sql, params)
                        return await cursor.fetchall(), waited
        except self.timeout_error:
            raise timed_out(self.settings, time.perf_counter() - start,
                            await self._refusal(), self.lent.count) from None
        except self.errors as error:
            raise down(self.settings, error) from None


    async def _refusal(self) -> Exception | None:
        """What the server says to one new connection now (None: it accepts)."""
        try:
            await (await self.connect(self.settings.url, connect_timeout=1)).close()
        except self.errors as error:
            return error
        return None


#: What the awaited path reports as its driver, whatever DB_DRIVER says.
DRIVER = "psycopg (async)"


async def sleep(ms: int) -> dict:
    db = await pool()
    records, waited = await db.fetch(SLEEP_SQL, (ms / 1000,))
    return slept(ms, records) | about(DRIVER, db.settings, waited)


async def rows(n: int) -> dict:
    db = await pool()
    records, waited = await db.fetch(ROWS_SQL, (n,))
    return listed(n, records) | about(DRIVER, db.settings, waited)
