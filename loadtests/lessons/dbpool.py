"""The pool is a slot: a worker holds no more queries in PostgreSQL than its pool has
connections, whatever its threads or greenlets."""

from __future__ import annotations

from ..matrix.cells import Database, Scenario, cell
from .base import Lesson, Results, db_table

SMALL = cell("db", "gthread", 1, 16, users=20, db=Database(pool=4))
MATCHED = cell("db", "gthread", 1, 16, users=20, db=Database(pool=16))
GEVENT = cell("db", "gevent", 1, users=20, db=Database(pool=10))


def section(results: Results) -> str:
    rows = [row for row in map(results.row, (SMALL, MATCHED, GEVENT)) if row]
    if not rows:
        return ""
    return "\n".join([
        "### The pool is a slot",
        "",
        "Twenty users ask `/db` of one worker. The I/O bound gains a term: min(users, slots, "
        "pool) ÷ R. Sixteen threads with a pool of four hold four queries at a time; the "
        "other requests wait at the pool, and the app's own timing of that wait (`pool "
        "wait`) makes up the difference in latency. A thousand greenlets with a pool of ten "
        "hold ten:",
        "",
        db_table(rows),
    ])


LESSON = Lesson(
    book="Past the chapter — the database's connection pool",
    name="dbpool",
    section=section,
    scenarios={"db": Scenario("db", "/db", "db")},
    assumptions={"db": "Little's law with the database: min(users, workers × min(slots, "
                       "pool), connections allowed) ÷ R, R = the pg_sleep."},
    full=(SMALL, MATCHED, GEVENT),
)
