"""gunicorn: start a real one for one worker model, wait until it serves, always stop it.

The probe, the matrix runner and the integration tests all launch servers
through :class:`GunicornServer`, so readiness and clean-up live in one place:

* readiness is polled with a deadline (``/health`` answers and every worker
  has logged ``worker ready``), never a fixed sleep;
* stopping sends SIGTERM to the master (gunicorn's graceful stop), then
  SIGKILLs the whole session after a deadline, and reaps every process that
  belonged to the server, workers and their children included.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ..procs import Logged, stop_tree, tree
from .base import ROOT, ServerError, free_port

CONFIG = ROOT / "gunicorn.conf.py"
READY_LINE = "worker ready:"
DIRTY_READY_LINE = "Initialized dirty app:"
DIRTY_ARBITER = re.compile(r"Spawned dirty arbiter \(pid: (\d+)\)")


@dataclass(frozen=True)
class ServerSpec:
    """A worker model and its knobs, as gunicorn flags."""

    worker_class: str = "sync"
    workers: int = 1
    threads: int = 1
    worker_connections: int = 1000
    timeout: int = 30
    env: tuple[tuple[str, str], ...] = field(default=())
    #: OFFLOAD_BACKEND: pool, celery (give REDIS_URL in ``env``) or dirty.
    offload: str = "pool"
    #: True: choose the model with gunicorn's flags; False: with environment variables only.
    flags: bool = True
    #: Another app than the lab's ("pkg.module:app", the advisor's), imported from ``chdir``.
    app: str | None = None
    chdir: str | None = None
    #: The server's limit on open files (``ulimit -n``); None: inherited.
    max_open_files: int | None = None

    @property
    def label(self) -> str:
        text = f"{self.worker_class} -w{self.workers}"
        if self.worker_class == "gthread":
            text += f" --threads {self.threads}"
        return text

    @property
    def slots(self) -> int:
        """How many requests the server can hold in progress at once.

        gunicorn 27.0.1's asgi worker does not enforce ``worker_connections`` (measured in
        tests/test_asgi.py), so an asgi worker holds every request it is sent: no cap.
        """
        per_worker = {"sync": 1, "gthread": self.threads, "gevent": self.worker_connections,
                      "asgi": math.inf}
        return self.workers * per_worker[self.worker_class]

    def argv(self, port: int) -> list[str]:
        command = [sys.executable, "-m", "gunicorn", "-c", str(CONFIG)]
        if self.chdir:
            command += ["--chdir", self.chdir]
        if self.app:
            command.append(self.app)
        if not self.flags:
            return command
        return [
            *command,
            "-k", self.worker_class,
            "-w", str(self.workers),
            "--threads", str(self.threads),
            "--worker-connections", str(self.worker_connections),
            "-t", str(self.timeout),
            "-b", f"127.0.0.1:{port}",
        ]

    def environment(self, port: int) -> dict[str, str]:
        """Variables for the child: the model (when not given as flags), then the spec's own."""
        env = {}
        if not self.flags:
            env.update(
                WORKER_CLASS=self.worker_class, WORKERS=str(self.workers),
                THREADS=str(self.threads), WORKER_CONNECTIONS=str(self.worker_connections),
                TIMEOUT=str(self.timeout), BIND=f"127.0.0.1:{port}",
            )
        if self.offload != "pool":
            env["OFFLOAD_BACKEND"] = self.offload
        return env | dict(self.env)

    @property
    def dirty_workers(self) -> int:
        """How many dirty workers gunicorn.conf.py starts for this spec (0 unless dirty)."""
        if self.offload != "dirty":
            return 0
        return int(dict(self.env).get("DIRTY_WORKERS") or os.cpu_count() or 1)


class GunicornServer(Logged):
    """Context manager around one gunicorn master and its workers."""

    def __init__(self, spec: ServerSpec, *, port: int | None = None, log_path: Path | None = None,
                 ready_timeout: float = 30.0):
        self.spec = spec
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout = ready_timeout
        self._own_log = log_path is None
        self.log_path = Path(log_path or tempfile.mkstemp(prefix="gunicorn-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self._known: dict[int, psutil.Process] = {}
        self._dirty_dir: Path | None = None

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> GunicornServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        env = {**os.environ, **self.spec.environment(self.port), "PYTHONUNBUFFERED": "1"}
        if self.spec.offload == "dirty":
            # the dirty arbiter's pinned socket (gunicorn.conf.py) in a folder this object
            # removes at stop, even when the master was SIGKILLed and its on_exit never ran
            self._dirty_dir = Path(tempfile.mkdtemp(prefix="worker-lab-dirty-"))
            env["LAB_DIRTY_SOCKET"] = str(self._dirty_dir / "arbiter.sock")
        argv = self.spec.argv(self.port)
        if limit := self.spec.max_open_files:  # the shell's ulimit, then exec: same pid
            argv = ["sh", "-c", f'ulimit -n {int(limit)} && exec "$@"', "sh", *argv]
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

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise ServerError(f"gunicorn exited with {code}:\n{self.log_tail()}")
            self._remember_processes()
            text = self.log_text()
            if (text.count(READY_LINE) >= self.spec.workers
                    and text.count(DIRTY_READY_LINE) >= self.spec.dirty_workers
                    and self._healthy()):
                return
            time.sleep(0.05)  # polling interval, not synchronisation
        raise ServerError(f"gunicorn not ready after {self.ready_timeout:g} s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        """The lab's app answers /health; another app's port accepts a connection (its paths
        are the advisor's to judge: one may 404 or hang)."""
        if self.spec.app:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
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
        """The master and its live descendants (workers, pools)."""
        self._remember_processes()
        return [p for p in self._known.values() if p.is_running()]

    def dirty_arbiter_pids(self) -> set[int]:
        """Every dirty arbiter the master has spawned (it logs each one's pid)."""
        return {int(pid) for pid in DIRTY_ARBITER.findall(self.log_text())}

    def worker_pids(self) -> list[int]:
        """The HTTP workers: the master's children, the dirty arbiter excepted."""
        try:
            children = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []
        dirty = self.dirty_arbiter_pids()
        return [p.pid for p in children if p.pid not in dirty]

    def quit(self, until, timeout: float = 10.0) -> bool:
        """SIGQUIT to the master (its workers quit now, running their ``worker_exit``), then
        poll ``until()`` for up to ``timeout`` s: whether it came true. :meth:`stop` after."""
        if self.proc is None or self.proc.poll() is not None:
            return until()
        self._remember_processes()
        self.proc.send_signal(signal.SIGQUIT)
        deadline = time.monotonic() + timeout
        while not (done := until()) and time.monotonic() < deadline:
            time.sleep(0.02)  # polling interval
        return done

    def stop(self, grace: float = 10.0, *, graceful: bool = True) -> None:
        """SIGTERM (graceful) or SIGQUIT (quick) to the master, SIGKILL after ``grace`` s.

        Every process that belonged to the server is reaped either way.
        """
        if self.proc is None:
            return
        self._remember_processes()
        stop_tree(self.proc, grace=grace, whole_group=False, known=self._known.values(),
                  first_signal=signal.SIGTERM if graceful else signal.SIGQUIT)
        if self._own_log:
            self.log_path.unlink(missing_ok=True)
        if self._dirty_dir:
            shutil.rmtree(self._dirty_dir, ignore_errors=True)
        self.proc = None
