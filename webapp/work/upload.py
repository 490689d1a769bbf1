"""A request body for the slow-upload lesson: ``POST /upload`` reads it whole and says so.

Whatever reads a request body from a client that sends it slowly waits for it: on sync and
gthread a worker or a thread blocked in ``read`` (a slot), on gevent a greenlet and on asyncio
a task (neither a slot). nginx with ``proxy_request_buffering on`` reads the whole body
itself before gunicorn sees the request.

>>> count([b"ab", b"cde"])
5
>>> count([bytes(MAX_BYTES), b"x"])
Traceback (most recent call last):
...
webapp.upload.TooLarge: 413 Request Entity Too Large: a body may hold at most 16 MiB
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable

from werkzeug.exceptions import RequestEntityTooLarge

from .gilfree import MEGABYTE

#: The largest body ``/upload`` reads.
MAX_MB = 16
MAX_BYTES = MAX_MB * MEGABYTE
#: Bytes read at a time.
CHUNK = 64 * 1024


class TooLarge(RequestEntityTooLarge):
    """A body over the cap (HTTP 413), refused before it is read when its length says so."""

    description = f"a body may hold at most {MAX_MB} MiB"


def check_length(length: int | None) -> None:
    """Refuse a declared Content-Length over the cap before reading a byte."""
    if length is not None and length > MAX_BYTES:
        raise TooLarge()


def _add(total: int, chunk: bytes) -> int:
    total += len(chunk)
    if total > MAX_BYTES:  # a chunked body declares no length: counted as it comes
        raise TooLarge()
    return total


def count(chunks: Iterable[bytes]) -> int:
    """Bytes in ``chunks``, read to the end; TooLarge past the cap."""
    total = 0
    for chunk in chunks:
        total = _add(total, chunk)
    return total


async def count_async(chunks: AsyncIterable[bytes]) -> int:
    """The same for the asyncio twin: each chunk awaits the client's pace."""
    total = 0
    async for chunk in chunks:
        total = _add(total, chunk)
    return total
