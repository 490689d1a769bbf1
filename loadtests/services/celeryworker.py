"""Real Celery workers for ``webapp.tasks``: ``celery -A webapp.tasks worker`` as a user runs it."""

from __future__ import annotations

import itertools
import sys

from .daemon import Daemon

#: Celery's worker pools, each a model of the chapter.
POOLS = ("prefork", "threads", "gevent", "solo")
READY_LINE = " ready."
_names = itertools.count(1)


class CeleryWorker(Daemon):
    """One Celery worker process (and its pool) consuming from ``broker_url`` (RabbitMQ's
    ``amqp://``) or, without one, from ``redis_url``, and storing results in Redis."""

    name = "celery"
    ready_timeout = 60.0
    # Celery's warm shutdown waits for running tasks; the runner's tasks are short, and
    # anything left after the grace is SIGKILLed with its pool processes.
    stop_grace = 10.0

    def __init__(self, redis_url: str, *, pool: str = "prefork", concurrency: int = 2,
                 broker_url: str | None = None, extra_env: dict[str, str] | None = None,
                 **kwargs):
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
        super().__init__(**kwargs)
        self.redis_url, self.pool, self.concurrency = redis_url, pool, concurrency
        self.broker_url = broker_url
        self.extra_env = extra_env or {}
        self.node = f"lab{next(_names)}-{id(self)}@%h"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "webapp.tasks", "worker",
                "--pool", self.pool, "--concurrency", str(self.concurrency),
                "--hostname", self.node, "--loglevel", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat"]

    def env(self) -> dict[str, str]:
        broker = {"CELERY_BROKER_URL": self.broker_url} if self.broker_url else {}
        return {"REDIS_URL": self.redis_url, **broker, **self.extra_env}

    def is_ready(self) -> bool:
        return READY_LINE in self.log_text()

    def pool_pids(self) -> list[int]:
        """The pool's child processes (prefork); empty for threads, gevent and solo."""
        return sorted(p.pid for p in self.processes() if p.pid != self.proc.pid)
