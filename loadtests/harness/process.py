"""One lifecycle for every process the lab starts: start, ready, its processes, stop and reap.

:class:`Process` launches a command in a session of its own (so that terminal Ctrl-C reaches
only the runner), its output to a log, and polls until :meth:`Process.is_ready` says so
-- failing with the log's tail if the process exits first or time runs out. It remembers
every process that ever belonged to it, so that :meth:`Process.stop` (its stop signal, then
SIGKILL after a grace period) reaps them all, on every path: a failed start included.
The servers (:class:`loadtests.servers.Server`) and the services
(:class:`loadtests.services.daemon.Daemon`) say only what differs: their command line,
their ready test, their signals.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import psutil

from .machine import ROOT
from .poll import wait_until
from .procs import HERE, Logged, Place, stop_tree, tree


class ProcessError(RuntimeError):
    """The process did not come up; the message says why, then its log's tail."""


class Process(Logged):
    """Context manager around one process and every process it starts."""

    name: ClassVar[str] = "process"
    #: Seconds :meth:`wait_ready` waits before it gives up.
    ready_timeout: float = 30.0
    #: The signal :meth:`stop` sends first, and the grace before SIGKILL.
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    stop_grace: float = 10.0
    #: True: the first signal goes to the whole session; False: to the leader alone (a
    #: master that stops its own workers, as gunicorn's does).
    signal_group: ClassVar[bool] = True
    #: What a failed start raises.
    error: ClassVar[type[RuntimeError]] = ProcessError

    def __init__(self, *, log_path: Path | None = None, place: Place = HERE):
        #: Where it runs: this machine's loopback, or one of the lab's hosts.
        self.place = place
        self._own_log = log_path is None
        self._log_path = None if log_path is None else Path(log_path)
        self.proc: subprocess.Popen | None = None
        self._known: dict[int, psutil.Process] = {}

    @property
    def log_path(self) -> Path:
        """Its output: the caller's file, or a temporary one of its own, made when first
        needed (an instance that never starts leaves no file) and removed by :meth:`stop`."""
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        return self._log_path

    # -- what a subclass says ------------------------------------------------------------
    def launch_argv(self) -> list[str]:
        """The command line, as run on this machine (before :attr:`place` wraps it)."""
        raise NotImplementedError

    def child_env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    def is_ready(self) -> bool:
        raise NotImplementedError

    def cleanup(self) -> None:
        """What a subclass removes once its processes are gone."""

    # -- the lifecycle -------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        """Launch and wait until ready; on any failure, stop and reap before raising."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting for it (see :meth:`wait_ready`)."""
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.place.wrap(self.launch_argv()), cwd=ROOT,
                                         env=self.child_env(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait_ready(self) -> None:
        try:
            self.wait_until(self.is_ready, self.ready_timeout, f"{self.name} not ready")
        except BaseException:
            self.stop()
            raise

    def wait_until(self, check: Callable[[], object], timeout: float, what: str) -> None:
        """Poll ``check`` until true; fail with the log's tail if the process exits or time's
        up (every process seen meanwhile is remembered, for :meth:`stop`)."""
        def alive_and(check=check):
            if self.proc.poll() is not None:
                raise self.error(f"{self.name} exited with {self.proc.returncode}:\n"
                                 f"{self.log_tail()}")
            self.remember()
            return check()

        wait_until(alive_and, timeout, what,
                   fail=lambda message: self.error(f"{message}:\n{self.log_tail()}"))

    def remember(self) -> None:
        """Note every process below the leader now (a child may exit before the stop)."""
        for proc in tree(self.proc.pid):
            self._known.setdefault(proc.pid, proc)

    def processes(self) -> list[psutil.Process]:
        """The process and its live descendants."""
        if self.proc is not None:
            self.remember()
        return [p for p in self._known.values() if p.is_running()]

    def stop(self, grace: float | None = None, *,
             first_signal: signal.Signals | None = None) -> None:
        """The stop signal, SIGKILL to the session after ``grace`` s; every process that
        ever belonged to it reaped, its own log removed, then :meth:`cleanup`."""
        if self.proc is None:
            self._remove_own_log()
            return
        self.remember()
        stop_tree(self.proc, grace=self.stop_grace if grace is None else grace,
                  whole_group=self.signal_group, known=self._known.values(),
                  first_signal=first_signal or self.stop_signal)
        self._remove_own_log()
        self.cleanup()
        self.proc = None

    def _remove_own_log(self) -> None:
        if self._own_log and self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
