"""Free TCP ports on loopback, never handed out twice by one process."""

from __future__ import annotations

import os
import random
import socket
import threading

#: Every port :func:`free_port` has handed out in this process, never handed out again.
_handed_out: set[int] = set()
_handing_out = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, and that this process has
    not handed out before.

    The kernel may offer a port it just offered again, once the probe socket is closed: the
    slow-client watch, which starts 24 servers and 10 nginx side by side, once gave one port
    to a gunicorn and to an nginx ("nginx: cannot listen ... address already in use" in CI).
    ``LAB_PORTS=LOW-HIGH`` draws the ports at random from that range instead of the kernel's:
    parallel test workers each get a range of their own (``tests/conftest.py``), so two
    processes cannot be offered one just-closed port.
    """
    span = os.environ.get("LAB_PORTS")
    low, high = map(int, span.split("-")) if span else (0, 0)
    with _handing_out:
        while True:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", random.randint(low, high) if span else 0))
                except OSError:  # taken: draw again
                    continue
                port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
