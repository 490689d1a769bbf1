"""The asyncio twin: psycopg 3's async pool awaited on asgi, beside gevent's pool."""

from __future__ import annotations

from ..matrix.cells import Database, cell
from .base import Lesson, Results, db_table

ASYNC = cell("db", "asgi", 1, users=20, db=Database(pool=10))
GEVENT = cell("db", "gevent", 1, users=20, db=Database(pool=10))


def section(results: Results) -> str:
    rows = [row for row in map(results.row, (ASYNC, GEVENT)) if row]
    if len(rows) < 2:
        return ""
    return "\n".join([
        "### The async pool: asyncio beside gevent",
        "",
        "The same bound, min(users, pool) ÷ R, reached two ways: asyncio awaits psycopg 3's "
        "`AsyncConnectionPool`; gevent runs the blocking pool's waits through its patched "
        "`select`. Both hold ten queries at a time on one worker:",
        "",
        db_table(rows),
    ])


LESSON = Lesson(name="dbasync", section=section, full=(ASYNC, GEVENT),
                book="Past the chapter — the asyncio database pool")
