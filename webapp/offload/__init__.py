"""Offload CPU work out of the web worker, and wait for it without blocking anything.

Three backends, one interface, chosen by ``OFFLOAD_BACKEND`` (read from the environment
at each call: a cheap lookup, and a test can switch it):

* ``pool`` (default): a per-worker ``ProcessPoolExecutor`` (:mod:`.pool`) -- one machine,
  W workers x cores pool processes.
* ``celery``: a Celery task over Redis (:mod:`.celery_queue`, app in :mod:`webapp.tasks`) --
  the chapter's distributed task queue: its workers may run on any number of machines.
* ``dirty``: gunicorn 27's dirty workers (:mod:`.dirty`) -- one shared pool per server,
  started and stopped by gunicorn's master.

``is_prime(n)`` waits in the calling thread (cooperatively under gevent, whose patching
covers each backend's wait); ``await is_prime_async(n)`` waits on the event loop;
``check(n)`` and ``check_async(n)`` also return the CPU seconds the check took where it ran
(``primes.on_this_thread`` in the backend's process: the matrix's S under load). Failures
become HTTP errors with JSON bodies: :class:`Unavailable` (503) when the backend cannot be
reached, :class:`TimedOut` (504) past ``OFFLOAD_TIMEOUT`` seconds (default 20, below
gunicorn's 30 s worker timeout, so a slow task never gets the web worker killed).
"""

from __future__ import annotations

import os
import sys
from importlib import import_module

from . import pool
from .errors import TimedOut, Unavailable

__all__ = ["BACKENDS", "TimedOut", "Unavailable", "backend", "backend_name", "check",
           "check_async", "info", "is_prime", "is_prime_async", "pool", "shutdown", "timeout"]

BACKENDS = ("pool", "celery", "dirty")
_MODULES = {"pool": ".pool", "celery": ".celery_queue", "dirty": ".dirty"}
DEFAULT_TIMEOUT = 20.0


def backend_name() -> str:
    """The configured backend; an unknown name is refused by gunicorn.conf.py at start."""
    name = os.environ.get("OFFLOAD_BACKEND", "").strip() or "pool"
    if name not in BACKENDS:
        raise ValueError(f"OFFLOAD_BACKEND must be one of {', '.join(BACKENDS)}, got {name!r}")
    return name


def timeout() -> float:
    raw = os.environ.get("OFFLOAD_TIMEOUT", "").strip()
    return float(raw) if raw else DEFAULT_TIMEOUT


def backend():
    """The module implementing the configured backend."""
    return import_module(_MODULES[backend_name()], __name__)


def check(n: int) -> tuple[bool, float]:
    """``primes.is_prime(n)`` computed by the backend, and its CPU seconds there; the caller
    waits."""
    prime, cpu = backend().check(n, timeout())
    return prime, cpu


async def check_async(n: int) -> tuple[bool, float]:
    """The same; the event loop stays free."""
    prime, cpu = await backend().check_async(n, timeout())
    return prime, cpu


def is_prime(n: int) -> bool:
    """``primes.is_prime(n)`` computed by the backend; the caller waits."""
    return check(n)[0]


async def is_prime_async(n: int) -> bool:
    """``primes.is_prime(n)`` computed by the backend; the event loop stays free."""
    return (await check_async(n))[0]


def info() -> dict:
    """What ``/info`` shows: the backend and where it computes."""
    return {"backend": backend_name(), **backend().info()}


def shutdown() -> None:
    """Release this process's backend resources (gunicorn's worker_exit hook)."""
    pool.shutdown()
    if queue := sys.modules.get(f"{__name__}.celery_queue"):  # imported by its first call
        queue.shutdown()
