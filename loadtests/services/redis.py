"""A real redis-server of the lab's own: loopback, a free port, no persistence."""

from __future__ import annotations

import redis

from ..servers import free_port
from .daemon import Daemon, require


class RedisServer(Daemon):
    """``redis-server`` on 127.0.0.1, nothing written to disk; ``url`` for REDIS_URL."""

    name = "redis-server"
    stop_grace = 5.0

    def __init__(self, *, port: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.binary = require("redis-server")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        return [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--protected-mode", "yes", "--loglevel", "warning"]

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def is_ready(self) -> bool:
        """Our redis-server answers (not another one on the same port: it names its pid)."""
        try:
            with self.client() as client:
                return client.info("server")["process_id"] == self.proc.pid
        except redis.RedisError:
            return False
