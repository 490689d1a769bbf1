"""Free ports: LAB_PORTS keeps a process's ports inside a range of its own."""

from __future__ import annotations

import socket

from loadtests.servers import free_port


def test_lab_ports_draws_free_ports_from_its_range_only(monkeypatch):
    with socket.socket() as taken:  # a port of the range that is in use is never handed out
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        taken.listen()
        monkeypatch.setenv("LAB_PORTS", f"{port}-{port + 40}")
        ports = [free_port() for _ in range(20)]
    assert all(port < p <= port + 40 for p in ports), ports
    assert len(set(ports)) == len(ports)
