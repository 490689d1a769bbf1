"""A service the lab owns (redis-server, Celery, nginx, PostgreSQL): the lab's one process
lifecycle (:class:`~loadtests.harness.process.Process`), its errors, and how to get its
program when it is missing."""

from __future__ import annotations

import os
import pwd
import shutil
import socket

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
    "wrk": "install it with `sudo apt-get install wrk` (macOS: `brew install wrk`)",
}


def accepts(address: str, port: int) -> bool:
    """Whether something accepts a TCP connection on ``address:port`` (within a second)."""
    try:
        socket.create_connection((address, port), timeout=1).close()
    except OSError:
        return False
    return True


def as_user(user: str, program: str, why: str) -> list[str]:
    """The argv prefix that drops root to Debian's system ``user`` for ``program`` (empty when
    the lab is not root): ``setpriv``, which execs, so the server stays the lab's own child.
    ``why``: why it may not run as root, for the one line raised when there is no such user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise Missing(f"the lab runs as root and there is no `{user}` user to run {program} as "
                      f"({why}): {INSTALL.get(program, 'install it')}") from None
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]


def give_to(user_prefix: list[str], *paths) -> None:
    """Make ``paths`` the user's whom ``user_prefix`` (:func:`as_user`) runs as, if any."""
    if user_prefix:
        user = pwd.getpwnam(user_prefix[1].removeprefix("--reuid="))
        for path in paths:
            os.chown(path, user.pw_uid, user.pw_gid)


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
