"""How long a slow client holds each model, and what ends it -- measured, not assumed.

Slow headers (slowloris), per case: a fresh server with the lab's defaults (gunicorn's
``timeout`` 30 s, ``keepalive`` 2 s; nginx's ``client_header_timeout`` 10 s; three cases add
the lab's ``HEADER_TIMEOUT``, one lowers asgi's open-file limit) and slowloris connections
enough to take its slots (or its file descriptors); then: does ``/health`` answer meanwhile
(2 s to try), when does the server (or the proxy) first hang up on a slow client (watched up
to :data:`WATCH_S`), and does ``/health`` answer at once after the slow clients leave. The
cases run side by side, each on its own ports, so the watch costs one :data:`WATCH_S`, not
one per case.

Slow bodies (:data:`BODY_CASES`, beside them): the same watch for clients that send a whole
header announcing 1 MiB to ``/upload`` and then the body a byte a second.

Slow readers (:data:`READER_CASES`, beside them too): clients that take an 8 MiB ``/download``
64 KiB a second; does ``/health`` answer while they read -- directly, behind nginx, and behind
nginx with the response marked ``X-Accel-Buffering: no``?
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from ...harness.poll import wait_until
from ...load.client import get
from ...load.trickle import REQUEST_LINE, SLOW_BODY, SlowClients, SlowReader, outlasting_mb
from ...servers import ServerSpec, launch
from ...services.nginx import NginxProxy

#: Seconds each case is watched: past gunicorn's 30 s worker timeout.
WATCH_S = 40.0
HEADER_10 = (("HEADER_TIMEOUT", "10"),)  # as nginx's client_header_timeout below
#: (label, spec, slow clients enough to take its slots) per model
SYNC, GTHREAD, GEVENT, ASGI = MODELS = (
    ("sync -w1", ServerSpec("sync"), 1),
    ("gthread -w1 --threads 4", ServerSpec("gthread", threads=4), 4),
    ("gevent -w1", ServerSpec("gevent"), 5),
    ("asgi -w1", ServerSpec("asgi"), 5),
)
#: (label, spec, slow clients, front): each model direct, and the two that need nginx behind it
DIRECT = tuple((label, spec, k, "direct") for label, spec, k in MODELS)
BEHIND_NGINX = tuple((label, spec, 20, "nginx") for label, spec, _ in (SYNC, GTHREAD))
#: Slow headers
CASES = (
    *DIRECT,
    # the lab's own bound where gunicorn has none (HEADER_TIMEOUT,
    # webapp/instrument/headerdeadline.py)
    *((f"{label}, HEADER_TIMEOUT=10", replace(spec, env=HEADER_10), k, "direct")
      for label, spec, k in (SYNC, GTHREAD, ASGI)),
    # each slow header costs asgi a socket: past the open-file limit it accepts nothing
    ("asgi -w1, ulimit -n 256", replace(ASGI[1], max_open_files=256), 300, "direct"),
    *BEHIND_NGINX,
)
#: Slow bodies: a whole header announcing 1 MiB to /upload, then a body byte a second.
BODY_CASES = (*DIRECT, *BEHIND_NGINX)


def _health(url: str, within: float) -> str:
    start = time.perf_counter()
    try:
        status = get(url + "/health", timeout=within).status
    except OSError:
        return f"no answer in {within:g} s"
    return f"{status} in {(time.perf_counter() - start) * 1000:.0f} ms"


def _ended_by(front: str, held: float | None, log: str, kind: str) -> str:
    if held is None:
        return f"nothing within {WATCH_S:g} s"
    if front == "nginx":
        return f"nginx's client_{kind}_timeout"
    if "header timeout: no request header" in log:
        return "the lab's HEADER_TIMEOUT (a 408)"
    if "WORKER TIMEOUT" in log:
        return "gunicorn's timeout (the worker is killed)"
    return "gunicorn's keepalive" if held < 10 else "the server"


@contextlib.contextmanager
def _served(spec: ServerSpec, front: str):
    """A fresh server, and nginx in front of it unless ``front`` is "direct": (server, port,
    url) where the clients connect."""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(launch(spec))
        if front == "direct":
            yield server, server.port, server.url
        else:
            proxy = stack.enter_context(NginxProxy(server.port))
            yield server, proxy.port, proxy.url


def watch_one(label: str, spec: ServerSpec, k: int, front: str, kind: str = "header") -> dict:
    prefix = SLOW_BODY if kind == "body" else REQUEST_LINE
    with _served(spec, front) as (server, port, url):
        with SlowClients("127.0.0.1", port, k, prefix=prefix) as slow:
            during = _health(url, 2.0)
            wait_until(lambda: slow.open_count() < k, WATCH_S, interval=0.1, fail=None)
            held = min((c.held_s for c in slow.connections if c.held_s is not None),
                       default=None)
        after = _health(url, 5.0)
        return {"kind": kind, "label": label, "front": front, "slow_clients": k, "held_s": held,
                "ended_by": _ended_by(front, held, server.log_text(), kind),
                "health_during": during, "health_after": after}


#: Slow readers: (label, spec, readers, front, query). Each asks for more of /download than
#: the sockets on its path can hold (``outlasting_mb``: a fixed 8 MiB fitted whole through
#: nginx on a kernel whose receive buffers grow to 32 MiB) and reads READ_RATE bytes a
#: second; "nginx, X-Accel-Buffering: no" is the app asking nginx not to buffer.
READER_CASES = (
    *((label, spec, k, front, query)
      for label, spec, k in (SYNC, GTHREAD)
      for front, query in (("direct", ""), ("nginx", ""),
                           ("nginx, X-Accel-Buffering: no", "&unbuffered=1"))),
    *((label, spec, k, "direct", "") for label, spec, k in (GEVENT, ASGI)),
)
READ_RATE = 64 * 1024
#: Seconds each reader has to get its first 64 KiB before /health is asked.
READER_START_S = 3.0


def watch_reader(label: str, spec: ServerSpec, k: int, front: str, query: str,
                 mb: int | None = None) -> dict:
    """While ``k`` slow readers take ``mb`` MiB of /download each (default: more than the
    sockets on their path hold), does /health answer?"""
    mb = mb or outlasting_mb(proxies=int(front != "direct"))
    with _served(spec, front) as (_, port, url), contextlib.ExitStack() as readers:
        path = f"/download?mb={mb}{query}"
        slow = [readers.enter_context(SlowReader("127.0.0.1", port, path, rate=READ_RATE))
                for _ in range(k)]
        for reader in slow:
            reader.wait_received(READ_RATE, within=READER_START_S)
        return {"kind": "reader", "label": label, "front": front, "slow_clients": k,
                "mb": mb, "read_kib_s": READ_RATE // 1024,
                "health_during": _health(url, 2.0)}


def watch() -> list[dict]:
    with ThreadPoolExecutor(len(CASES) + len(BODY_CASES) + len(READER_CASES)) as pool:
        headers = [pool.submit(watch_one, *case) for case in CASES]
        bodies = [pool.submit(watch_one, *case, kind="body") for case in BODY_CASES]
        readers = [pool.submit(watch_reader, *case) for case in READER_CASES]
        return [f.result() for f in headers + bodies + readers]
