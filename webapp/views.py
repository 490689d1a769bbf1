"""The lab's endpoints: health, introspection, slow I/O, CPU-bound primes (plain, napping,
offloaded), GIL-free hashing, the spinner stream, and a large download and upload."""

from __future__ import annotations

import functools
import os
import time

from flask import Blueprint, Response, jsonify, request, stream_with_context

from . import offload
from .instrument import runtime
from .params import (
    THREAD_IS_ASGI_ONLY,
    BadParam,
    parse_delay,
    parse_flag,
    parse_mb,
    parse_n,
    parse_one_of,
)
from .work import download, upload
from .work.gilfree import MAX_MB, sha256_megabytes
from .work.primes import (
    MIXED_PRIME,
    is_prime,
    is_prime_napping,
    napping_on_this_thread,
    on_this_thread,
)
from .work.spinner import spin

bp = Blueprint("lab", __name__)


@bp.get("/health")
def health():
    """Cheap heartbeat: answers at once unless the worker cannot run at all."""
    return jsonify(status="ok")


@bp.get("/info")
def info():
    """Which process, worker model, thread and greenlet served this request."""
    return jsonify(runtime.info(request.environ))


@bp.get("/io")
def io():
    """Blocking I/O stand-in: ``time.sleep`` (cooperative under gevent's patching).

    ``blocking=1`` is accepted and changes nothing: here ``time.sleep`` is the I/O stand-in
    already (on the asgi model it is the mistake that freezes the loop).
    """
    delay = parse_delay(request.args.get("delay"))
    parse_flag(request.args.get("blocking"), "blocking")
    start = time.perf_counter()
    time.sleep(delay)
    return jsonify(delay=delay, elapsed=time.perf_counter() - start, pid=os.getpid())


@bp.get("/mixed")
def mixed():
    """Mostly waiting, partly CPU: ``time.sleep(delay)``, then ``is_prime(n)`` with the GIL
    held (default ``n``: about 13 ms). ``cpu``: the check's own CPU seconds."""
    delay = parse_delay(request.args.get("delay"))
    number = parse_n(request.args.get("n", str(MIXED_PRIME)))
    start = time.perf_counter()
    time.sleep(delay)
    result, cpu = on_this_thread(is_prime, number)
    return jsonify(delay=delay, n=number, prime=result, elapsed=time.perf_counter() - start,
                   cpu=cpu, pid=os.getpid())


def _timed_prime(n: str, check):
    """``check(number)`` -> (prime, CPU seconds), timed: the answer, its wall seconds
    (``elapsed``) and the CPU seconds the check took where it ran (``cpu``)."""
    number = parse_n(n)
    start = time.perf_counter()
    result, cpu = check(number)
    return jsonify(n=number, prime=result, elapsed=time.perf_counter() - start, cpu=cpu,
                   pid=os.getpid())


@bp.get("/prime/<n>")
def prime(n: str):
    """CPU-bound work in pure Python: holds the GIL; yields only with ``?nap=1``."""
    mode = parse_one_of(request.args.get, ("nap", "thread"))
    if mode == "thread":
        raise BadParam(THREAD_IS_ASGI_ONLY)
    if mode == "nap":
        return _timed_prime(n, napping_on_this_thread)
    return _timed_prime(n, functools.partial(on_this_thread, is_prime))


@bp.get("/offload/prime/<n>")
def offload_prime(n: str):
    """The same check in the offload backend (OFFLOAD_BACKEND): the worker only waits."""
    return _timed_prime(n, offload.check)


@bp.get("/hash")
def hash_():
    """CPU work in C that releases the GIL: SHA-256 of ``mb`` MiB."""
    mb = parse_mb(request.args.get("mb"), MAX_MB)
    start = time.perf_counter()
    digest = sha256_megabytes(mb)
    return jsonify(mb=mb, sha256=digest, elapsed=time.perf_counter() - start, pid=os.getpid())


@bp.get("/spin/<n>")
def spin_(n: str):
    """Stream a spinner while the prime check runs; ``?nap=1`` or ``?offload=1`` to vary it."""
    number = parse_n(n)
    mode = parse_one_of(request.args.get, ("nap", "offload"))
    check = {"offload": offload.is_prime, "nap": is_prime_napping}.get(mode, is_prime)
    return Response(stream_with_context(spin(number, check)), mimetype="text/plain",
                    headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"})


@bp.get("/download")
def download_():
    """``mb`` MiB for a slow reader to hold the worker with; ``?unbuffered=1`` asks nginx not
    to buffer it."""
    mb = parse_mb(request.args.get("mb"), download.MAX_MB, download.DEFAULT_MB)
    unbuffered = parse_flag(request.args.get("unbuffered"), "unbuffered")
    return Response(download.chunks(mb), mimetype="application/octet-stream",
                    headers=download.headers(mb, unbuffered=unbuffered))


@bp.post("/upload")
def upload_():
    """Read the whole request body (at most 16 MiB): what a slow uploader holds the worker
    with."""
    upload.check_length(request.content_length)
    start = time.perf_counter()
    received = upload.count(iter(lambda: request.stream.read(upload.CHUNK), b""))
    return jsonify(bytes=received, elapsed=time.perf_counter() - start, pid=os.getpid())
