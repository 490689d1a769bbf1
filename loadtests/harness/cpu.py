"""CPU used by groups of processes over a window, measured with psutil.

``CpuMeter.open()`` and ``close()`` each take a snapshot of every process's
user+system CPU seconds; the difference over the wall time between them is the
group's CPU in percent of one core (200 % = two cores busy).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil

Group = Callable[[], list[psutil.Process]]


def _snapshot(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for proc in processes:
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        seconds[proc.pid] = times.user + times.system
    return seconds


class CpuMeter:
    """Per-group CPU percent between :meth:`open` and :meth:`close`."""

    def __init__(self, groups: dict[str, Group]):
        self.groups = groups
        self._start: dict[str, dict[int, float]] = {}
        self._end: dict[str, dict[int, float]] = {}
        self._t0 = self._t1 = 0.0
        self.wall_window = (0.0, 0.0)  # time.time() at open and close

    @property
    def is_open(self) -> bool:
        return bool(self._t0) and not self._t1

    @property
    def closed(self) -> bool:
        return bool(self._t1)

    def open(self) -> None:
        self._start = {name: _snapshot(group()) for name, group in self.groups.items()}
        self._t0, self._t1 = time.monotonic(), 0.0
        self.wall_window = (time.time(), 0.0)

    def close(self) -> None:
        self._end = {name: _snapshot(group()) for name, group in self.groups.items()}
        self._t1 = time.monotonic()
        self.wall_window = (self.wall_window[0], time.time())

    def _per_process(self, name: str) -> list[float]:
        wall = self._t1 - self._t0
        if wall <= 0:
            return []
        start, end = self._start.get(name, {}), self._end.get(name, {})
        # A process born inside the window counts from zero.
        return [100 * (end[pid] - start.get(pid, 0.0)) / wall for pid in end]

    def seconds(self, name: str) -> float:
        """CPU seconds the whole group used over the window."""
        return sum(self._per_process(name)) * (self._t1 - self._t0) / 100

    def percent(self, name: str) -> float:
        """CPU of the whole group, in percent of one core."""
        return sum(self._per_process(name))

    def max_process_percent(self, name: str) -> float:
        """CPU of the group's busiest single process, in percent of one core."""
        return max(self._per_process(name), default=0.0)
