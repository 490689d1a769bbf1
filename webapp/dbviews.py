"""The database endpoints of the Flask app: ``/db`` (waiting in PostgreSQL) and ``/db/rows``."""

from __future__ import annotations

import os
import time

from flask import Blueprint, jsonify, request

from .db import DEFAULT_MS, DEFAULT_ROWS, MAX_MS, MAX_ROWS, queries
from .params import parse_flag, parse_ms, parse_rows

bp = Blueprint("db", __name__)


def _timed(call, *args):
    start = time.perf_counter()
    answer = call(*args)
    return jsonify(answer | {"wall": time.perf_counter() - start, "pid": os.getpid()})


@bp.get("/db")
def db():
    """``SELECT pg_sleep(ms / 1000)`` on a pooled connection of DB_DRIVER.

    ``sync=1`` is accepted and changes nothing here: a WSGI worker's driver call already
    blocks its own thread or greenlet (on the asgi model it is the mistake that freezes
    the loop).
    """
    ms = parse_ms(request.args.get("ms"), MAX_MS, DEFAULT_MS)
    parse_flag(request.args.get("sync"), "sync")
    return _timed(queries.sleep, ms)


@bp.get("/db/rows")
def db_rows():
    """The first ``n`` rows of the lab's table, as JSON: CPU that grows with ``n``."""
    return _timed(queries.rows, parse_rows(request.args.get("n"), MAX_ROWS, DEFAULT_ROWS))
