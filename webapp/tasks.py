"""The lab's Celery app: the chapter's distributed task queue, over a real Redis.

    celery -A webapp.tasks worker --pool prefork --concurrency 2   # on any host
    REDIS_URL=redis://HOST:6379/0 celery -A webapp.tasks worker    # ... pointing at any Redis

Redis is both the broker (the queue of task messages) and the result backend.
``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) points the web workers and
the Celery workers at the same Redis, on this machine or another. Nothing here
talks to Redis at import time: the first connection is made by the first call,
after gunicorn has forked (and gevent has patched) the worker.

The settings, each measured in the lab's trial and in its tests (README, "Offload backends"):

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged after the
  task ran, and a pool process killed mid-task puts it back, so it runs again elsewhere and
  the caller still gets its answer (without them: ``WorkerLostError``).
* ``worker_prefetch_multiplier=1``: a worker process reserves one task at a time, so a
  long task does not hold others hostage behind it.
* ``visibility_timeout`` above the longest task (``task_time_limit``), and kombu's
  ``unacked_restore_throttle=1``: a task whose whole worker died comes back after about
  the visibility timeout, not after ≈ 100 s of throttled restores.
* short retry policies and connect timeouts: with Redis gone, a call fails in about a
  second (the defaults retry for ≈ 19 s), and the web answers 503 instead of hanging.
* ``result_expires``: results do not pile up in Redis.
"""

from __future__ import annotations

import os

from celery import Celery

from . import offload
from .primes import is_prime as _is_prime
from .primes import on_this_thread

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: The hard time limit of a task, in seconds: the pool process is killed past it.
TASK_TIME_LIMIT = offload.timeout()  # OFFLOAD_TIMEOUT, as the web side waits


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "").strip() or DEFAULT_REDIS_URL


app = Celery("webapp", broker=redis_url(), backend=redis_url())
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=TASK_TIME_LIMIT,
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=1,
    broker_transport_options={
        "visibility_timeout": int(TASK_TIME_LIMIT) + 10,
        "unacked_restore_throttle": 1,
    },
    task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
    redis_socket_connect_timeout=1,
    result_backend_transport_options={"retry_policy": {"max_retries": 2}},
    result_expires=600,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
)


@app.task(name="lab.is_prime")
def is_prime(n: int) -> dict:
    """The lab's CPU-bound check, run by a Celery worker: ``{"prime": ..., "cpu": ...}``,
    with the CPU seconds it took in the worker's pool (JSON-serialisable)."""
    prime, cpu = on_this_thread(_is_prime, n)
    return {"prime": prime, "cpu": cpu}
