"""Facts about this machine: where the lab lives, what it runs, how fast a core is right now."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
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
