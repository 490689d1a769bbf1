"""A service the lab owns (redis-server, Celery, nginx, PostgreSQL): the lab's one process
lifecycle (:class:`~loadtests.harness.process.Process`), its errors, and how to get its
program when it is missing."""

from __future__ import annotations

import shutil

from ..harness.process import Process


class ServiceError(RuntimeError):
    """A service did not start; the message says why in one line, then its log's tail."""


class Missing(ServiceError):
    """The service's program is not installed; the message says how to install it."""


#: How to get each program the lab runs, for the one line shown when it is missing.
INSTALL = {
    "redis-server": "install it with `sudo apt-get install redis-server` "
                    "(macOS: `brew install redis`)",
    "nginx": "install it with `sudo apt-get install nginx-light` (macOS: `brew install nginx`)",
}


def require(program: str) -> str:
    """The program's path, or :class:`Missing` with the line that says how to install it."""
    path = shutil.which(program)
    if path is None:
        raise Missing(f"{program} not found: {INSTALL.get(program, 'install it')}")
    return path


class Daemon(Process):
    """A service: subclasses give its :meth:`argv` and its ready test (:meth:`is_ready`)."""

    name = "service"
    error = ServiceError

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}

    def launch_argv(self) -> list[str]:
        return self.argv()

    def child_env(self) -> dict[str, str]:
        return {**super().child_env(), **self.env()}
