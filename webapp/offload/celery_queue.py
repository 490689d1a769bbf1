"""The ``celery`` backend: send the check to a Celery worker through the broker (Redis or
RabbitMQ) and wait for its result in Redis.

The Celery app lives in :mod:`webapp.tasks` (``celery -A webapp.tasks worker``). It is
imported on the first call, never at import time: in a gevent worker Celery must see the
patched standard library to pick its gevent-aware result waiter (checked by ``/info``:
``offload.result_waiter``). On the asgi model the publish and the wait run in a thread
(``asyncio.to_thread``), so the event loop never blocks on Redis.
"""

from __future__ import annotations

import asyncio
import gc

from amqp.exceptions import ConnectionError as AMQPConnectionError
from celery.exceptions import TimeLimitExceeded
from celery.exceptions import TimeoutError as CeleryTimeout
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout

from .errors import TimedOut, Unavailable

_UNREACHABLE = (OperationalError, RedisConnectionError, RedisTimeout, AMQPConnectionError,
                ConnectionError)


def _unreachable(error: BaseException) -> bool:
    """The broker or Redis was not reached: the error, or one it was raised from (Celery's
    result backend wraps its last connection error in a RuntimeError once its retries are
    spent)."""
    while error is not None:
        if isinstance(error, _UNREACHABLE):
            return True
        error = error.__cause__ or error.__context__
    return False


def check(n: int, timeout: float) -> tuple[bool, float]:
    from ..tasks import is_prime as task
    try:
        answer = task.delay(n).get(timeout=timeout)
        return answer["prime"], answer["cpu"]
    except CeleryTimeout:
        raise TimedOut(f"the Celery task took longer than {timeout:g} s") from None
    except TimeLimitExceeded:
        raise TimedOut("the Celery task passed its time limit") from None
    except Exception as error:
        if not _unreachable(error):
            raise
        raise Unavailable(f"the task queue ({_queue()}) is unreachable") from None


def _queue() -> str:
    from ..tasks import broker_name

    broker = broker_name()
    return broker if broker == "Redis" else f"{broker}, its results in Redis"


async def check_async(n: int, timeout: float) -> tuple[bool, float]:
    return await asyncio.to_thread(check, n, timeout)


def shutdown() -> None:
    """Free this worker's finished results while it can still run them (its exit hook).

    A finished ``AsyncResult`` sits in a reference cycle until the collector frees it, and
    its ``__del__`` then unsubscribes from Redis through a gevent-local. Left to the
    interpreter's exit, in a gevent worker that runs after the hub's greenlets are gone,
    and every stop printed "Exception ignored in: AsyncResult.__del__ ... RuntimeError:
    greenlet is being finalized" (celery 5.7.0, gevent: six of six stops of the celery
    pools page's script). Collected here, they leave quietly."""
    gc.collect()


def info() -> dict:
    from ..tasks import app, broker_name, redis_url

    backend = app.backend
    waiter = getattr(getattr(backend, "result_consumer", None), "drainer", None)
    return {"redis_url": redis_url(), "broker": broker_name(),
            "result_waiter": type(waiter).__name__ if waiter else None}
