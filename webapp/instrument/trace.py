"""Request timelines: who served each request, from when to when -- at the cost of an append.

With ``TRACE=1`` gunicorn's ``post_worker_init`` hook (``gunicorn.conf.py``) calls
:func:`install`, which wraps whatever app the worker loaded -- the lab's twins or your own
-- in a middleware (:func:`wsgi`, or :class:`Asgi` under ``-k asgi``) that records, per
request: its start and end
(``time.monotonic_ns()``, one clock for every process on the machine), the worker's pid,
the OS thread (``threading.get_native_id()``, the id ``/proc/<pid>/task/`` lists, so that
its CPU can be read beside it), the lane it ran on -- the greenlet under gevent, the asyncio
task under asgi, else the thread -- its path's first segment and its status. Each is one
tuple appended to this worker's buffer; nothing is written, and no request is made to read
it, until the worker exits (gunicorn's ``worker_exit`` hook, or ``atexit``): then
:func:`flush` writes ``$TRACE_DIR/requests-<pid>.json`` (default ``traces/``) in one go.

Without ``TRACE=1`` nothing is installed: the apps are exactly as they were. This module
imports nothing of the lab's (the config loads it by its path for an app of yours).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from pathlib import Path

#: The file format's version, in each file.
FORMAT = 1


def enabled() -> bool:
    return os.environ.get("TRACE", "").strip() == "1"


def folder() -> Path:
    return Path(os.environ.get("TRACE_DIR", "").strip() or "traces")


# (start_ns, end_ns, native thread id, lane id, endpoint, status): one per finished request
_spans: list[tuple[int, int, int, int, str, int]] = []
_flushed_pid: int | None = None
_model = "unknown"  # the worker class, as gunicorn names it


def endpoint(path: str) -> str:
    """The path's first segment, which names the view: ``/prime/97`` -> ``/prime``.

    >>> endpoint("/prime/97"), endpoint("/health"), endpoint("/")
    ('/prime', '/health', '/')
    """
    return "/" + path.lstrip("/").split("/", 1)[0]


def _lane_of_thread() -> int:
    return threading.get_native_id()


def _lane_of_greenlet() -> int:
    import greenlet

    return id(greenlet.getcurrent())


def _lane_of_task() -> int:
    import asyncio

    return id(asyncio.current_task())


def _gevent_patched() -> bool:
    if "gevent.monkey" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("socket"))


def record(start_ns: int, lane: int, path: str, status: int) -> None:
    """One finished request, ended now."""
    _spans.append((start_ns, time.monotonic_ns(), threading.get_native_id(), lane,
                   endpoint(path), status))


def flush() -> Path | None:
    """Write this process's requests once, atomically (a reader never sees half a file)."""
    global _flushed_pid
    if not enabled() or _flushed_pid == os.getpid():
        return None
    _flushed_pid = os.getpid()
    out = folder()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"requests-{os.getpid()}.json"
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps({
        "format": FORMAT, "pid": os.getpid(), "model": _model,
        "lanes": _LANE_KINDS.get(_lane, "thread"),
        "clock": "monotonic_ns",
        "fields": ["start_ns", "end_ns", "tid", "lane", "endpoint", "status"],
        "spans": _spans,
    }))
    partial.replace(path)
    return path


_lane = _lane_of_thread
_LANE_KINDS = {_lane_of_thread: "thread", _lane_of_greenlet: "greenlet", _lane_of_task: "task"}


def install(worker) -> None:
    """Wrap the app this gunicorn worker loaded (``worker.wsgi``, or ``worker.asgi`` on the
    asyncio worker); write the spans at exit. Called after the worker has loaded its app
    and gevent has patched it."""
    global _model, _lane
    _model = worker.cfg.worker_class_str
    atexit.register(flush)
    if hasattr(worker, "asgi"):
        _lane = _lane_of_task
        worker.asgi = Asgi(worker.asgi)
    else:
        _lane = _lane_of_greenlet if _gevent_patched() else _lane_of_thread
        worker.wsgi = wsgi(worker.wsgi)


def wsgi(app):
    """The WSGI app, recording each request as its response ends (``close()``, after the
    body was sent: a slow reader holds the request that long)."""

    def traced(environ, start_response):
        start, lane = time.monotonic_ns(), _lane()
        status = [0]

        def recording_start_response(line, headers, exc_info=None):
            status[0] = int(line[:3])
            return start_response(line, headers, exc_info)

        body = app(environ, recording_start_response)
        return _Closing(body, lambda: record(start, lane, environ.get("PATH_INFO", "/"),
                                             status[0]))

    return traced


class _Closing:
    """A response body that records its request when the server closes it (PEP 3333)."""

    def __init__(self, body, on_close):
        self._body, self._on_close = body, on_close

    def __iter__(self):
        return iter(self._body)

    def close(self):
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            self._on_close()


class Asgi:
    """The ASGI app, recording each HTTP request as its coroutine returns (the body sent)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, lane = time.monotonic_ns(), _lane_of_task()
        status = [0]

        async def recording_send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            record(start, lane, scope.get("path", "/"), status[0])
