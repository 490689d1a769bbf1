"""Waiting on PostgreSQL through psycopg2: each request spends 80 ms in the database.

    python -m loadtests.services.postgres &      # a lab cluster; prints its DATABASE_URL
    DATABASE_URL=postgresql://lab@127.0.0.1:5433/lab \\
        python -m loadtests.advise --app examples.orders_psycopg2:app --path /orders/42

A typical Flask app of the psycopg2 era: a ``ThreadedConnectionPool`` of up to 40
connections per worker process. psycopg2 releases the GIL while it waits, so threads
overlap the waits -- but it never yields to gevent's hub: under gevent each query holds
the whole worker. The advice should say so, and not advise gevent.
"""

import os
import threading

import psycopg2.pool
from flask import Flask

app = Flask(__name__)

#: Seconds each request waits in PostgreSQL, and the pool's size per worker process.
WAIT_S = 0.08
POOL_SIZE = 40

_pool = None
_lock = threading.Lock()


def pool() -> psycopg2.pool.ThreadedConnectionPool:
    global _pool
    with _lock:
        if _pool is None:  # in the worker, on the first request
            _pool = psycopg2.pool.ThreadedConnectionPool(1, POOL_SIZE,
                                                         os.environ["DATABASE_URL"])
        return _pool


@app.get("/orders/<int:order_id>")
def order(order_id: int):
    conn = pool().getconn()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(%s), name FROM items WHERE id = %s",
                           (WAIT_S, order_id))
            _, name = cursor.fetchone()
        conn.rollback()
    finally:
        pool().putconn(conn)
    return {"order": order_id, "item": name, "status": "shipped"}
