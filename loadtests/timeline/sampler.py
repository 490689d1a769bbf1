"""Each worker thread's CPU time, sampled every 15 ms from ``/proc/<pid>/task/<tid>/``.

``schedstat``'s first field is the nanoseconds the thread has run on a CPU, its second
the nanoseconds it was runnable but waiting for one (the scheduler's own account);
``stat``'s utime and stime, which psutil's
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


def _schedstat(pid: int) -> dict[int, tuple[int, int]]:
    """Per thread of ``pid``: (ns on a CPU, ns runnable but waiting for one)."""
    found = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as handle:
                run, wait = handle.read().split()[:2]
                found[int(tid)] = (int(run), int(wait))
        except (OSError, ValueError, IndexError):
            continue
    return found


def waited_s(pids: list[int]) -> float:
    """Seconds the threads of ``pids`` have been runnable but waiting for a CPU (the kernel's
    run queue: ``schedstat``'s second field), summed; 0 where the kernel keeps no schedstat."""
    return sum(wait for pid in pids for _, wait in _schedstat(pid).values()) / 1e9


def _thread_ticks_ns(pid: int) -> dict[int, tuple[int, int]]:
    """The CPU from psutil's ticks (utime + stime), where there is no schedstat (and no
    account of the run queue: 0)."""
    try:
        return {t.id: (round((t.user_time + t.system_time) * 1e9), 0)
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


@dataclass
class Sample:
    t0_ns: int  # monotonic, before the read
    t1_ns: int  # after it
    cpu_ns: dict[int, dict[int, int]]  # pid -> tid -> ns on a CPU so far
    wait_ns: dict[int, dict[int, int]]  # pid -> tid -> ns runnable, waiting for a CPU, so far


@dataclass
class ThreadCpuSampler:
    """Sample the threads of ``pids()`` every ``period`` s, in a thread, until stopped."""

    pids: Callable[[], list[int]]
    period: float = PERIOD_S
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self):
        self.source = "schedstat" if precise() else "ticks"
        self._read = _schedstat if self.source == "schedstat" else _thread_ticks_ns
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thread-cpu-sampler",
                                        daemon=True)

    def _run(self) -> None:
        pids = self.pids()
        next_at = time.monotonic()
        while not self._stop.is_set():
            t0 = time.monotonic_ns()
            read = {pid: self._read(pid) for pid in pids}
            self.samples.append(Sample(
                t0, time.monotonic_ns(),
                {pid: {tid: run for tid, (run, _) in threads.items()}
                 for pid, threads in read.items()},
                {pid: {tid: wait for tid, (_, wait) in threads.items()}
                 for pid, threads in read.items()}))
            next_at += self.period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

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
                # [t0, t1, {pid: {tid: ns on a CPU}}, {pid: {tid: ns waiting for one}}]
                "samples": [[s.t0_ns, s.t1_ns, _keyed(s.cpu_ns), _keyed(s.wait_ns)]
                            for s in self.samples]}


def _keyed(by_pid: dict[int, dict[int, int]]) -> dict[str, dict[str, int]]:
    return {str(p): {str(t): ns for t, ns in threads.items()} for p, threads in by_pid.items()}
