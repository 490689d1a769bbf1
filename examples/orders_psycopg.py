"""Waiting on PostgreSQL through psycopg 3: each request spends 80 ms in the database.

    python -m loadtests.services.postgres &      # a lab cluster; prints its DATABASE_URL
    DATABASE_URL=postgresql://lab@127.0.0.1:5433/lab \\
        python -m loadtests.advise --app examples.orders_psycopg:app --path /orders/42

The same app as ``orders_psycopg2`` on psycopg 3 and ``psycopg_pool`` (up to 40
connections per worker process). psycopg 3 yields to gevent's hub once gevent has patched
``select`` -- which gunicorn's gevent worker does before it imports the app -- so under
gevent the waits overlap too.
"""

import os
import threading

from flask import Flask
from psycopg_pool import ConnectionPool

app = Flask(__name__)

WAIT_S = 0.08
POOL_SIZE = 40

_pool = None
_lock = threading.Lock()


def pool() -> ConnectionPool:
    global _pool
    with _lock:
        if _pool is None:  # in the worker, on the first request
            _pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=4, max_size=POOL_SIZE,
                                   open=True)
        return _pool


@app.get("/orders/<int:order_id>")
def order(order_id: int):
    with pool().connection() as conn:
        _, name = conn.execute("SELECT pg_sleep(%s), name FROM items WHERE id = %s",
                               (WAIT_S, order_id)).fetchone()
    return {"order": order_id, "item": name, "status": "shipped"}
