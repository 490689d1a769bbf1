"""waitress: one process, one asyncore I/O thread in front of ``--threads`` (4) app threads.

The I/O thread buffers a whole request before a thread sees it, and a whole response
before the client reads it: a slow client should hold a socket, not a thread (the
servers lesson tests it). The app threads share one GIL: gthread's model. There is no
multi-process mode (``workers`` must be 1) and no SIGTERM handler: SIGTERM kills it
mid-request (measured: the request in flight gets no answer). SIGINT stops it: the app
threads get up to 5 s to finish (waitress 3.0.2's ``TaskDispatcher.shutdown``; measured:
the request in flight is answered), then the connections are closed.
"""

from __future__ import annotations

import signal

from .base import LOOPBACK, Server
from .spec import ServerSpec

WSGI_APP = "webapp.wsgi:app"


class WaitressServer(Server):
    name = "waitress"
    drain_signal = signal.SIGINT  # its only orderly stop
    quick_signal = signal.SIGTERM  # no handler: the default action, killed

    @classmethod
    def model(cls, spec: ServerSpec) -> str:
        return "gthread"

    @classmethod
    def slots(cls, spec: ServerSpec) -> float:
        return spec.threads

    console_script = "waitress-serve"

    @classmethod
    def label(cls, spec: ServerSpec) -> str:
        return f"waitress --threads {spec.threads}"

    @classmethod
    def argv(cls, spec: ServerSpec, port: int, host: str = LOOPBACK) -> list[str]:
        if spec.workers != 1 or spec.worker_class != "wsgi":
            raise ValueError("waitress serves WSGI in one process: worker_class 'wsgi', "
                             f"workers 1, not {spec.worker_class!r} × {spec.workers}")
        return [spec.interpreter, "-m", "waitress", f"--listen={host}:{port}",
                f"--threads={spec.threads}", spec.app or WSGI_APP]

    @classmethod
    def environment(cls, spec: ServerSpec, port: int,
                    host: str = LOOPBACK) -> dict[str, str]:
        """waitress has no --chdir: another app's folder goes on the import path."""
        env = super().environment(spec, port, host)
        return env | ({"PYTHONPATH": spec.chdir} if spec.chdir else {})

    def worker_pids(self) -> list[int]:
        return [self.proc.pid]
