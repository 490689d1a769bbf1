"""One background process the lab owns: start, wait for its ready line, stop and reap it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from ..harness.procs import HERE, Logged, Place, stop_tree, tree

ROOT = Path(__file__).resolve().parents[2]


class ServiceError(RuntimeError):
    """A service did not start; the message says why in one line, then its log's tail."""


class Missing(ServiceError):
    """The service's program is not installed; the message says how to install it."""


#: How to get each program the lab runs, for the one line shown when it is missing.
INSTALL = {
    "redis-server": "install it with `sudo apt-get install redis-server` "
                    "(macOS: `brew install redis`)",
    "nginx": "install it with `sudo apt-get install nginx-light` (macOS: `brew install nginx`)",
}


def require(program: str) -> str:
    """The program's path, or :class:`Missing` with the line that says how to install it."""
    path = shutil.which(program)
    if path is None:
        raise Missing(f"{program} not found: {INSTALL.get(program, 'install it')}")
    return path


class Daemon(Logged):
    """Context manager around one process; subclasses give its argv and its ready test."""

    name = "service"
    ready_timeout = 30.0
    stop_signal = signal.SIGTERM
    stop_grace = 10.0

    def __init__(self, *, log_path: Path | None = None, place: Place = HERE):
        #: Where it runs: this machine's loopback, or one of the lab's hosts.
        self.place = place
        self._own_log = log_path is None
        self.log_path = Path(log_path or tempfile.mkstemp(prefix=f"{self.name}-",
                                                         suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self._known: dict[int, psutil.Process] = {}

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}

    def is_ready(self) -> bool:
        raise NotImplementedError

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
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env()}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.place.wrap(self.argv()), cwd=ROOT, env=env,
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self) -> None:
        try:
            self.wait_until(self.is_ready, self.ready_timeout, f"{self.name} not ready")
        except BaseException:
            self.stop()
            raise

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``check`` until true; fail with the log's tail if the process exits or time's up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceError(f"{self.name} exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            self._remember()
            if check():
                return
            time.sleep(0.05)  # polling interval, not synchronisation
        raise ServiceError(f"{what} after {timeout:g} s:\n{self.log_tail()}")

    def _remember(self) -> None:
        for proc in tree(self.proc.pid):
            self._known.setdefault(proc.pid, proc)

    def processes(self) -> list[psutil.Process]:
        """The process and its live descendants."""
        if self.proc is not None:
            self._remember()
        return [p for p in self._known.values() if p.is_running()]

    def stop(self, grace: float | None = None) -> None:
        """The stop signal to the whole session, SIGKILL after ``grace``; reap everything."""
        if self.proc is None:
            return
        self._remember()
        stop_tree(self.proc, grace=self.stop_grace if grace is None else grace,
                  known=self._known.values(), first_signal=self.stop_signal)
        if self._own_log:
            self.log_path.unlink(missing_ok=True)
        self.proc = None
