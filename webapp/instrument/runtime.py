"""What is running this code: which gunicorn worker model, thread, greenlet.

The worker model is *detected*, not echoed from a setting: gunicorn's
``post_worker_init`` hook (see ``gunicorn.conf.py``) hands us the worker object
and we look at its class.  When that hook did not run (the app served by
another config, or by the Flask dev server) we infer the model from the WSGI
environ and from whether gevent has monkey-patched the standard library.
"""

from __future__ import annotations

import os
import platform
import sys
import threading

from .. import offload
from . import gcpauses

# gunicorn's worker classes, by class name, as the short names users pass to -k.
_WORKER_NAMES = {
    "SyncWorker": "sync",
    "ThreadWorker": "gthread",
    "GeventWorker": "gevent",
    "GeventPyWSGIWorker": "gevent",
    "ASGIWorker": "asgi",
}

_worker_model: str | None = None
_worker_threads: int | None = None


def record_worker(worker: object) -> str:
    """Remember the model of the gunicorn ``worker`` serving this process, and its
    ``threads`` setting (gthread's pool; 1 on the other models)."""
    global _worker_model, _worker_threads
    name = type(worker).__name__
    _worker_model = _WORKER_NAMES.get(name, name)
    cfg = getattr(worker, "cfg", None)
    _worker_threads = getattr(cfg, "threads", None)
    return _worker_model


def gevent_patched() -> bool:
    """True when gevent has monkey-patched the standard library in this process."""
    if "gevent.monkey" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("time") or monkey.is_module_patched("socket"))


def current_greenlet_id() -> int | None:
    """Identity of the running greenlet under gevent, else None."""
    if not gevent_patched():
        return None
    import greenlet

    return id(greenlet.getcurrent())


def worker_model(environ: dict | None = None) -> str:
    """The worker model serving this process: sync, gthread, gevent, asgi or dev."""
    if _worker_model is not None:
        return _worker_model
    environ = environ or {}
    if not str(environ.get("SERVER_SOFTWARE", "")).startswith("gunicorn"):
        return "dev"
    if gevent_patched():
        return "gevent"
    return "gthread" if environ.get("wsgi.multithread") else "sync"


def event_loop() -> dict | None:
    """The running asyncio loop (its class, debug mode) and the current task, else None."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    kind = type(loop)
    task = asyncio.current_task()
    return {"class": f"{kind.__module__}.{kind.__qualname__}",
            "library": kind.__module__.split(".")[0],  # asyncio or uvloop
            "debug": loop.get_debug(),
            "slow_callback_duration": loop.slow_callback_duration,
            "task": task.get_name() if task else None}


def info(environ: dict | None = None) -> dict:
    """A snapshot of the process, thread and scheduler serving this request."""
    thread = threading.current_thread()
    return {
        "pid": os.getpid(),
        "worker_class": worker_model(environ),
        "threads": _worker_threads,  # gunicorn's setting, as the worker got it (None: no hook)
        "thread": {"name": thread.name, "ident": thread.ident},
        "greenlet": current_greenlet_id(),
        "gevent_patched": gevent_patched(),
        "switch_interval": sys.getswitchinterval(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
        "offload": offload.info(),
        "gc": gcpauses.snapshot(),  # timed where the lab's gunicorn config installed it
    }
