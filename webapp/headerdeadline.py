"""A deadline for the request header on gunicorn's sync and gthread workers (``HEADER_TIMEOUT``).

gunicorn 27.0.1 reads a request header with blocking reads in the thread that then runs the
request. A client that trickles its header -- slowloris, one byte a second -- holds that thread:
on gthread for as long as it trickles (the main thread keeps notifying the arbiter, so
``timeout`` never fires, and ``keepalive`` applies only between requests), on sync until
``timeout`` kills the whole worker. nginx's answer is ``client_header_timeout``; this is the
same rule inside the worker, measured in the slow-clients lesson:

* ``handle`` (gunicorn's per-connection method, called as ``self.handle``) is wrapped so that
  the thread reading a header is given a deadline;
* gunicorn's ``pre_request`` hook, which runs once the header is parsed, lifts it (so a slow
  *application* is never cut, only a slow header);
* one watcher thread per worker answers ``408`` (JSON, like every error of the lab) to a
  connection past its deadline and shuts its socket down: the blocked read returns, gunicorn
  closes the connection, and the thread is free.

gevent ends a slow header itself (at ``keepalive``) and asgi spends a task on it, not a slot,
so neither is wrapped. It bounds what one slow connection costs; it does not stop an attacker
who reconnects -- that still takes a buffering proxy (README, "Deploying").
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import threading
import time

#: How often the watcher looks for late headers: the deadline is kept to within this.
PERIOD_S = 0.1
#: What a late client is told before the socket is shut.
BODY = json.dumps({"error": "request header not received in time", "status": 408}).encode()
RESPONSE_408 = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(BODY), BODY))


class HeaderDeadline:
    """Per worker: which thread is reading a header from which socket, and until when."""

    def __init__(self, seconds: float, log) -> None:
        self.seconds = seconds
        self.log = log
        self.ended = 0
        self._due: dict[int, tuple[float, socket.socket]] = {}  # thread ident -> (deadline, sock)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._watch, name="header-deadline", daemon=True).start()

    def start(self, sock: socket.socket) -> None:
        """The calling thread begins reading a request header from ``sock``."""
        with self._lock:
            self._due[threading.get_ident()] = (time.monotonic() + self.seconds, sock)

    def lift(self) -> None:
        """The calling thread has its header (or is done with the connection)."""
        with self._lock:
            self._due.pop(threading.get_ident(), None)

    def close(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(PERIOD_S):
            now = time.monotonic()
            with self._lock:
                late = [ident for ident, (due, _) in self._due.items() if due <= now]
                socks = [self._due.pop(ident)[1] for ident in late]
            for sock in socks:
                self._end(sock)

    def _end(self, sock: socket.socket) -> None:
        try:
            host, port = sock.getpeername()[:2]
            peer = f"{host}:{port}"
        except OSError:
            peer = "a client"
        with contextlib.suppress(OSError):  # never block the watcher on a client that does not read
            sock.send(RESPONSE_408, socket.MSG_DONTWAIT)
        try:
            sock.shutdown(socket.SHUT_RDWR)  # the reading thread's recv returns at once
        except OSError:
            return  # already gone
        self.ended += 1
        self.log.info("header timeout: no request header from %s within %g s; answered 408",
                      peer, self.seconds)


def _connection_socket(worker_class: str, args: tuple) -> socket.socket:
    """The client socket among ``handle``'s arguments: gthread's ``handle(conn)``, sync's
    ``handle(listener, client, addr)``."""
    return args[0].sock if worker_class == "gthread" else args[1]


def install(worker, seconds: float, worker_class: str) -> HeaderDeadline:
    """Wrap ``worker.handle`` with a header deadline, kept as ``worker.header_deadline``, whose
    ``lift`` gunicorn's ``pre_request`` hook must call (gunicorn.conf.py does)."""
    if worker_class not in ("sync", "gthread"):
        raise ValueError(f"a header deadline is for sync and gthread workers, not {worker_class}")
    deadline = HeaderDeadline(seconds, worker.log)
    handle = worker.handle

    @functools.wraps(handle)
    def handle_with_deadline(*args):
        deadline.start(_connection_socket(worker_class, args))
        try:
            return handle(*args)
        finally:
            deadline.lift()

    worker.handle = handle_with_deadline
    worker.header_deadline = deadline
    return deadline

