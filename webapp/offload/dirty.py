"""The ``dirty`` backend: gunicorn 27's dirty workers, one shared pool per server.

gunicorn's master starts a dirty arbiter and ``dirty_workers`` processes (configured in
gunicorn.conf.py when ``OFFLOAD_BACKEND=dirty``); HTTP workers reach them over a Unix
socket. Three rough edges of 27.0.1 are handled here, in one place (README, "Offload
backends"):

* ``get_dirty_client()`` keeps one client per *thread*. Under gevent every greenlet of a
  worker shares that thread, so concurrent calls queue behind the client's lock;
* ``get_dirty_client_async()`` keeps one client per *context*, never closed: an asgi
  worker leaks a Unix-socket connection per request;
* a dirty worker's own task timeout reaches the caller as an app error (``_timed_out``):
  it answers 504, as the arbiter's does, not 503.

So the lab keeps its own idle clients per process: a call takes one (or opens one), and
gives it back when done -- each in use by one call at a time, whatever the model; at most
``IDLE_MAX`` are kept open, a failed call's client is closed. (A client per call also works,
but the arbiter's accept costs ≈ 0.4–0.6 ms a call on the lab's VM: measured against the
arbiter, p50 1.1–1.5 ms with a new client, 0.75–0.9 ms reused.)
A call that fails because its dirty worker went away (``DirtyWorkerError``) or the arbiter
could not be reached is tried again with another client, up to ``ATTEMPTS`` times within
its timeout: a SIGHUP makes 27.0.1's arbiter spawn and terminate dirty workers, and for a
moment calls are routed round-robin to workers that are leaving (``is_prime`` has no side
effects, so running it again is safe). The arbiter answers such a call at once only with
the lab's consumer (webapp/offload/dirtyarbiter.py); 27.0.1's own leaves it hanging.
And it connects at ``LAB_DIRTY_SOCKET``, the path gunicorn.conf.py pins for every dirty
arbiter of the server: gunicorn's own path changes when a dead arbiter is replaced, and an
HTTP worker would keep the old one.
"""

from __future__ import annotations

import contextlib
import os
import time

from gunicorn.dirty import (
    DirtyAppError,
    DirtyClient,
    DirtyConnectionError,
    DirtyError,
    DirtyTimeoutError,
    DirtyWorkerError,
)
from gunicorn.dirty.client import get_dirty_socket_path

from .dirtyapp import APP
from .errors import TimedOut, Unavailable

#: Idle clients kept open per process (sync and async apart: an async client is bound to
#: its event loop).
IDLE_MAX = 8
_idle: list[DirtyClient] = []
_idle_async: list[DirtyClient] = []


@contextlib.contextmanager
def _client(timeout: float):
    client = _idle.pop() if _idle else DirtyClient(_socket_path(), timeout=timeout)
    client.timeout = timeout
    try:
        yield client
    except BaseException:
        client.close()
        raise
    if len(_idle) < IDLE_MAX:
        _idle.append(client)
    else:
        client.close()


@contextlib.asynccontextmanager
async def _client_async(timeout: float):
    client = _idle_async.pop() if _idle_async else DirtyClient(_socket_path(), timeout=timeout)
    client.timeout = timeout
    try:
        yield client
    except BaseException:
        await client.close_async()
        raise
    if len(_idle_async) < IDLE_MAX:
        _idle_async.append(client)
    else:
        await client.close_async()


def _configured_path() -> str | None:
    """The arbiter's socket: the lab's pinned path, else gunicorn's own, else None."""
    if path := os.environ.get("LAB_DIRTY_SOCKET"):
        return path
    try:
        return get_dirty_socket_path()
    except DirtyError:
        return None


def _socket_path() -> str:
    if path := _configured_path():
        return path
    raise Unavailable("dirty workers are not configured: start gunicorn with "
                      "OFFLOAD_BACKEND=dirty and -c gunicorn.conf.py")


def _timed_out(error: DirtyError) -> bool:
    """Whether ``error`` is a task's timeout. The arbiter's own is a DirtyTimeoutError; the
    dirty worker's (its ``dirty_timeout``, which ends at the same second) reaches the caller
    as a DirtyAppError, since 27.0.1's worker wraps every exception of a task, its own
    timeout too, as the app's -- only its traceback names DirtyTimeoutError. The two race;
    once, in a busy clean-clone CI, the worker's won, and a timeout answered 503."""
    return isinstance(error, DirtyTimeoutError) or (
        isinstance(error, DirtyAppError)
        and "DirtyTimeoutError" in (getattr(error, "traceback", None) or ""))


def _translate(error: DirtyError):
    if _timed_out(error):
        return TimedOut("the dirty worker's task took too long")
    if isinstance(error, DirtyConnectionError):
        return Unavailable("the dirty arbiter is unreachable")
    return Unavailable(f"the dirty worker failed: {type(error).__name__}")


#: Failures that mean the call never ran to completion anywhere: worth another attempt.
_RETRY = (DirtyConnectionError, DirtyWorkerError)
#: Attempts per call: a HUP's reload routed a call to three leaving workers in a row.
ATTEMPTS = 4


@contextlib.contextmanager
def _as_http_errors():
    """gunicorn's dirty errors as the backend's 503 and 504."""
    try:
        yield
    except DirtyError as error:
        raise _translate(error) from None


def _attempts(timeout: float):
    """Each attempt's timeout: up to ATTEMPTS of them, all within the call's ``timeout``."""
    deadline = time.monotonic() + timeout
    for attempt in range(ATTEMPTS):
        left = deadline - time.monotonic()
        if attempt and left <= 0:
            return
        yield attempt == ATTEMPTS - 1 or left <= 0, max(left, 0.001)


def check(n: int, timeout: float) -> tuple[bool, float]:
    with _as_http_errors():
        for last, left in _attempts(timeout):
            try:
                with _client(left) as client:
                    return tuple(client.execute(APP, "check", n))
            except _RETRY:  # another client, another worker (see the module's docstring)
                if last:
                    raise
    raise Unavailable("the dirty workers kept leaving until the call's timeout")


async def check_async(n: int, timeout: float) -> tuple[bool, float]:
    with _as_http_errors():
        for last, left in _attempts(timeout):
            try:
                async with _client_async(left) as client:
                    return tuple(await client.execute_async(APP, "check", n))
            except _RETRY:
                if last:
                    raise
    raise Unavailable("the dirty workers kept leaving until the call's timeout")


def info() -> dict:
    return {"socket": _configured_path()}
