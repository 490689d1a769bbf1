"""wrk as a second, independent client: its connections opened all at once.

Locust's users ramp up, and the lab's generator opens a connection when a request first
needs one; wrk opens all ``-c`` connections when it starts, as nginx's upstream keep-alive
pool and most benchmark clients do, and keeps each one to the end. Which worker accepted
each then decides how the load splits between the workers.

:class:`Wrk` runs it as one of the lab's processes (stopped and reaped on every path) with
``wrk_split.lua``, which counts the answers by the lab's ``pid`` field and prints wrk's
summary as one JSON line (:meth:`Wrk.result`). By hand::

    wrk -t1 -c16 -d3s -s loadtests/load/wrk_split.lua 'http://127.0.0.1:8000/io?delay=0.1'
"""

from __future__ import annotations

import json
from pathlib import Path

from ..harness.poll import wait_until
from ..harness.process import Process
from ..services.daemon import require

SCRIPT = Path(__file__).with_name("wrk_split.lua")
#: wrk's own deadline per request: an answer later than it counts as a timeout error.
TIMEOUT_S = 10


class Wrk(Process):
    """``wrk -t THREADS -c CONNECTIONS -d SECONDS`` on ``url``, started by :meth:`start`."""

    name = "wrk"

    def __init__(self, url: str, connections: int, seconds: int, *, threads: int = 1,
                 log_path: Path | None = None):
        super().__init__(log_path=log_path)
        self.url, self.connections, self.seconds = url, connections, seconds
        self.threads = threads
        self.binary = require("wrk")  # Missing, with the line that says how to get it

    def launch_argv(self) -> list[str]:
        return [self.binary, f"-t{self.threads}", f"-c{self.connections}", f"-d{self.seconds}s",
                "--timeout", f"{TIMEOUT_S}s", "-s", str(SCRIPT), self.url]

    def is_ready(self) -> bool:
        return True  # it connects at once; :meth:`result` waits for its end

    def result(self) -> dict:
        """Its summary once it has finished: ``requests``, ``duration_s``, ``errors`` (by
        kind), ``latency_ms`` (p50, p99, max, from each request's send) and ``by`` (the
        answers per worker pid)."""
        wait_until(lambda: self.proc.poll() is not None, self.seconds + TIMEOUT_S + 20,
                   "wrk to finish", fail=lambda message: RuntimeError(
                       f"{message}:\n{self.log_tail()}"))
        lines = self.log_text().strip().splitlines()
        if self.proc.returncode != 0 or not lines or not lines[-1].startswith("{"):
            raise RuntimeError(f"wrk exited with {self.proc.returncode}:\n{self.log_tail()}")
        return json.loads(lines[-1])
