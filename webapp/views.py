"""The lab's endpoints: health, introspection, slow I/O and CPU-bound primes."""

from __future__ import annotations

import os
import time

from flask import Blueprint, jsonify, request

from . import runtime
from .params import parse_delay, parse_n
from .primes import is_prime

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
    """Blocking I/O stand-in: ``time.sleep`` (cooperative under gevent's patching)."""
    delay = parse_delay(request.args.get("delay"))
    start = time.perf_counter()
    time.sleep(delay)
    return jsonify(delay=delay, elapsed=time.perf_counter() - start, pid=os.getpid())


@bp.get("/prime/<n>")
def prime(n: str):
    """CPU-bound work in pure Python: holds the GIL and never yields."""
    number = parse_n(n)
    start = time.perf_counter()
    result = is_prime(number)
    return jsonify(n=number, prime=result, elapsed=time.perf_counter() - start, pid=os.getpid())
