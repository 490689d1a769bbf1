"""A server and its knobs: which server runs the app, with which model, how many of what.

One frozen :class:`ServerSpec` describes every server the lab starts; what its fields
mean on a given server (its model, its slots, its label, its command line) is that
server's module's to say (:mod:`loadtests.servers`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ..harness.machine import usable_cores
from .registry import server_class

#: gunicorn's worker models in the lab, in teaching order (gunicorn.conf.py keeps a copy of
#: its own: it imports nothing of the lab's; tests/test_gunicorn_conf.py checks they agree).
MODELS = ("sync", "gthread", "gevent", "asgi")


@dataclass(frozen=True)
class ServerSpec:
    """A server, a worker model and its knobs."""

    #: gunicorn's -k for gunicorn; the app interface for the others (asgi or wsgi).
    worker_class: str = "sync"
    workers: int = 1
    #: gunicorn's --threads; waitress's threads; granian's blocking threads per worker.
    threads: int = 1
    worker_connections: int = 1000
    timeout: int = 30
    env: tuple[tuple[str, str], ...] = field(default=())
    #: OFFLOAD_BACKEND: pool, celery (give REDIS_URL in ``env``) or dirty (gunicorn only).
    offload: str = "pool"
    #: True: choose the model with gunicorn's flags; False: with environment variables only.
    flags: bool = True
    #: Another app than the lab's ("pkg.module:app", the advisor's), imported from ``chdir``.
    app: str | None = None
    chdir: str | None = None
    #: The server's limit on open files (``ulimit -n``); None: inherited.
    max_open_files: int | None = None
    #: Which server runs it: gunicorn, uvicorn, uvicorn-worker, granian or waitress.
    server: str = "gunicorn"
    #: More of the server's own command-line flags, as given (e.g. uvicorn's --no-access-log).
    options: tuple[str, ...] = ()
    #: The CPUs the server and its workers are held to (``taskset``; empty: any): a server of
    #: N cores on a bigger machine, the load generator on the others.
    cpus: tuple[int, ...] = ()
    #: The interpreter that runs the server (None: the lab's own): another environment's,
    #: with the app's packages and its own gunicorn (the advisor's ``--python``).
    python: str | None = None
    #: gunicorn only: a config file of the user's instead of the lab's; its settings stand,
    #: but for where it listens and logs (the advisor's ``--check``).
    config: str | None = None

    @property
    def interpreter(self) -> str:
        """The Python that runs the server: :attr:`python`, or the lab's own."""
        return self.python or sys.executable

    @property
    def runs_on(self):
        """The server's class (:mod:`loadtests.servers.registry`)."""
        return server_class(self.server)

    @property
    def model(self) -> str:
        """The concurrency model in the lab's terms: sync, gthread, gevent or asgi."""
        return self.runs_on.model(self)

    @property
    def label(self) -> str:
        return " ".join((self.runs_on.label(self), *self.options))

    @property
    def slots(self) -> float:
        """How many requests the server can hold in progress at once."""
        return self.runs_on.slots(self)

    @property
    def dirty_workers(self) -> int:
        """How many dirty workers gunicorn.conf.py starts for this spec (0 unless dirty)."""
        if self.offload != "dirty":
            return 0
        return int(dict(self.env).get("DIRTY_WORKERS") or usable_cores())
