"""Each worker thread's CPU time, sampled every 15 ms from ``/proc/<pid>/task/<tid>/``.

``schedstat``'s first field is the nanoseconds the thread has run on a CPU (the
scheduler's own account, exact); ``stat``'s utime and stime, which psutil's
``Process.threads()`` reads, count whole clock ticks (10 ms at ``CLK_TCK`` = 100), as
coarse as the sampling period itself. The sampler reads ``schedstat`` where the kernel
has it and falls back to psutil's ticks; each sample notes which, and the read's own
span (its ``t0_ns`` to ``t1_ns``), which bounds its timing error.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

#: Seconds between samples: a 20 ms slice of pure-Python CPU is a few samples wide.
PERIOD_S = 0.015


def _thread_ns(pid: int) -> dict[int, int]:
    """Nanoseconds on CPU per thread of ``pid`` (empty once it is gone)."""
    found = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as handle:
                found[int(tid)] = int(handle.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return found


def _thread_ticks_ns(pid: int) -> dict[int, int]:
    """The same from psutil's ticks (utime + stime), where there is no schedstat."""
    try:
        return {t.id: round((t.user_time + t.system_time) * 1e9)
                for t in psutil.Process(pid).threads()}
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return {}


def precise() -> bool:
    """Whether this kernel keeps schedstat (the exact account)."""
    return os.path.exists(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/schedstat")


def kernel_tick_s() -> float:
    """The scheduler's tick, 1 / CONFIG_HZ (4 ms at 250 Hz): how far a running thread's
    ``schedstat`` can lag. From the kernel's config where it says; else 10 ms, the
    coarsest common one (100 Hz), so that an error bound errs wide."""
    import gzip
    import re

    for path, opener in ((Path("/proc/config.gz"), gzip.open),
                         (Path(f"/boot/config-{os.uname().release}"), open)):
        try:
            with opener(path, "rt") as handle:
                if found := re.search(r"^CONFIG_HZ=(\d+)$", handle.read(), re.MULTILINE):
                    return 1 / int(found.group(1))
        except OSError:
            continue
    return 0.01


def thread_names(pid: int) -> dict[int, str]:
    names = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/comm") as handle:
                names[int(tid)] = handle.read().strip()
    except OSError:
        pass
    return names


@dataclass
class Sample:
    t0_ns: int  # monotonic, before the read
    t1_ns: int  # after it
    cpu_ns: dict[int, dict[int, int]]  # pid -> tid -> ns on CPU so far


@dataclass
class ThreadCpuSampler:
    """Sample the threads of ``pids()`` every ``period`` s, in a thread, until stopped."""

    pids: Callable[[], list[int]]
    period: float = PERIOD_S
    samples: list[Sample] = field(default_factory=list)
    names: dict[int, dict[int, str]] = field(default_factory=dict)  # pid -> tid -> comm

    def __post_init__(self):
        self.source = "schedstat" if precise() else "ticks"
        self._read = _thread_ns if self.source == "schedstat" else _thread_ticks_ns
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thread-cpu-sampler",
                                        daemon=True)

    def _run(self) -> None:
        pids = self.pids()
        for pid in pids:
            self.names[pid] = thread_names(pid)
        next_at = time.monotonic()
        while not self._stop.is_set():
            t0 = time.monotonic_ns()
            cpu = {pid: self._read(pid) for pid in pids}
            self.samples.append(Sample(t0, time.monotonic_ns(), cpu))
            next_at += self.period
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        for pid in pids:  # threads a pool started after the first look
            self.names[pid] = thread_names(pid) | self.names.get(pid, {})

    def __enter__(self) -> ThreadCpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def as_dict(self) -> dict:
        return {"source": self.source, "period_s": self.period,
                "tick_s": kernel_tick_s() if self.source == "schedstat" else 0.01,
                "cores": os.cpu_count() or 1,
                "names": {str(p): {str(t): n for t, n in names.items()}
                          for p, names in self.names.items()},
                "samples": [[s.t0_ns, s.t1_ns, {str(p): {str(t): ns for t, ns in th.items()}
                                                 for p, th in s.cpu_ns.items()}]
                            for s in self.samples]}
