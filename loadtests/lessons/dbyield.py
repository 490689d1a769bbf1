"""Releasing the GIL is not yielding: a database driver under gevent and asyncio.

psycopg2 releases the GIL around libpq's blocking call, which is all threads need; but it
never hands control back to gevent's hub, so one greenlet's query holds the whole worker.
psycogreen's wait callback (psycopg2 through gevent's sockets) and psycopg 3 (pure-Python
waits once gevent has patched ``select``) yield. On asyncio the awaited pool yields and the
blocking driver called inside the coroutine does not: the Quick Quiz with a database.
"""

from __future__ import annotations

from ..matrix.cells import Database, Scenario, cell
from .base import Lesson, Results, db_table

USERS = 21  # 20 database users and the heartbeat
PLAIN = cell("dbbeat", "gevent", 1, users=USERS, db=Database("psycopg2"))
YIELDS = cell("dbbeat", "gevent", 1, users=USERS, db=Database("psycopg"))


def section(results: Results) -> str:
    rows = results.scenario("dbbeat")
    if not rows:
        return ""
    lines = [
        "### Releasing the GIL is not yielding: the database driver decides",
        "",
        f"{USERS - 1} users ask `/db` (a `pg_sleep` of {results.settings['delay_s']:g} s on a "
        "pooled connection) while one paced user asks `/health` every 50 ms. The bound is "
        "Little's law with the database's terms: min(users, slots, pool) ÷ R per worker when "
        "the driver lets the worker run its other requests meanwhile, and 1 ÷ R when it does "
        "not — psycopg2 under gevent, or a blocking driver inside an asyncio coroutine, holds "
        "the whole worker for each query:",
        "",
        db_table(rows, heartbeat=True),
    ]
    plain, yields = results.row(PLAIN), results.row(YIELDS)
    if plain and yields:
        lines += ["", f"The same worker, the same queries: psycopg2 {plain['rps']:.1f} rps with "
                  f"the heartbeat at p99 {plain['heartbeat_p99_ms']:.0f} ms, psycopg 3 "
                  f"{yields['rps']:.1f} rps with it at {yields['heartbeat_p99_ms']:.0f} ms. "
                  "psycopg2 released the GIL — no other thread wanted it — and the hub still "
                  "could not run. (Its pool wait is mostly a wait for the hub: a greenlet "
                  "cannot even ask for a connection until the query ahead of it ends. And "
                  "gevent's monitor reports little of it: each query holds the hub for about "
                  "its 0.1 s threshold, and a period holding any switch is not reported.)"]
    return "\n".join(lines)


LESSON = Lesson(
    book="Processes, Threads, and Python's Infamous GIL — releasing the GIL is not yielding",
    name="dbyield",
    section=section,
    scenarios={"dbbeat": Scenario("dbbeat", "/db", "db", heartbeat=True)},
    assumptions={"dbbeat": "Little's law with the database: min(users − 1, workers × "
                           "min(slots, pool), connections allowed) ÷ R, R = the pg_sleep; a "
                           "driver that does not yield to the worker's loop (psycopg2 under "
                           "gevent, a blocking driver in a coroutine) leaves one slot per "
                           "worker."},
    quick=(PLAIN, YIELDS),
    full=(cell("dbbeat", "gevent", 1, users=USERS, db=Database("psycopg2-green")),
          cell("dbbeat", "gthread", 1, 20, users=USERS, db=Database("psycopg2")),
          cell("dbbeat", "asgi", 1, users=USERS, db=Database("psycopg")),
          cell("dbbeat", "asgi", 1, users=USERS, db=Database("psycopg", sync=True))),
)
