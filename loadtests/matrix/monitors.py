"""The event loops' own watchdogs, per worker model: what to switch on, how to read the log.

* gevent: gevent's monitor thread checks the hub every ``HUB_CHECK_S`` and
  reports each period without a greenlet switch (``webapp.instrument.hubmonitor`` logs one
  line per report); reports × period is a lower bound on the blocked time.
  Each report costs the worker CPU (gevent formats its stacks even when it
  prints nothing): at 0.02 s the gevent CPU cells lost about 10 % of their
  throughput, so the period stays 0.1 s.
* asgi: the lab's loop watchdog (``LOOP_WATCHDOG``, ``webapp.instrument.loopwatchdog``), the
  same design for asyncio: each period without the loop's stamp is one
  ``loop blocked:`` line with ``duration=`` the period; their sum is a lower
  bound. (asyncio's own debug mode reports the same way with exact lengths,
  but halved ``/io`` throughput on one worker: see ``webapp.instrument.loopwatchdog``.)
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.instrument.hubmonitor import LINE as HUB_LINE
from webapp.instrument.loopwatchdog import LINE as LOOP_LINE

#: gevent's monitor period (GEVENT_MAX_BLOCKING_TIME) and asyncio's slow-callback threshold.
HUB_CHECK_S = 0.1


@dataclass(frozen=True)
class LoopMonitor:
    env: tuple[tuple[str, str], ...]  # added to the cell's server environment
    line: str  # the log line each report becomes
    #: True: each report carries its ``duration=``; False: each stands for one HUB_CHECK_S.
    timed: bool

    def blocked(self, log_text: str, start: float, end: float) -> tuple[int, float]:
        """Reports whose ``at=`` falls inside [start, end] (wall clock), and seconds blocked."""
        count, seconds = 0, 0.0
        for line in log_text.splitlines():
            if self.line not in line or " at=" not in line:
                continue
            at = float(line.split(" at=", 1)[1].split()[0])
            if start <= at <= end:
                count += 1
                seconds += (float(line.split(" duration=", 1)[1].split()[0]) if self.timed
                            else HUB_CHECK_S)
        return count, seconds


MONITORS = {
    "gevent": LoopMonitor(env=(("GEVENT_MONITOR_THREAD_ENABLE", "true"),
                               ("GEVENT_MAX_BLOCKING_TIME", str(HUB_CHECK_S)),
                               ("GEVENT_MONITOR_PRINT_BLOCKING_REPORTS", "false")),
                          line=HUB_LINE, timed=False),
    "asgi": LoopMonitor(env=(("LOOP_WATCHDOG", str(HUB_CHECK_S)),), line=LOOP_LINE, timed=True),
}
