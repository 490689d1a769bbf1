"""A real redis-server of the lab's own: loopback (or a lab host's address), a free port,
no persistence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..servers import free_port
from .daemon import Daemon, require

if TYPE_CHECKING:
    import redis


class RedisServer(Daemon):
    """``redis-server`` on 127.0.0.1 (or its place's address), nothing written to disk;
    ``url`` for REDIS_URL."""

    name = "redis-server"
    stop_grace = 5.0

    def __init__(self, *, port: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.binary = require("redis-server")
        self.port = port or free_port()
        self.url = f"redis://{self.place.address}:{self.port}/0"

    def argv(self) -> list[str]:
        # protected mode refuses other hosts' clients: off on a lab host, whose network
        # reaches only the lab's other hosts
        protected = "no" if self.place.netns else "yes"
        return [self.binary, "--port", str(self.port), "--bind", self.place.address,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--protected-mode", protected, "--loglevel", "warning"]

    def client(self) -> redis.Redis:
        """A client of this server (redis-py imported here, when a server is used: every
        command that names the lab's services would otherwise pay its import)."""
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def is_ready(self) -> bool:
        """Our redis-server answers (not another one on the same port: it names its pid)."""
        import redis

        try:
            with self.client() as client:
                return client.info("server")["process_id"] == self.proc.pid
        except redis.RedisError:
            return False
