"""A large response for the slow-reader lesson: ``mb`` MiB of zero bytes, sent in chunks.

Whatever writes a response to a client that reads slowly waits for it: on sync and gthread a
worker or a thread blocked in ``sendall`` (a slot), on gevent a greenlet and on asyncio a task
(neither a slot). A buffering proxy takes the whole response at loopback speed and feeds the
slow reader itself; ``X-Accel-Buffering: no`` (``?unbuffered=1``) tells nginx not to.

>>> sum(len(chunk) for chunk in chunks(2)) == 2 * MEGABYTE
True
>>> headers(1, unbuffered=True)["X-Accel-Buffering"]
'no'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from .gilfree import MEGABYTE

#: Largest response one request may ask for, and the default size, in MiB.
MAX_MB = 64
DEFAULT_MB = 8
CHUNK = 64 * 1024
_block = bytes(CHUNK)


def chunks(mb: int) -> Iterator[bytes]:
    """``mb`` MiB in 64 KiB chunks (one shared block: memory stays flat)."""
    for _ in range(mb * MEGABYTE // CHUNK):
        yield _block


async def chunks_async(mb: int) -> AsyncIterator[bytes]:
    """The same chunks for the asyncio twin: each ``send`` awaits the client's pace."""
    for chunk in chunks(mb):
        yield chunk


def headers(mb: int, *, unbuffered: bool) -> dict[str, str]:
    """Content-Length (no chunked framing), and nginx's switch when asked."""
    extra = {"X-Accel-Buffering": "no"} if unbuffered else {}
    return {"Content-Length": str(mb * MEGABYTE), "Cache-Control": "no-store", **extra}
