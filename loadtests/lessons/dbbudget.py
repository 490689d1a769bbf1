"""Connections are a budget: workers × pool against the cluster's ``max_connections``.

Each worker process opens its own pool. Two workers with pools of ten want twenty
connections of a cluster that lets the app open ten (thirteen, less PostgreSQL's three
reserved for superusers): what does not fit is refused, and users see 503 JSON saying
"too many clients" -- counted, nothing lost silently. Its neighbour sizes the pools from
the arithmetic, workers × pool ≤ connections allowed. (PgBouncer in transaction mode is
the other fix, when the arithmetic cannot fit -- many hosts, many workers; the lab teaches
the arithmetic and does not run it.)
"""

from __future__ import annotations

from ..matrix.cells import Database, Scenario, cell
from .base import Lesson, Results, db_table

#: Two workers, each with its own SO_REUSEPORT socket: the kernel spreads the users' 20
#: connections over them (one shared socket let one worker take most of them: measured,
#: 67 rps of 100 with pools of 5).
_WORKERS = {"workers": 2, "threads": 10, "users": 20, "reuse_port": True}
REFUSED = cell("dbbudget", "gthread", **_WORKERS,
               db=Database("psycopg2", pool=10, max_connections=13))
ABSORBED = cell("dbbudget", "gthread", **_WORKERS, db=Database(pool=10, max_connections=13))
SIZED = cell("db", "gthread", **_WORKERS, db=Database(pool=5, max_connections=13))


def section(results: Results) -> str:
    rows = [row for row in map(results.row, (REFUSED, ABSORBED, SIZED)) if row]
    if len(rows) < 3:
        return ""
    refused, absorbed, _ = rows
    db = REFUSED.db
    return "\n".join([
        "### Connections are a budget",
        "",
        f"Two gthread workers with {REFUSED.spec.threads} threads each, against a cluster whose "
        f"`max_connections` = {db.max_connections} lets the app's role open {db.allowed} "
        f"(PostgreSQL keeps {db.RESERVED} for superusers). With pools of {db.pool} the "
        f"workers want {REFUSED.spec.workers * db.pool}; with pools of {SIZED.db.pool}, "
        f"{SIZED.spec.workers * SIZED.db.pool}:",
        "",
        db_table(rows),
        "",
        f"psycopg2 connects on demand, so over the budget users see the refusals: "
        f"{refused['failures']} of {refused['requests']} requests failed, each a 503 JSON "
        "naming it ('too many clients', or the slots reserved for superusers), none a 500 "
        f"or a hang. psycopg's pool absorbs them ({absorbed['failures']} failed): it keeps "
        "retrying its missing connections in the background, so each worker serves with "
        "fewer than it asked for — and nothing but its log says so. The sized pools fit and "
        "meet their bound. No bound judges the first two cells: which worker got the "
        "connections decides their rate.",
    ])


LESSON = Lesson(
    book="Past the chapter — the database's connection budget",
    name="dbbudget",
    section=section,
    scenarios={"dbbudget": Scenario("db", "/db", None)},
    assumptions={"dbbudget": "No bound: more connections wanted than the cluster allows; "
                             "the cell counts what users see (503 JSON)."},
    full=(REFUSED, ABSORBED, SIZED),
)
