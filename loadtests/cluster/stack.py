"""The lab's deployment on its hosts: a broker host, Celery hosts, web hosts, what they share.

The settings are the lab's own (:mod:`webapp.tasks`), with the two times the scenarios turn
on said here, once:

* a Celery host's ``VISIBILITY_TIMEOUT`` is :data:`VISIBILITY_S`: a task whose host is cut
  off goes back to the queue about ``VISIBILITY_S`` after it was handed out, plus up to
  kombu's ``unacked_restore_interval`` (10 s: how often a worker looks for expired
  reservations). It is below the tasks' time limit (the web's ``OFFLOAD_TIMEOUT``, which
  Celery sends with each task): fine for ``is_prime`` (0.2 s, idempotent), and the price of
  a recovery the web's wait can cover;
* the web host waits :data:`WEB_WAIT_S` for an answer (``OFFLOAD_TIMEOUT``): over
  ``VISIBILITY_S`` + the restore interval + a task, so a request whose task was on a host
  that vanished is answered by another host, late, instead of failing; and gunicorn's
  worker timeout is above it (:data:`WEB_TIMEOUT_S`).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from webapp.tasks import BROKER_HEARTBEAT_S

from ..harness.poll import wait_until
from ..harness.process import Process
from ..harness.procs import rss_mb
from ..load.client import Reply, get
from ..servers import GunicornServer, ServerSpec
from ..services.celeryworker import CeleryWorker
from ..services.rabbitmq import RabbitServer
from ..services.redis import RedisServer
from .network import Host

REDIS_PORT = 6379
RABBIT_PORT = 5672
WEB_PORT = 8000
VISIBILITY_S = 15
#: RabbitMQ: the AMQP heartbeat the lab's Celery app asks for (``broker_heartbeat``).
HEARTBEAT_S = BROKER_HEARTBEAT_S
#: kombu's Channel.unacked_restore_interval (kombu/transport/redis.py), the lab's default.
RESTORE_INTERVAL_S = 10
WEB_WAIT_S = 45
#: gunicorn's worker timeout on the web hosts: above WEB_WAIT_S (gunicorn.conf.py checks).
WEB_TIMEOUT_S = 60
CELERY_ENV = {"VISIBILITY_TIMEOUT": str(VISIBILITY_S)}
#: Celery's own INFO lines for each task (celery/app/trace.py, worker/strategy.py).
TASK_LINE = re.compile(r"Task lab\.is_prime\[([0-9a-f-]+)\] (received|succeeded)")


def broker(host: Host, log_dir: Path) -> RedisServer:
    return RedisServer(place=host, port=REDIS_PORT, log_path=log_dir / f"redis-{host.name}.log")


@dataclass(frozen=True)
class Queue:
    """Where the tasks go (``broker_url``: RabbitMQ's; None: Redis is the broker too) and
    where their results are stored (``redis_url``); ``servers``: each server of the broker
    host by name, with the seconds its start took (from launch to ready)."""

    redis_url: str
    broker_url: str | None = None
    servers: tuple[tuple[str, Process, float], ...] = field(default=(), compare=False)

    @property
    def broker(self) -> str:
        return "RabbitMQ" if self.broker_url else "Redis"

    def cost(self) -> dict[str, dict[str, float]]:
        """Per server: its start's seconds, and its processes' resident memory now (MB)."""
        return {name: {"start_s": start_s,
                       "rss_mb": rss_mb(server.processes())}
                for name, server, start_s in self.servers}


#: The brokers a scenario runs with, by the name ``--brokers`` takes.
BROKERS = ("redis", "rabbitmq")


@contextlib.contextmanager
def queue_host(host: Host, log_dir: Path, kind: str = "redis") -> Iterator[Queue]:
    """The broker host: Redis alone, or RabbitMQ beside the Redis that stores the results
    (one host: cutting it cuts both), started, then stopped and reaped."""
    if kind not in BROKERS:
        raise ValueError(f"broker must be one of {', '.join(BROKERS)}, got {kind!r}")
    with contextlib.ExitStack() as stack:
        servers = [("Redis", broker(host, log_dir))]
        if kind == "rabbitmq":
            servers.append(("RabbitMQ", RabbitServer(
                place=host, port=RABBIT_PORT, log_path=log_dir / f"rabbitmq-{host.name}.log")))
        started = []
        for name, server in servers:
            start = time.monotonic()
            stack.enter_context(server)
            started.append((name, server, time.monotonic() - start))
        redis, rabbit = servers[0][1], dict(servers).get("RabbitMQ")
        yield Queue(redis.url, rabbit and rabbit.url, tuple(started))


def celery_host(host: Host, queue: Queue | str, log_dir: Path, *,
                concurrency: int = 1) -> CeleryWorker:
    """A Celery worker (prefork) on ``host``, with the lab's settings and the short times;
    ``queue`` a :class:`Queue` or the URL of a Redis that is both broker and results."""
    queue = Queue(queue) if isinstance(queue, str) else queue
    worker = CeleryWorker(queue.redis_url, broker_url=queue.broker_url, pool="prefork",
                          concurrency=concurrency, place=host, extra_env=CELERY_ENV,
                          log_path=log_dir / f"celery-{host.name}.log")
    worker.stop_grace = 2.0
    return worker


def web_host(host: Host, log_dir: Path, *, redis_url: str | None = None,
             queue: Queue | None = None, worker_class: str = "gevent") -> GunicornServer:
    """gunicorn -w1 on ``host``, offloading to Celery when given ``queue`` (or ``redis_url``:
    a Redis that is both broker and results)."""
    queue = queue or (Queue(redis_url) if redis_url else None)
    # gunicorn.conf.py checks OFFLOAD_TIMEOUT against TIMEOUT from the environment
    env = ((("REDIS_URL", queue.redis_url), ("OFFLOAD_TIMEOUT", str(WEB_WAIT_S)),
            ("TIMEOUT", str(WEB_TIMEOUT_S)),
            *((("CELERY_BROKER_URL", queue.broker_url),) if queue.broker_url else ()))
           if queue else ())
    spec = ServerSpec(worker_class=worker_class, offload="celery" if queue else "pool",
                      env=env, timeout=WEB_TIMEOUT_S)
    return GunicornServer(spec, place=host, port=WEB_PORT,
                          log_path=log_dir / f"gunicorn-{host.name}.log")


def probe(url: str, timeout: float = 60.0) -> Reply:
    """One GET; a connection that fails is status 0 with the error as its body."""
    try:
        return get(url, timeout)
    except OSError as error:
        now = time.time()
        return Reply(url, 0, {"error": str(error)}, now, now)


def until(check: Callable[[], object], timeout: float, what: str) -> float:
    """Poll ``check`` until it returns something true; the seconds it took."""
    start = time.monotonic()
    wait_until(check, timeout, interval=0.02,
               fail=lambda _: TimeoutError(f"{what}: not within {timeout:g} s"))
    return time.monotonic() - start


class TaskLog:
    """What Celery workers logged about each task: who received it, who finished it."""

    def __init__(self, workers: dict[str, CeleryWorker]):
        self.workers = workers

    def events(self, name: str) -> dict[str, list[str]]:
        seen: dict[str, list[str]] = {"received": [], "succeeded": []}
        for task_id, what in TASK_LINE.findall(self.workers[name].log_text()):
            seen[what].append(task_id)
        return seen

    def running(self, name: str) -> set[str]:
        """Tasks ``name`` received and has not (yet) reported done."""
        seen = self.events(name)
        return set(seen["received"]) - set(seen["succeeded"])

    def received(self) -> set[str]:
        """Every task any of the workers received."""
        return {task for name in self.workers for task in self.events(name)["received"]}
