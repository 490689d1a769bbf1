"""The ``dirty`` backend: gunicorn 27's dirty workers, one shared pool per server.

gunicorn's master starts a dirty arbiter and ``dirty_workers`` processes (configured in
gunicorn.conf.py when ``OFFLOAD_BACKEND=dirty``); HTTP workers reach them over a Unix
socket. Two rough edges of 27.0.1 are handled here, in one place (README, "Offload
backends"):

* ``get_dirty_client()`` keeps one client per *thread*. Under gevent every greenlet of a
  worker shares that thread, so concurrent calls queue behind the client's lock;
* ``get_dirty_client_async()`` keeps one client per *context*, never closed: an asgi
  worker leaks a Unix-socket connection per request.

So every call opens its own client and closes it (a Unix-socket connect, tens of µs).
And it connects at ``LAB_DIRTY_SOCKET``, the path gunicorn.conf.py pins for every dirty
arbiter of the server: gunicorn's own path changes when a dead arbiter is replaced, and an
HTTP worker would keep the old one.
"""

from __future__ import annotations

import os

from gunicorn.dirty import DirtyClient, DirtyConnectionError, DirtyError, DirtyTimeoutError
from gunicorn.dirty.client import get_dirty_socket_path

from .dirtyapp import APP


def _socket_path() -> str:
    from . import Unavailable

    if path := os.environ.get("LAB_DIRTY_SOCKET"):
        return path
    try:
        return get_dirty_socket_path()
    except DirtyError:
        raise Unavailable("dirty workers are not configured: start gunicorn with "
                          "OFFLOAD_BACKEND=dirty and -c gunicorn.conf.py") from None


def _translate(error: DirtyError):
    from . import TimedOut, Unavailable

    if isinstance(error, DirtyTimeoutError):
        return TimedOut("the dirty worker's task took too long")
    if isinstance(error, DirtyConnectionError):
        return Unavailable("the dirty arbiter is unreachable")
    return Unavailable(f"the dirty worker failed: {type(error).__name__}")


def is_prime(n: int, timeout: float) -> bool:
    try:
        with DirtyClient(_socket_path(), timeout=timeout) as client:
            return client.execute(APP, "is_prime", n)
    except DirtyError as error:
        raise _translate(error) from None


async def is_prime_async(n: int, timeout: float) -> bool:
    try:
        async with DirtyClient(_socket_path(), timeout=timeout) as client:
            return await client.execute_async(APP, "is_prime", n)
    except DirtyError as error:
        raise _translate(error) from None


def info() -> dict:
    try:
        path = os.environ.get("LAB_DIRTY_SOCKET") or get_dirty_socket_path()
    except DirtyError:
        path = None
    return {"socket": path}
