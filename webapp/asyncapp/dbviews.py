"""The database endpoints of the asyncio twin: awaited on psycopg 3's async pool, or, with
``?sync=1``, the blocking driver called inside the coroutine (the loop freezes)."""

from __future__ import annotations

import os
import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..db import DEFAULT_MS, DEFAULT_ROWS, MAX_MS, MAX_ROWS, aio, queries
from ..params import parse_flag, parse_ms, parse_rows
from .views import _arg


async def _timed(call, *args) -> JSONResponse:
    start = time.perf_counter()
    answer = await call(*args)
    return JSONResponse(answer | {"wall": time.perf_counter() - start, "pid": os.getpid()})


async def _blocking(call, *args) -> dict:
    return call(*args)  # the mistake: a blocking driver inside a coroutine


async def _either(request: Request, blocking, awaited, arg) -> JSONResponse:
    """``awaited(arg)`` on the loop, or with ``?sync=1`` the blocking ``blocking(arg)``."""
    if parse_flag(_arg(request, "sync"), "sync"):
        return await _timed(_blocking, blocking, arg)
    return await _timed(awaited, arg)


async def db(request: Request) -> JSONResponse:
    """``await`` a ``pg_sleep(ms / 1000)``; ``?sync=1`` blocks the loop for it."""
    ms = parse_ms(_arg(request, "ms"), MAX_MS, DEFAULT_MS)
    return await _either(request, queries.sleep, aio.sleep, ms)


async def db_rows(request: Request) -> JSONResponse:
    """The first ``n`` rows of the lab's table, awaited; ``?sync=1`` blocks the loop."""
    n = parse_rows(_arg(request, "n"), MAX_ROWS, DEFAULT_ROWS)
    return await _either(request, queries.rows, aio.rows, n)


ROUTES = [Route("/db", db), Route("/db/rows", db_rows)]
