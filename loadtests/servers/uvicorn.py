"""uvicorn: the ASGI twin on one asyncio loop per process, standalone or as gunicorn's worker.

* ``uvicorn webapp.asgi:app --workers N``: uvicorn's own supervisor (``--workers 1`` serves
  in the one process). No cap on requests in progress (``--limit-concurrency`` unset, the
  default): slots are unbounded, as for gunicorn's ``-k asgi``. SIGTERM and SIGINT both
  drain; there is no quick signal (the lab SIGKILLs after the grace).
* ``gunicorn -k uvicorn_worker.UvicornWorker`` (the ``uvicorn-worker`` package): gunicorn's
  master and hooks (the lab's gunicorn.conf.py, which serves the ASGI twin to it), uvicorn's
  loop and HTTP parser in each worker. uvicorn-worker 0.4.0 passes on gunicorn's keepalive,
  timeout (as its heartbeat), max_requests, forwarded_allow_ips, backlog and SSL settings,
  not ``worker_connections`` (no ``limit_concurrency``): slots unbounded here too.
"""

from __future__ import annotations

import math
import signal

import psutil

from .base import LOOPBACK, Server
from .gunicorn import GunicornServer
from .spec import ServerSpec

ASGI_APP = "webapp.asgi:app"
WORKER_CLASS = "uvicorn_worker.UvicornWorker"


class _UvicornLoop:
    """uvicorn's model, however it is started: one asyncio loop per process, no cap."""

    @classmethod
    def model(cls, spec: ServerSpec) -> str:
        return "asgi"

    @classmethod
    def slots(cls, spec: ServerSpec) -> float:
        return math.inf


class UvicornServer(_UvicornLoop, Server):
    """``uvicorn --workers N`` serving the ASGI twin (or ``spec.app``)."""

    name = "uvicorn"
    quick_signal = None  # SIGINT and SIGTERM both drain

    @classmethod
    def label(cls, spec: ServerSpec) -> str:
        return f"uvicorn -w{spec.workers}"

    @classmethod
    def argv(cls, spec: ServerSpec, port: int, host: str = LOOPBACK) -> list[str]:
        command = [spec.interpreter, "-m", "uvicorn", spec.app or ASGI_APP,
                   "--host", host, "--port", str(port), "--workers", str(spec.workers),
                   "--timeout-graceful-shutdown", str(spec.timeout)]
        return command + (["--app-dir", spec.chdir] if spec.chdir else [])

    def worker_pids(self) -> list[int]:
        """One worker: the main process serves. More: its children, less multiprocessing's
        resource tracker (a child of uvicorn's supervisor that serves nothing)."""
        if self.spec.workers == 1:
            return [self.proc.pid]
        try:
            children = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []
        return [p.pid for p in children if not _is_resource_tracker(p)]


def _is_resource_tracker(proc: psutil.Process) -> bool:
    try:
        return any("resource_tracker" in part for part in proc.cmdline())
    except psutil.NoSuchProcess:
        return True


class UvicornWorkerServer(_UvicornLoop, GunicornServer):
    """gunicorn's master with ``-k uvicorn_worker.UvicornWorker`` workers."""

    name = "uvicorn-worker"
    traces = False  # webapp/instrument/trace.py wraps gunicorn's own workers' apps, not uvicorn's
    quick_signal = signal.SIGQUIT  # gunicorn's; uvicorn-worker handles it in the loop

    @classmethod
    def label(cls, spec: ServerSpec) -> str:
        return f"gunicorn -k UvicornWorker -w{spec.workers}"

    @classmethod
    def argv(cls, spec: ServerSpec, port: int, host: str = LOOPBACK) -> list[str]:
        argv = super().argv(spec, port, host)
        if "-k" in argv:
            argv[argv.index("-k") + 1] = WORKER_CLASS
        return argv

    @classmethod
    def environment(cls, spec: ServerSpec, port: int,
                    host: str = LOOPBACK) -> dict[str, str]:
        env = super().environment(spec, port, host)
        return env | ({"WORKER_CLASS": WORKER_CLASS} if "WORKER_CLASS" in env else {})
