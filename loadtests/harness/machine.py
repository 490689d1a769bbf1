"""Facts about this machine: where the lab lives, what it runs, how fast a core is right now."""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from webapp.work.primes import is_prime

#: The project's root: the folder with gunicorn.conf.py, where every process the lab starts runs.
ROOT = Path(__file__).resolve().parents[2]

#: The packages whose versions a report records.
VERSIONED = ("gunicorn", "gevent", "locust", "flask", "uvicorn", "uvicorn-worker", "granian",
             "waitress")


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (a container's cpuset, taskset),
    which ``os.cpu_count()`` ignores; the machine's count where affinity is unknown."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Cores:
    """The cores this process has: those it may run on (its affinity: taskset, a
    container's cpuset), the CPU time its cgroup allows (a container's ``--cpus``, a
    Kubernetes CPU limit: cores' worth, None when unlimited), and the machine's count."""

    affinity: int
    quota: float | None
    machine: int

    @property
    def usable(self) -> int:
        """What the lab plans for: the affinity, or fewer by the quota, rounded down (a
        1.5-core limit serves as one core, with room for the rest: Go's automaxprocs
        rounds the same way), and at least 1.

        >>> Cores(8, 1.5, 8).usable, Cores(2, None, 8).usable, Cores(4, 0.5, 4).usable
        (1, 2, 1)
        """
        limit = self.affinity if self.quota is None else min(self.affinity, self.quota)
        return max(1, math.floor(limit))

    def __str__(self) -> str:
        """
        >>> print(Cores(2, 1.5, 4))
        1 core (CPU affinity 2 of the machine's 4; cgroup CPU limit 1.5 cores)
        """
        limit = "no cgroup CPU limit" if self.quota is None else \
            f"cgroup CPU limit {self.quota:g} cores"
        return (f"{self.usable} core{'s' * (self.usable != 1)} (CPU affinity {self.affinity} "
                f"of the machine's {self.machine}; {limit})")


def cores_here(proc: Path = Path("/proc/self/cgroup"),
               root: Path = Path("/sys/fs/cgroup")) -> Cores:
    """This process's :class:`Cores`, its quota read from its cgroups (``proc``, under the
    cgroup file system ``root``)."""
    return Cores(usable_cores(), cpu_quota(proc, root), os.cpu_count() or 1)


def cpu_quota(proc: Path = Path("/proc/self/cgroup"),
              root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The least CPU limit, in cores, of this process's cgroup and every one above it: v2's
    ``cpu.max`` ("max 100000", or "150000 100000": 1.5 cores), v1's ``cpu.cfs_quota_us`` ÷
    ``cpu.cfs_period_us`` (-1: none); None when nothing limits it (or no cgroup is known)."""
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: the unified hierarchy, at root or at root/unified
            base = root if (root / "cgroup.controllers").exists() else root / "unified"
            limits += _walk(base, path, _v2_limit)
        elif "cpu" in controllers.split(","):
            base = next((root / name for name in (controllers, "cpu", "cpu,cpuacct")
                         if (root / name / "cpu.cfs_quota_us").exists()), None)
            if base:
                limits += _walk(base, path, _v1_limit)
    return min(limits, default=None)


def _walk(base: Path, path: str, limit: Callable[[Path], float | None]) -> list[float]:
    """The limits set on ``path``'s cgroup under ``base`` and on each one above it."""
    found, here = [], base / path.strip("/")
    while True:
        if (value := limit(here)) is not None:
            found.append(value)
        if here == base or base not in here.parents:
            return found
        here = here.parent


def _v2_limit(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _v1_limit(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota < 0 else quota / period


def machine_info() -> dict:
    """What a report says of the machine it ran on."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "versions": {name: metadata.version(name) for name in VERSIONED},
    }


def time_calls(arg: int, repeats: int = 5,
               check: Callable[[int], object] = is_prime) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``check(arg)`` in this process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        check(arg)
        times.append(time.perf_counter() - start)
    return times


def measure_service_time(arg: int, repeats: int = 5,
                         check: Callable[[int], object] = is_prime) -> float:
    """S: the median seconds of ``check(arg)`` in this process (default: ``is_prime``).

    The one measurement the CPU bounds rest on: how fast this machine's core runs
    the work right now.
    """
    return statistics.median(time_calls(arg, repeats, check))
