"""The lab's Celery app: the chapter's distributed task queue, over a real Redis or RabbitMQ.

    celery -A webapp.tasks worker --pool prefork --concurrency 2   # on any host
    REDIS_URL=redis://HOST:6379/0 celery -A webapp.tasks worker    # ... pointing at any Redis
    CELERY_BROKER_URL=amqp://guest:guest@HOST:5672// REDIS_URL=... celery -A webapp.tasks worker

``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) points the web workers and the Celery
workers at the same Redis, on this machine or another: the result backend, and the broker
(the queue of task messages) unless ``CELERY_BROKER_URL`` (Celery's own name for it) names
a RabbitMQ (``amqp://``). Nothing here talks to either at import time: the first connection
is made by the first call, after gunicorn has forked (and gevent has patched) the worker.

Results stay in Redis with either broker. RabbitMQ's own result backend (``rpc://``) sends a
result to a reply queue of the caller's connection: a web worker whose connection dropped
(the broker restarted, or a cable was cut) loses the results on their way to it, while a
result stored in Redis waits there (``result_expires``) for the caller to read it, and a
Celery worker retries the store through an outage (below).

The settings, each measured in the lab's trial and in its tests (README, "Offload backends"):

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged after the
  task ran, and a pool process killed mid-task puts it back, so it runs again elsewhere and
  the caller still gets its answer (without them: ``WorkerLostError``).
* ``worker_prefetch_multiplier=1``: a worker process reserves one task at a time, so a
  long task does not hold others hostage behind it.
* ``visibility_timeout`` above the longest task (``task_time_limit``), and kombu's
  ``unacked_restore_throttle=1``: a task whose whole worker died -- or whose host was cut
  off -- comes back after about the visibility timeout, not after ≈ 100 s of throttled
  restores. ``VISIBILITY_TIMEOUT`` (seconds; default the time limit + 10) sets it: a
  task still running after it is handed to a second worker as well, so below the time
  limit (the hosts lesson's 15 s, for a quicker recovery) it suits only tasks known to be
  shorter, or idempotent ones. The time limit in force is the caller's: Celery sends its
  ``task_time_limit`` with each task.
* short retry policies and connect timeouts: with Redis gone, a call fails in about a
  second (the defaults retry for ≈ 19 s), and the web answers 503 instead of hanging.
* a worker that lost its broker tries again every second (``Reconnecting``), not after
  kombu's back-off of 2, 4, 6 ... up to 30 s between tries: measured, after a Redis restart
  the first offload answered 0.9 to 9 s after Redis was back, by how long it had been away
  (an outage of 5, 10, 20 and 40 s), and up to 31 s in a longer one -- the task waited in
  Redis for the worker's next try.
* ``result_expires``: results do not pile up in Redis.
* a Celery worker stores a result through an outage (``result_backend_always_retry``, set
  in the worker only: the web side keeps its quick 503), and a task that passed its time
  limit -- one whose result could not be stored in time, say -- goes back to the queue
  (``task_acks_on_failure_or_timeout=False``). Measured on the lab's hosts (the hosts
  lesson): without them, a Celery host cut off for 5 s lost the task it was running -- it
  computed the answer, could not store it, and Celery acknowledged that "failure", so the
  message was gone and its user got a 504. A task whose body raises is still not retried
  (its message is dropped, its FAILURE stored).
"""

from __future__ import annotations

import functools
import os

from celery import Celery, signals
from celery.worker.consumer import Consumer

from . import offload
from .work.primes import is_prime as _is_prime
from .work.primes import on_this_thread

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: The hard time limit of a task, in seconds: the pool process is killed past it.
TASK_TIME_LIMIT = offload.timeout()  # OFFLOAD_TIMEOUT, as the web side waits


def visibility_timeout() -> int:
    """Seconds a reserved, unacknowledged task waits before Redis hands it out again."""
    raw = os.environ.get("VISIBILITY_TIMEOUT", "").strip()
    try:
        seconds = int(raw) if raw else int(TASK_TIME_LIMIT) + 10
    except ValueError:
        seconds = 0
    if seconds <= 0:  # gunicorn.conf.py refuses it at start; a Celery worker, here
        raise ValueError(f"VISIBILITY_TIMEOUT must be a positive integer, got {raw!r}")
    return seconds


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "").strip() or DEFAULT_REDIS_URL


#: The brokers the lab runs, by URL scheme (gunicorn.conf.py checks CELERY_BROKER_URL's).
BROKERS = {"redis": "Redis", "amqp": "RabbitMQ"}


def broker_url() -> str:
    """``CELERY_BROKER_URL`` where set (redis:// or amqp://), else ``REDIS_URL``."""
    url = os.environ.get("CELERY_BROKER_URL", "").strip() or redis_url()
    if url.partition("://")[0] not in BROKERS:  # gunicorn.conf.py refuses it at start
        raise ValueError(f"CELERY_BROKER_URL must start with redis:// or amqp://, got {url!r}")
    return url


def broker_name() -> str:
    """Redis or RabbitMQ: the broker this process sends to or consumes from."""
    return BROKERS[broker_url().partition("://")[0]]


#: Seconds between a worker's tries to reach its broker again: kombu's ``ensure_connection``
#: sleeps 2, 4, 6 ... 30 s between tries, and Celery's consumer passes no intervals of its own.
RECONNECT = {"interval_start": 0, "interval_step": 0.5, "interval_max": 1}


class Reconnecting(Consumer):
    """Celery's consumer, trying its broker again at most a second apart (``RECONNECT``):
    the one place the worker's reconnection is set (``worker_consumer``)."""

    def connection_for_read(self, heartbeat=None):
        connection = self.app.connection_for_read(heartbeat=heartbeat)
        connection.ensure_connection = functools.partial(connection.ensure_connection,
                                                         **RECONNECT)
        return self.ensure_connected(connection)


#: RabbitMQ: seconds between AMQP heartbeats (Celery's default, 120); the broker closes a
#: connection that missed two.
BROKER_HEARTBEAT_S = 10

app = Celery("webapp", broker=broker_url(), backend=redis_url())
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_acks_on_failure_or_timeout=False,
    worker_prefetch_multiplier=1,
    worker_consumer=f"{__name__}:Reconnecting",
    task_time_limit=TASK_TIME_LIMIT,
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=1,
    broker_transport_options={
        "visibility_timeout": visibility_timeout(),
        "unacked_restore_throttle": 1,
    } if broker_name() == "Redis" else {
        # RabbitMQ: each publish waits for the broker's ack. Without it, a publish written
        # to a node that dies before reading it is lost without an error, and the caller
        # waits OFFLOAD_TIMEOUT for a result that never comes (504, not 503)
        "confirm_publish": True,
    },
    # RabbitMQ: AMQP heartbeats every 10 s (Celery's default, 120), so that the broker
    # closes a cut-off worker's connection -- and hands its unacknowledged task to another
    # worker -- after two missed beats, not four minutes
    broker_heartbeat=BROKER_HEARTBEAT_S,
    task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
    redis_socket_connect_timeout=1,
    result_backend_transport_options={"retry_policy": {"max_retries": 2}},
    result_expires=600,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
)


@signals.worker_init.connect
def _store_results_through_outages(**_) -> None:
    """In a Celery worker (not in the web's callers, which answer 503 at once): retry a
    result write until Redis answers again, at most a second apart."""
    app.conf.result_backend_always_retry = True
    app.conf.result_backend_max_sleep_between_retries_ms = 1000


@app.task(name="lab.is_prime")
def is_prime(n: int) -> dict:
    """The lab's CPU-bound check, run by a Celery worker: ``{"prime": ..., "cpu": ...}``,
    with the CPU seconds it took in the worker's pool (JSON-serialisable)."""
    prime, cpu = on_this_thread(_is_prime, n)
    return {"prime": prime, "cpu": cpu}
