"""What every server the lab starts shares: what a spec means on it, its error, its signals.

:class:`Server` is a :class:`~loadtests.harness.process.Process` (the lab's one lifecycle:
start in a session of its own, ready, stop and reap on every path) on a free loopback port,
ready once the app answers over HTTP (several servers log "listening" before the app has
loaded); it stops with its drain signal or its quick one, then SIGKILL after a grace.
Each server is one module (:mod:`.gunicorn`, :mod:`.uvicorn`, :mod:`.granian`,
:mod:`.waitress`) that says only what differs: its command line, its model in the lab's
terms, its slots, its label.
"""

from __future__ import annotations

import signal
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import psutil

from ..harness.machine import ROOT
from ..harness.poll import wait_until
from ..harness.ports import free_port
from ..harness.process import Process
from ..harness.procs import HERE, LOOPBACK, Place

if TYPE_CHECKING:
    from .spec import ServerSpec

#: Runs ``argv[1:]`` with SIGINT at its default action (execvp keeps it).
RESET_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                "os.execvp(sys.argv[1], sys.argv[1:])")

__all__ = ["RESET_SIGINT", "ROOT", "Server", "ServerError", "free_port"]


class ServerError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


class Server(Process):
    """Context manager around one server process and everything it starts.

    A subclass names the server (``name``) and says how to run a :class:`ServerSpec`:
    :meth:`argv`, :meth:`environment`, and, as class methods the cells and bounds read
    without starting anything, :meth:`model`, :meth:`slots` and :meth:`label`.
    """

    #: The spec's ``server`` this class runs.
    name: ClassVar[str]
    error = ServerError
    #: gunicorn's master stops its own workers: the first signal goes to it alone.
    signal_group = False
    #: The signal that drains the server (finish in-flight requests, then exit).
    drain_signal: ClassVar[signal.Signals] = signal.SIGTERM
    #: The signal that stops it at once (None: no such signal; SIGKILL after the grace).
    quick_signal: ClassVar[signal.Signals | None] = signal.SIGQUIT
    #: Whether its workers record request timelines (gunicorn's hooks: webapp/instrument/trace.py).
    traces: ClassVar[bool] = False
    #: The command its package installs, where it is not the module's name (``python -m
    #: waitress`` is typed ``waitress-serve``).
    console_script: ClassVar[str | None] = None

    # -- what a spec means on this server (no process needed) --------------------------
    @classmethod
    def model(cls, spec: ServerSpec) -> str:
        """The concurrency model in the lab's terms: sync, gthread (a thread pool), gevent
        or asgi (one asyncio loop per process) -- what the bounds and monitors read."""
        raise NotImplementedError

    @classmethod
    def slots(cls, spec: ServerSpec) -> float:
        """How many requests the server can hold in progress at once."""
        raise NotImplementedError

    @classmethod
    def label(cls, spec: ServerSpec) -> str:
        raise NotImplementedError

    @classmethod
    def argv(cls, spec: ServerSpec, port: int, host: str = LOOPBACK) -> list[str]:
        """``python -m SERVER ...``: the spec's command line, its ``options`` aside."""
        raise NotImplementedError

    @classmethod
    def full_argv(cls, spec: ServerSpec, port: int, host: str = LOOPBACK) -> list[str]:
        """:meth:`argv` with the spec's own ``options`` right after ``python -m SERVER``,
        where every server's parser takes them (waitress's getopt stops at the app)."""
        argv = cls.argv(spec, port, host)
        return [*argv[:3], *spec.options, *argv[3:]]

    @classmethod
    def environment(cls, spec: ServerSpec, port: int,
                    host: str = LOOPBACK) -> dict[str, str]:
        """Variables for the child: the offload backend, then the spec's own."""
        env = {"OFFLOAD_BACKEND": spec.offload} if spec.offload != "pool" else {}
        return env | dict(spec.env)

    @classmethod
    def command(cls, spec: ServerSpec, port: int, host: str = LOOPBACK) -> str:
        """The command line a user would type (the lab's own interpreter aside)."""
        argv = cls.full_argv(spec, port, host)
        if len(argv) > 2 and argv[1] == "-m":  # python -m gunicorn: gunicorn
            argv = [cls.console_script or argv[2], *argv[3:]]
        return " ".join(argv)

    # -- one running server --------------------------------------------------------------
    def __init__(self, spec: ServerSpec, *, port: int | None = None,
                 log_path: Path | None = None, ready_timeout: float = 30.0,
                 place: Place = HERE):
        self.spec = spec
        self.port = port or free_port()
        self.url = f"http://{place.address}:{self.port}"
        self.ready_timeout = ready_timeout
        super().__init__(log_path=log_path, place=place)

    def child_env(self) -> dict[str, str]:
        return {**super().child_env(),
                **self.environment(self.spec, self.port, self.place.address),
                "PYTHONUNBUFFERED": "1"}

    def launch_argv(self) -> list[str]:
        argv = self.full_argv(self.spec, self.port, self.place.address)
        if self.drain_signal == signal.SIGINT:
            # a child inherits an ignored SIGINT (a shell's background job, a CI runner), and
            # Python then never installs its KeyboardInterrupt: back to the default, then exec
            argv = [sys.executable, "-c", RESET_SIGINT, *argv]
        if limit := self.spec.max_open_files:  # the shell's ulimit, then exec: same pid
            argv = ["sh", "-c", f'ulimit -n {int(limit)} && exec "$@"', "sh", *argv]
        if self.spec.cpus:  # taskset execs the server: same pid, its children inherit it
            argv = ["taskset", "-c", ",".join(map(str, self.spec.cpus)), *argv]
        return argv

    def ready(self, log_text: str) -> bool:
        """What the log must show besides a healthy answer (gunicorn: every worker ready)."""
        return True

    def is_ready(self) -> bool:
        return self.ready(self.log_text()) and self._healthy()

    def _healthy(self) -> bool:
        """The lab's app answers /health; another app's port accepts a connection (its paths
        are the advisor's to judge: one may 404 or hang)."""
        if self.spec.app:
            try:
                socket.create_connection((self.place.address, self.port), timeout=2).close()
                return True
            except OSError:
                return False
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the main process's children (subclasses
        say otherwise where the main process serves, or has other children)."""
        try:
            return [p.pid for p in psutil.Process(self.proc.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def quit(self, until, timeout: float = 10.0) -> bool:
        """The quick signal to the main process, then poll ``until()`` for up to ``timeout``
        s: whether it came true. :meth:`stop` after."""
        if self.proc is None or self.proc.poll() is not None or self.quick_signal is None:
            return until()
        self.remember()
        self.proc.send_signal(self.quick_signal)
        return bool(wait_until(until, timeout, interval=0.02, fail=None))

    def stop(self, grace: float = 10.0, *, graceful: bool = True) -> None:
        """The drain signal (graceful) or the quick one to the main process, SIGKILL to the
        session after ``grace`` s. Every process that belonged to the server is reaped."""
        first = self.drain_signal if graceful else (self.quick_signal or signal.SIGKILL)
        super().stop(grace, first_signal=first)
