"""The ``pool`` backend: a per-worker process pool, waited on without blocking.

Each gunicorn worker gets its own ``ProcessPoolExecutor``, created lazily in
the worker (after the fork: a pool inherited across ``fork`` would be shared
by accident) and shut down by the ``worker_exit`` hook. Its processes are
*spawned*, fresh interpreters that inherit neither gevent's patching nor the
worker's sockets. ``OFFLOAD_PROCESSES`` sets its size (default: the core
count).

Under gevent the pool's result pipe is watched by a greenlet (threading and
select are monkey-patched), so a request waiting on ``future.result()`` yields
to the hub: the worker keeps answering while a pool process computes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from ..work.primes import is_prime as _is_prime
from ..work.primes import on_this_thread
from .errors import TimedOut, Unavailable

_pool: ProcessPoolExecutor | None = None
_owner: int | None = None


def pool_size() -> int:
    raw = os.environ.get("OFFLOAD_PROCESSES", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else (os.cpu_count() or 1)


def get_pool() -> ProcessPoolExecutor:
    """This process's pool, created on first use."""
    global _pool, _owner
    if _pool is None or _owner != os.getpid():
        _pool = ProcessPoolExecutor(max_workers=pool_size(),
                                    mp_context=multiprocessing.get_context("spawn"))
        _owner = os.getpid()
    return _pool


def run(fn, *args, timeout: float | None = None):
    """Run ``fn(*args)`` in a pool process and return its result."""
    try:
        return get_pool().submit(fn, *args).result(timeout)
    except FutureTimeout:
        raise TimedOut(f"the pool's task took longer than {timeout:g} s") from None
    except BrokenProcessPool:
        shutdown()  # the next call starts a fresh pool
        raise Unavailable("a pool process died; the pool is restarted on the next call") from None


def check(n: int, timeout: float) -> tuple[bool, float]:
    return run(on_this_thread, _is_prime, n, timeout=timeout)


async def check_async(n: int, timeout: float) -> tuple[bool, float]:
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(
            loop.run_in_executor(get_pool(), on_this_thread, _is_prime, n), timeout)
    except TimeoutError:
        raise TimedOut(f"the pool's task took longer than {timeout:g} s") from None


def info() -> dict:
    return {"pids": pool_pids(), "size": pool_size()}


def pool_pids() -> list[int]:
    """The pool's live process ids (empty before first use)."""
    if _pool is None or _owner != os.getpid():
        return []
    return sorted(p.pid for p in (_pool._processes or {}).values() if p.is_alive())


def shutdown() -> None:
    """Stop the pool's processes (from gunicorn's worker_exit hook)."""
    global _pool
    if _pool is not None and _owner == os.getpid():
        _pool.shutdown(wait=True, cancel_futures=True)
    _pool = None
