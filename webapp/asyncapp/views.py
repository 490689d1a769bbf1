"""The lab's endpoints as coroutines: each asyncio variant is a lesson of the chapter.

* ``/io`` awaits ``asyncio.sleep``; ``?blocking=1`` calls ``time.sleep`` in the
  coroutine -- the classic mistake: the whole loop waits.
* ``/mixed`` awaits ``asyncio.sleep(delay)``, then calls ``is_prime(n)`` in the coroutine.
* ``/prime/<n>`` calls ``is_prime`` in the coroutine: the Quick Quiz, the loop
  freezes; ``?nap=1`` awaits ``asyncio.sleep(0)`` every 100 000 divisions;
  ``?thread=1`` uses ``asyncio.to_thread``: the loop stays free, the GIL
  still allows one core's worth of Python per process.
* ``/offload/prime/<n>`` awaits the offload backend (``OFFLOAD_BACKEND``: the
  worker's process pool, Celery, or gunicorn's dirty workers); ``/hash`` runs
  hashlib (GIL released) via ``asyncio.to_thread``.
* ``/spin/<n>`` is the book's ``spinner_async``; ``/download`` streams ``mb`` MiB, each send
  awaiting the client's pace, and ``/upload`` reads a body, each chunk awaiting it too.
"""

from __future__ import annotations

import asyncio
import os
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from .. import offload
from ..instrument import runtime
from ..params import parse_delay, parse_flag, parse_mb, parse_n, parse_one_of
from ..work import download, upload
from ..work.gilfree import MAX_MB, sha256_megabytes
from ..work.primes import (
    MIXED_PRIME,
    is_prime,
    is_prime_async_nap,
    napping_on_the_loop,
    on_this_thread,
)
from ..work.spinner import spin_async


def _arg(request: Request, name: str) -> str | None:
    """The first value of a query parameter, as Flask's ``request.args.get`` reads it."""
    values = request.query_params.getlist(name)
    return values[0] if values else None


def _get(request: Request):
    return lambda name: _arg(request, name)


async def health(request: Request) -> JSONResponse:
    """Cheap heartbeat: answers at once unless the event loop is blocked."""
    return JSONResponse({"status": "ok"})


async def info(request: Request) -> JSONResponse:
    """Which process, worker model, thread, event loop and task served this request."""
    return JSONResponse(runtime.info() | {"event_loop": runtime.event_loop()})


async def io(request: Request) -> JSONResponse:
    """``await asyncio.sleep(delay)``; with ``?blocking=1``, ``time.sleep`` -- frozen loop."""
    delay = parse_delay(_arg(request, "delay"))
    blocking = parse_flag(_arg(request, "blocking"), "blocking")
    start = time.perf_counter()
    if blocking:
        time.sleep(delay)  # the mistake this endpoint demonstrates
    else:
        await asyncio.sleep(delay)
    return JSONResponse({"delay": delay, "elapsed": time.perf_counter() - start,
                         "pid": os.getpid()})


async def mixed(request: Request) -> JSONResponse:
    """Mostly waiting, partly CPU: ``await asyncio.sleep(delay)``, then ``is_prime(n)`` in the
    coroutine (the loop frozen for its CPU)."""
    delay = parse_delay(_arg(request, "delay"))
    raw = _arg(request, "n")
    number = parse_n(str(MIXED_PRIME) if raw is None else raw)  # ?n= is bad input, as in Flask
    start = time.perf_counter()
    await asyncio.sleep(delay)
    result, cpu = on_this_thread(is_prime, number)
    return JSONResponse({"delay": delay, "n": number, "prime": result,
                         "elapsed": time.perf_counter() - start, "cpu": cpu,
                         "pid": os.getpid()})


async def _blocking_check(n: int) -> bool:
    """``is_prime`` called directly in a coroutine: it never awaits, so nothing else runs."""
    return is_prime(n)


async def _on_the_loop(n: int) -> tuple[bool, float]:
    return on_this_thread(is_prime, n)


async def _in_thread(n: int) -> tuple[bool, float]:
    return await asyncio.to_thread(on_this_thread, is_prime, n)  # CPU of the pool's thread


#: Each returns (prime, CPU seconds of the thread that ran is_prime), as ``cpu``.
PRIME_CHECKS = {None: _on_the_loop, "nap": napping_on_the_loop, "thread": _in_thread}


async def _timed(n: int, check) -> JSONResponse:
    start = time.perf_counter()
    result, cpu = await check(n)
    return JSONResponse({"n": n, "prime": result, "elapsed": time.perf_counter() - start,
                         "cpu": cpu, "pid": os.getpid()})




async def prime(request: Request) -> JSONResponse:
    """CPU-bound pure Python in the coroutine (freezes the loop); ``?nap=1``, ``?thread=1``."""
    mode = parse_one_of(_get(request), ("nap", "thread"))
    return await _timed(parse_n(request.path_params["n"]), PRIME_CHECKS[mode])


async def offload_prime(request: Request) -> JSONResponse:
    """The same check in the offload backend: the loop only awaits."""
    return await _timed(parse_n(request.path_params["n"]), offload.check_async)


async def hash_(request: Request) -> JSONResponse:
    """SHA-256 of ``mb`` MiB in a thread: hashlib releases the GIL, so threads use cores."""
    mb = parse_mb(_arg(request, "mb"), MAX_MB)
    start = time.perf_counter()
    digest = await asyncio.to_thread(sha256_megabytes, mb)
    return JSONResponse({"mb": mb, "sha256": digest, "elapsed": time.perf_counter() - start,
                         "pid": os.getpid()})


SPIN_CHECKS = {None: _blocking_check, "nap": is_prime_async_nap, "offload": offload.is_prime_async}


async def spin(request: Request) -> StreamingResponse:
    """The book's ``spinner_async`` as a stream; ``?nap=1`` or ``?offload=1`` to vary it."""
    number = parse_n(request.path_params["n"])
    mode = parse_one_of(_get(request), ("nap", "offload"))
    return StreamingResponse(spin_async(number, SPIN_CHECKS[mode]), media_type="text/plain",
                             headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"})


async def download_(request: Request) -> StreamingResponse:
    """``mb`` MiB for the slow-reader lesson; ``?unbuffered=1`` asks nginx not to buffer it."""
    mb = parse_mb(_arg(request, "mb"), download.MAX_MB, download.DEFAULT_MB)
    unbuffered = parse_flag(_arg(request, "unbuffered"), "unbuffered")
    return StreamingResponse(download.chunks_async(mb), media_type="application/octet-stream",
                             headers=download.headers(mb, unbuffered=unbuffered))


async def upload_(request: Request) -> JSONResponse:
    """Read the whole request body (at most 16 MiB), awaiting each chunk."""
    length = request.headers.get("content-length")
    upload.check_length(int(length) if length and length.isdigit() else None)
    start = time.perf_counter()
    received = await upload.count_async(request.stream())
    return JSONResponse({"bytes": received, "elapsed": time.perf_counter() - start,
                         "pid": os.getpid()})


ROUTES = [
    Route("/health", health),
    Route("/info", info),
    Route("/io", io),
    Route("/mixed", mixed),
    Route("/prime/{n}", prime),
    Route("/offload/prime/{n}", offload_prime),
    Route("/hash", hash_),
    Route("/spin/{n}", spin),
    Route("/download", download_),
    Route("/upload", upload_, methods=["POST"]),
]
