"""A deadline for the request header where gunicorn 27.0.1 sets none (``HEADER_TIMEOUT``).

gunicorn 27.0.1 bounds a trickling request header (slowloris: one byte a second) only on
gevent, at ``keepalive``. Elsewhere, measured in the slow-clients lesson:

* sync and gthread read a header with blocking reads in the thread that then runs the
  request: gthread holds that thread for as long as the client trickles (the main thread keeps
  notifying the arbiter, so ``timeout`` never fires), sync until ``timeout`` kills the worker;
* the asgi worker arms its keep-alive timer only while it waits for a connection's *second*
  request: the first one may take forever. Each costs a socket, not a slot -- until the
  process runs out of file descriptors and accepts nothing (measured with ``ulimit -n 256``).

nginx's answer is ``client_header_timeout``; this is the same rule inside the worker:

* sync and gthread: ``handle`` (gunicorn's per-connection method, called as ``self.handle``)
  is wrapped so that the thread reading a header gets a deadline; gunicorn's ``pre_request``
  hook, run once the header is parsed, lifts it (so a slow *application* is never cut); one
  watcher thread per worker answers ``408`` (JSON, like every error of the lab) to a connection
  past its deadline and shuts its socket down: the blocked read returns, gunicorn closes the
  connection, and the thread is free.
* asgi: the worker's protocol class is swapped for a subclass that arms a loop timer when the
  connection opens and cancels it when the first header is complete; at the deadline it writes
  the same 408 and closes the transport.

It bounds what one slow connection costs; it does not stop an attacker who reconnects -- that
still takes a buffering proxy (README, "Deploying").
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


def _log_late(log, peer: str, seconds: float) -> None:
    log.info("header timeout: no request header from %s within %g s; answered 408",
             peer, seconds)


class HeaderDeadline:
    """Per worker: which thread is reading a header from which socket, and until when."""

    def __init__(self, seconds: float, log) -> None:
        self.seconds = seconds
        self.log = log
        self._due: dict[int, tuple[float, socket.socket]] = {}  # thread ident -> (deadline, sock)
        self._lock = threading.Lock()
        threading.Thread(target=self._watch, name="header-deadline", daemon=True).start()

    def start(self, sock: socket.socket) -> None:
        """The calling thread begins reading a request header from ``sock``."""
        with self._lock:
            self._due[threading.get_ident()] = (time.monotonic() + self.seconds, sock)

    def lift(self) -> None:
        """The calling thread has its header (or is done with the connection)."""
        with self._lock:
            self._due.pop(threading.get_ident(), None)

    def _watch(self) -> None:
        while True:  # a daemon thread: it ends with the worker
            time.sleep(PERIOD_S)
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
        _log_late(self.log, peer, self.seconds)


def _connection_socket(worker_class: str, args: tuple) -> socket.socket:
    """The client socket among ``handle``'s arguments: gthread's ``handle(conn)``, sync's
    ``handle(listener, client, addr)``."""
    return args[0].sock if worker_class == "gthread" else args[1]


def install(worker, seconds: float, worker_class: str) -> None:
    """Give ``worker`` a header deadline of ``seconds``. On sync and gthread it is kept as
    ``worker.header_deadline``, whose ``lift`` gunicorn's ``pre_request`` hook must call
    (gunicorn.conf.py does)."""
    if worker_class == "asgi":
        _install_asgi(seconds)
        return
    if worker_class not in ("sync", "gthread"):
        raise ValueError(f"gevent bounds a slow header itself (keepalive), not {worker_class}")
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


def _install_asgi(seconds: float) -> None:
    """Swap the asgi worker's protocol class (``gasgi`` builds one per connection from its
    module global, after this hook has run) for one with a first-header deadline."""
    from gunicorn.asgi.protocol import ASGIProtocol
    from gunicorn.workers import gasgi

    class HeaderDeadlineProtocol(ASGIProtocol):
        _header_timer = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self._header_timer = self.worker.loop.call_later(seconds, self._header_late)

        def _on_headers_complete(self):
            self._cancel_header_timer()
            return super()._on_headers_complete()

        def connection_lost(self, exc):
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _cancel_header_timer(self):
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_late(self):
            self._header_timer = None
            if self._closed or self._current_request is not None:
                return
            peer = self.transport.get_extra_info("peername")
            self._safe_write(RESPONSE_408)
            self._close_transport()
            if self._request_ready is not None:
                self._request_ready.set()  # wake the connection's task: it sees _closed
            _log_late(self.log, f"{peer[0]}:{peer[1]}" if peer else "a client", seconds)

    gasgi.ASGIProtocol = HeaderDeadlineProtocol
