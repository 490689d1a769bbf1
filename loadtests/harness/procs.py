"""Process trees: find every descendant, stop gracefully, then make sure nothing survives.

The launchers start gunicorn and Locust with ``start_new_session=True``, so
each is the leader of its own process group: terminal Ctrl-C reaches only the
runner, which then stops them in order, and a SIGKILL to the group catches any
descendant that outlived its parent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from .poll import wait_until

#: The address every process of the lab binds unless it runs on one of the lab's hosts.
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Place:
    """Where a process runs: this machine's loopback (the default), or one of the lab's
    hosts (:mod:`loadtests.cluster`), a network namespace with an address of its own."""

    address: str = LOOPBACK
    #: The network namespace (``ip netns``); None: the lab's own.
    netns: str | None = None
    #: The cgroup (v2) folder every process started here joins before it runs, so that the
    #: place's end finds them all (:mod:`loadtests.cluster.cgroup`); None: none.
    cgroup: str | None = None

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` as run there: ``ip netns exec NS argv`` (which execs: the same pid),
        after ``sh`` has put itself in the place's cgroup (and execs too)."""
        argv = ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)
        if self.cgroup:
            argv = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', f"{self.cgroup}/cgroup.procs",
                    *argv]
        return argv


HERE = Place()


def lower_priority(nice: int) -> None:
    """Give this process, and all it starts, niceness ``nice``; its session's autogroup too.

    Under Linux's autogroup scheduling (sched(7)) a nice value ranks a process only within
    its session's group, and every server the lab starts has a session of its own, so a
    process niced alone still takes a full share against them (measured: a CPU hog at nice
    19 alone took its share, and hashing threads read 0.8 cores of CPU per second of wall
    time). Call it in a session of its own: the whole session's group is niced.
    """
    os.nice(nice)
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
        group.write(str(nice))


def tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants (empty once it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_tree(proc: subprocess.Popen, *, grace: float = 10.0, whole_group: bool = True,
              known: Iterable[psutil.Process] = (),
              first_signal: signal.Signals = signal.SIGTERM) -> None:
    """Stop ``proc`` (a session leader) and everything it started; reap them all.

    ``first_signal`` (SIGTERM) goes to the leader alone (``whole_group=False``:
    gunicorn's master stops its own workers) or to its whole group; whatever still
    runs after ``grace`` seconds is SIGKILLed, group and ``known`` stragglers alike.
    """
    family = {p.pid: p for p in [*known, *tree(proc.pid)]}
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            if whole_group:
                os.killpg(proc.pid, first_signal)
            else:
                proc.send_signal(first_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survivors = [p for p in family.values() if p.pid != proc.pid and p.is_running()]
    for survivor in survivors:
        with contextlib.suppress(psutil.NoSuchProcess):
            survivor.kill()
    # dead is enough: an orphan's zombie waits for PID 1, which may reap it seconds later
    # (a SIGKILLed RabbitMQ's epmd: 1.9 s)
    wait_until(lambda: not alive(survivors), 5, fail=None)


def alive(procs: Iterable[psutil.Process]) -> list[psutil.Process]:
    """The processes that still run (a zombie, or one gone meanwhile, does not)."""
    running = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                running.append(proc)
        except psutil.NoSuchProcess:
            pass
    return running


def rss_mb(procs: Iterable[psutil.Process]) -> float:
    """The resident memory of those of ``procs`` that still run, in MB (one that ends
    meanwhile counts for nothing)."""
    total = 0
    for proc in alive(procs):
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


class Logged:
    """A process whose output goes to ``self.log_path``: read its log, or the log's tail."""

    log_path: Path

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def reap_children(grace: float = 5.0) -> list[str]:
    """Stop and reap every process this one still has below it; return their names.

    The safety net under the ``with`` blocks: a signal that lands between a child's
    start and the line that registers its stop (inside ``Popen``, or between ``__enter__``
    and ``ExitStack`` recording ``__exit__``) would otherwise leave that child behind.
    """
    left = tree(os.getpid())[1:]
    names = [_name(proc) for proc in left]
    for proc in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(left, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace)
    return names


def run_main(main) -> None:
    """Run a command-line ``main()`` so that every ``finally`` gets to stop its processes.

    SIGTERM becomes SystemExit(143) and Ctrl-C exits with 130 and one line,
    instead of a traceback; both unwind the ``with`` blocks that own servers, and
    :func:`reap_children` then stops anything a badly timed signal kept from them.
    """
    def _on_sigterm(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = main()
    except KeyboardInterrupt:
        print("interrupted; every server and load generator was stopped", file=sys.stderr)
        code = 130
    finally:
        # a second Ctrl-C must not cut the net short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        left = reap_children()
        if left:
            print(f"stopped {len(left)} leftover process(es): "
                  + ", ".join(sorted(set(left))), file=sys.stderr)
    raise SystemExit(code)


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.NoSuchProcess:
        return str(proc.pid)
