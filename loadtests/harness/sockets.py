"""What the kernel holds for a listening port: its accept queue and the connections the
server has accepted, read from ``/proc/net/tcp`` (what ``ss -tn`` reads).

A listening socket's receive queue is its accept queue: connections the kernel completed
that no worker has accepted yet (``ss -ltn``'s Recv-Q; at most ``--backlog``). The server's
side of each accepted connection is a socket whose local port is the listening one:
ESTABLISHED while both ends hold it, CLOSE_WAIT once the client has gone and the server
has not yet closed its side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: /proc/net/tcp's states (include/net/tcp_states.h).
ESTABLISHED, CLOSE_WAIT, LISTEN = "01", "08", "0A"


@dataclass(frozen=True)
class PortQueues:
    """One reading of a listening port."""

    #: Connections waiting to be accepted.
    accept_queue: int = 0
    #: Accepted connections both ends still hold.
    established: int = 0
    #: Accepted connections whose client has gone.
    close_wait: int = 0


def port_queues(port: int) -> PortQueues:
    """The kernel's view of ``port`` on this host (IPv4 and IPv6)."""
    counts = {"accept_queue": 0, "established": 0, "close_wait": 0}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            if state == LISTEN:
                counts["accept_queue"] += int(queues.split(":")[1], 16)
            elif state == ESTABLISHED:
                counts["established"] += 1
            elif state == CLOSE_WAIT:
                counts["close_wait"] += 1
    return PortQueues(**counts)
