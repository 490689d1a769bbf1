"""gunicorn: start a real one for one worker model, wait until it serves, always stop it.

The probe, the matrix runner and the integration tests all launch gunicorn
through :class:`GunicornServer` (lifecycle in :class:`.base.Server`):

* readiness is polled with a deadline (``/health`` answers and every worker
  has logged ``worker ready``), never a fixed sleep;
* stopping sends SIGTERM to the master (gunicorn's graceful stop), then
  SIGKILLs the whole session after a deadline, and reaps every process that
  belonged to the server, workers and their children included.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from pathlib import Path

import psutil

from .base import LOOPBACK, ROOT, Server
from .spec import ServerSpec

CONFIG = ROOT / "gunicorn.conf.py"
READY_LINE = "worker ready:"
#: What gunicorn itself logs as each worker starts (a config of the user's logs no READY_LINE).
BOOTING_LINE = "Booting worker with pid"
DIRTY_READY_LINE = "Initialized dirty app:"
DIRTY_ARBITER = re.compile(r"Spawned dirty arbiter \(pid: (\d+)\)")

#: Requests one worker holds at once, per worker class. gunicorn 27.0.1's asgi worker does
#: not enforce ``worker_connections`` (measured in tests/test_asgi.py): no cap.
PER_WORKER = {"sync": lambda spec: 1, "gthread": lambda spec: spec.threads,
              "gevent": lambda spec: spec.worker_connections, "asgi": lambda spec: math.inf}


class GunicornServer(Server):
    """One gunicorn master with the lab's config, and its workers."""

    name = "gunicorn"
    traces = True

    @classmethod
    def model(cls, spec: ServerSpec) -> str:
        return spec.worker_class

    @classmethod
    def slots(cls, spec: ServerSpec) -> float:
        return spec.workers * PER_WORKER[cls.model(spec)](spec)

    @classmethod
    def label(cls, spec: ServerSpec) -> str:
        text = f"{spec.worker_class} -w{spec.workers}"
        if spec.worker_class == "gthread":
            text += f" --threads {spec.threads}"
        return text

    @classmethod
    def argv(cls, spec: ServerSpec, port: int, host: str = LOOPBACK) -> list[str]:
        command = [spec.interpreter, "-m", "gunicorn", "-c", spec.config or str(CONFIG)]
        if spec.chdir:
            command += ["--chdir", spec.chdir]
        if spec.app:
            command.append(spec.app)
        if spec.config:  # the user's settings, but for where it listens and logs
            return [*command, "-b", f"{host}:{port}", "--error-logfile", "-",
                    "--log-level", "info"]
        if not spec.flags:
            return command
        return [
            *command,
            "-k", spec.worker_class,
            "-w", str(spec.workers),
            "--threads", str(spec.threads),
            "--worker-connections", str(spec.worker_connections),
            "-t", str(spec.timeout),
            "-b", f"{host}:{port}",
        ]

    @classmethod
    def environment(cls, spec: ServerSpec, port: int,
                    host: str = LOOPBACK) -> dict[str, str]:
        """The model (when not given as flags), then the offload backend and the spec's own."""
        env = {}
        if not spec.flags:
            env.update(
                WORKER_CLASS=spec.worker_class, WORKERS=str(spec.workers),
                THREADS=str(spec.threads), WORKER_CONNECTIONS=str(spec.worker_connections),
                TIMEOUT=str(spec.timeout), BIND=f"{host}:{port}",
            )
        return env | super().environment(spec, port, host)

    def __init__(self, spec: ServerSpec, **kwargs):
        super().__init__(spec, **kwargs)
        self._dirty_dir: Path | None = None

    def child_env(self) -> dict[str, str]:
        env = super().child_env()
        if self.spec.offload == "dirty":
            # the dirty arbiter's pinned socket (gunicorn.conf.py) in a folder this object
            # removes at stop, even when the master was SIGKILLed and its on_exit never ran
            self._dirty_dir = Path(tempfile.mkdtemp(prefix="worker-lab-dirty-"))
            env["LAB_DIRTY_SOCKET"] = str(self._dirty_dir / "arbiter.sock")
        return env

    def ready(self, log_text: str) -> bool:
        if self.spec.config:
            return log_text.count(BOOTING_LINE) >= self.spec.workers
        return (log_text.count(READY_LINE) >= self.spec.workers
                and log_text.count(DIRTY_READY_LINE) >= self.spec.dirty_workers)

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

    def cleanup(self) -> None:
        if self._dirty_dir:
            shutil.rmtree(self._dirty_dir, ignore_errors=True)
