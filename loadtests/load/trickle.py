"""Slow clients, three kinds: slowloris, which trickles a request header forever; a slow
uploader, which trickles a request body; and a slow reader, which asks for a large response and
takes it a little at a time.

:class:`SlowClients`: each of ``k`` connections sends a request line and then one byte of an
endless header every ``interval`` seconds, so the request never completes (or, with
``prefix=SLOW_BODY``, a whole header and then its 1 MiB body a byte at a time). Locust cannot send
half a header, so this is a small raw-socket client: one thread, one selector, every
connection's next byte on its own schedule. It records when the server (or proxy) hung up on
each connection -- which setting ended it is what the slow-clients lesson measures -- and
what, if anything, it answered.

:class:`SlowReader`: one connection with a small receive buffer that asks for ``/download``
and reads ``rate`` bytes a second, as a phone on a poor network would: whatever writes the
response waits for it once the kernel's buffers are full. :func:`outlasting_mb` is how large
that response must be: every socket on the path may hold part of it, and Linux grows a TCP
socket's buffers up to ``net.ipv4.tcp_wmem`` and ``tcp_rmem``'s maxima (32 MiB to receive on
some kernels), so a fixed 8 MiB is held on one machine and swallowed whole on another.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

from webapp.work.download import MAX_MB

from ..harness.poll import wait_until

REQUEST_LINE = b"GET /health HTTP/1.1\r\nHost: lab\r\nX-Slow: "
#: A whole header that announces a 1 MiB body to ``/upload``: then the body trickles instead.
SLOW_BODY = (b"POST /upload HTTP/1.1\r\nHost: lab\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Length: 1048576\r\n\r\n")


@dataclass
class Connection:
    sock: socket.socket
    opened: float
    next_send: float
    sent: int = 0
    closed: float | None = None  # when the other side hung up (monotonic)
    reply: bytes = b""

    @property
    def held_s(self) -> float | None:
        return None if self.closed is None else self.closed - self.opened


@dataclass
class SlowClients:
    """``k`` slowloris connections to ``host:port``; a context manager that closes them all."""

    host: str
    port: int
    k: int
    interval: float = 1.0
    #: What each connection sends at once before it trickles: a request line (a slow header,
    #: the default) or :data:`SLOW_BODY` (a slow body).
    prefix: bytes = REQUEST_LINE
    connections: list[Connection] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)
        self._selector = selectors.DefaultSelector()

    def __enter__(self) -> SlowClients:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        now = time.monotonic()
        for _ in range(self.k):
            sock = socket.create_connection((self.host, self.port), timeout=5)
            sock.sendall(self.prefix)
            sock.setblocking(False)
            conn = Connection(sock, opened=now, next_send=now + self.interval)
            self.connections.append(conn)
            self._selector.register(sock, selectors.EVENT_READ, conn)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            open_ = [c for c in self.connections if c.closed is None]
            if not open_:
                return
            wait = max(0.0, min(c.next_send for c in open_) - time.monotonic())
            for key, _ in self._selector.select(timeout=min(wait, 0.1)):
                self._read(key.data)
            now = time.monotonic()
            for conn in open_:
                if conn.closed is None and now >= conn.next_send:
                    self._send(conn, now)

    def _read(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            conn.reply += data
        else:
            self._closed(conn)

    def _send(self, conn: Connection, now: float) -> None:
        try:
            conn.sock.send(b"a")
            conn.sent += 1
            conn.next_send = now + self.interval
        except BlockingIOError:
            conn.next_send = now + self.interval
        except OSError:
            self._closed(conn)

    def _closed(self, conn: Connection) -> None:
        conn.closed = time.monotonic()
        self._selector.unregister(conn.sock)
        conn.sock.close()

    def open_count(self) -> int:
        return sum(1 for c in self.connections if c.closed is None)

    def stop(self) -> None:
        """Hang up every connection still open (the slow clients go away); idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for conn in self.connections:
            if conn.closed is None:
                self._selector.unregister(conn.sock)
                conn.sock.close()
        self._selector.close()

    def summary(self) -> dict:
        held = [c.held_s for c in self.connections if c.held_s is not None]
        replies = sorted({c.reply.split(b"\r\n", 1)[0].decode(errors="replace")
                          for c in self.connections if c.reply})
        return {"slow_clients": self.k, "slow_closed": len(held),
                "slow_held_max_s": max(held) if held else None,
                "slow_held_min_s": min(held) if held else None, "slow_replies": replies}


def _tcp_max(name: str) -> int:
    """The autotuning maximum of ``net.ipv4.<name>`` (its third field), in bytes."""
    with open(f"/proc/sys/net/ipv4/{name}") as sysctl:
        return int(sysctl.read().split()[2])


def outlasting_mb(proxies: int = 1, limit: int = MAX_MB) -> int:
    """The smallest ``/download`` in MiB that the sockets between a server and a
    :class:`SlowReader` cannot hold whole, through ``proxies`` unbuffered proxies: each hop
    a send buffer and (but the reader's, fixed small) a receive buffer at their maxima, plus
    1 MiB for the proxies' own buffers and the reader's. Raises ``ValueError`` past ``limit``
    (the largest response the app serves): no response could be sure to hold a worker."""
    send, receive = _tcp_max("tcp_wmem"), _tcp_max("tcp_rmem")
    held = (proxies + 1) * send + proxies * receive
    mb = held // (1 << 20) + 2
    if mb > limit:
        raise ValueError(f"this kernel's socket buffers hold {held >> 20} MiB on the path: "
                         f"more than the largest response ({limit} MiB)")
    return mb


@dataclass
class SlowReader:
    """A client reading ``path`` at ``rate`` bytes a second; a context manager."""

    host: str
    port: int
    path: str
    rate: int = 64 * 1024
    #: The client's receive buffer: small, so the server's writes soon wait for the reader.
    rcvbuf: int = 16 * 1024
    received: int = 0
    done: float | None = None  # when the whole response had arrived (monotonic)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-reader", daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    def __enter__(self) -> SlowReader:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)  # before connect
        self.sock.settimeout(5)
        self.sock.connect((self.host, self.port))
        self.sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: lab\r\n"
                          "Connection: close\r\n\r\n".encode())
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def wait_received(self, n: int, within: float) -> bool:
        """Wait until ``n`` bytes have arrived (True), or ``within`` seconds have passed."""
        wait_until(lambda: self.received >= n, within, fail=None)
        return self.received >= n

    def _run(self) -> None:
        tick = 0.1
        while not self._stop.wait(tick):  # the reader's pace, not synchronisation
            budget = int(self.rate * tick)
            while budget > 0:
                try:
                    data = self.sock.recv(min(budget, 65536))
                except OSError:
                    data = b""
                if not data:
                    self.done = time.monotonic()
                    return
                self.received += len(data)
                budget -= len(data)
