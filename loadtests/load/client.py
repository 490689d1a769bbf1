"""A tiny concurrent HTTP client (stdlib only) for the probe and the tests.

Locust drives the real load (see ``loadtests/load/locustfile.py``); this client is
for small, exact experiments: fire N requests at once, time each one.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass
class Reply:
    url: str
    status: int
    body: dict
    sent: float  # time.time() when the request left
    received: float  # time.time() when the reply was read

    @property
    def latency(self) -> float:
        return self.received - self.sent


def get(url: str, timeout: float = 60.0, *, method: str = "GET", body: bytes | None = None,
        headers: dict[str, str] | None = None) -> Reply:
    """GET ``url`` (or ``method`` it, with ``body`` and ``headers``) and decode its JSON
    body, for 2xx and 4xx/5xx alike."""
    sent = time.time()
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    received = time.time()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {"_raw": raw.decode(errors="replace")}
    return Reply(url, status, body, sent, received)


def get_many(urls: list[str], timeout: float = 60.0, **how) -> tuple[float, list[Reply]]:
    """GET every URL at once (one thread each; ``how``: :func:`get`'s method, body and
    headers); return the wall time and the replies."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        replies = list(pool.map(lambda u: get(u, timeout, **how), urls))
    return time.perf_counter() - start, replies
