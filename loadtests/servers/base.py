"""What every server the lab starts shares: free ports, the error, and one lifecycle.

:class:`Server` starts a server's command in its own session on a free loopback port,
waits until the app answers over HTTP (several servers log "listening" before the app
has loaded), and stops it on every path: its first signal, SIGKILL to the session after
a grace period, and every process that ever belonged to it reaped. Each server is one
module (:mod:`.gunicorn`, :mod:`.uvicorn`, :mod:`.granian`, :mod:`.waitress`) that says
only what differs: its command line, its model in the lab's terms, its slots, its label.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import psutil

from ..harness.procs import HERE, LOOPBACK, Logged, Place, stop_tree, tree

if TYPE_CHECKING:
    from .spec import ServerSpec

ROOT = Path(__file__).resolve().parent.parent.parent
#: Runs ``argv[1:]`` with SIGINT at its default action (execvp keeps it).
RESET_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                "os.execvp(sys.argv[1], sys.argv[1:])")


#: Every port :func:`free_port` has handed out in this process, never handed out again.
_handed_out: set[int] = set()
_handing_out = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, and that this process has
    not handed out before.

    The kernel may offer a port it just offered again, once the probe socket is closed: the
    slow-client watch, which starts 24 servers and 10 nginx side by side, once gave one port
    to a gunicorn and to an nginx ("nginx: cannot listen ... address already in use" in CI).
    ``LAB_PORTS=LOW-HIGH`` draws the ports at random from that range instead of the kernel's:
    parallel test workers each get a range of their own (``tests/conftest.py``), so two
    processes cannot be offered one just-closed port.
    """
    span = os.environ.get("LAB_PORTS")
    low, high = map(int, span.split("-")) if span else (0, 0)
    with _handing_out:
        while True:
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", random.randint(low, high) if span else 0))
                except OSError:  # taken: draw again
                    continue
                port = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port


class ServerError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


class Server(Logged):
    """Context manager around one server process and everything it starts.

    A subclass names the server (``name``) and says how to run a :class:`ServerSpec`:
    :meth:`argv`, :meth:`environment`, and, as class methods the cells and bounds read
    without starting anything, :meth:`model`, :meth:`slots` and :meth:`label`.
    """

    #: The spec's ``server`` this class runs.
    name: ClassVar[str]
    #: The signal that drains the server (finish in-flight requests, then exit).
    drain_signal: ClassVar[signal.Signals] = signal.SIGTERM
    #: The signal that stops it at once (None: no such signal; SIGKILL after the grace).
    quick_signal: ClassVar[signal.Signals | None] = signal.SIGQUIT
    #: Whether its workers record request timelines (gunicorn's hooks: webapp/instrument/trace.py).
    traces: ClassVar[bool] = False

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
            argv = argv[2:]
        return " ".join(argv)

    # -- one running server --------------------------------------------------------------
    def __init__(self, spec: ServerSpec, *, port: int | None = None,
                 log_path: Path | None = None, ready_timeout: float = 30.0,
                 place: Place = HERE):
        self.spec = spec
        self.place = place
        self.port = port or free_port()
        self.url = f"http://{place.address}:{self.port}"
        self.ready_timeout = ready_timeout
        self._own_log = log_path is None
        self.log_path = Path(log_path or tempfile.mkstemp(prefix=f"{self.name}-",
                                                          suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self._known: dict[int, psutil.Process] = {}

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def child_env(self) -> dict[str, str]:
        return {**os.environ, **self.environment(self.spec, self.port, self.place.address),
                "PYTHONUNBUFFERED": "1"}

    def start(self) -> None:
        env = self.child_env()
        argv = self.full_argv(self.spec, self.port, self.place.address)
        if self.drain_signal == signal.SIGINT:
            # a child inherits an ignored SIGINT (a shell's background job, a CI runner), and
            # Python then never installs its KeyboardInterrupt: back to the default, then exec
            argv = [sys.executable, "-c", RESET_SIGINT, *argv]
        if limit := self.spec.max_open_files:  # the shell's ulimit, then exec: same pid
            argv = ["sh", "-c", f'ulimit -n {int(limit)} && exec "$@"', "sh", *argv]
        argv = self.place.wrap(argv)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def ready(self, log_text: str) -> bool:
        """What the log must show besides a healthy answer (gunicorn: every worker ready)."""
        return True

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise ServerError(f"{self.name} exited with {code}:\n{self.log_tail()}")
            self._remember_processes()
            if self.ready(self.log_text()) and self._healthy():
                return
            time.sleep(0.05)  # polling interval, not synchronisation
        raise ServerError(f"{self.name} not ready after {self.ready_timeout:g} s:\n"
                          f"{self.log_tail()}")

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

    def _remember_processes(self) -> None:
        for proc in tree(self.proc.pid):
            self._known.setdefault(proc.pid, proc)

    def processes(self) -> list[psutil.Process]:
        """The server's live processes: its main process and every descendant."""
        self._remember_processes()
        return [p for p in self._known.values() if p.is_running()]

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
        self._remember_processes()
        self.proc.send_signal(self.quick_signal)
        deadline = time.monotonic() + timeout
        while not (done := until()) and time.monotonic() < deadline:
            time.sleep(0.02)  # polling interval
        return done

    def stop(self, grace: float = 10.0, *, graceful: bool = True) -> None:
        """The drain signal (graceful) or the quick one to the main process, SIGKILL to the
        session after ``grace`` s. Every process that belonged to the server is reaped."""
        if self.proc is None:
            return
        self._remember_processes()
        first = self.drain_signal if graceful else (self.quick_signal or signal.SIGKILL)
        stop_tree(self.proc, grace=grace, whole_group=False, known=self._known.values(),
                  first_signal=first)
        if self._own_log:
            self.log_path.unlink(missing_ok=True)
        self.cleanup()
        self.proc = None

    def cleanup(self) -> None:
        """What a subclass removes once its processes are gone."""
