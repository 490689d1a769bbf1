"""What one matrix cell is: a scenario (how Locust loads the server), a server spec, users.

A cell is found by what it is -- scenario, worker class, workers, threads,
switch interval, reuse_port, offload backend, Celery fleet, proxy, slow clients,
database, pinned cores and server (:func:`key`) --
never by its formatted label, so renaming a label cannot silently drop a
lesson's section.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace

from ..servers import ServerSpec
from .result import IDENTITY, row_key

__all__ = ["IDENTITY", "Cell", "Database", "Fleet", "Scenario", "cell", "row_key", "row_spec",
           "spec"]


@dataclass(frozen=True)
class Scenario:
    """How a scenario loads the server, and which bound it is judged by."""

    tag: str  # the locustfile tag
    primary: str  # the Locust request name whose throughput counts
    #: a kind of loadtests.matrix.bounds: io, db, cpu, nap, offload, gilfree, or None
    bound: str | None
    heartbeat: bool = False  # one of the users is the heartbeat
    extra: tuple[str, ...] = ()  # locustfile flags
    #: /prime checks the short prime (``--short-n``), so that a window counts dozens of
    #: requests; the others keep ``--n``, long enough for a visible freeze.
    short: bool = False
    #: A number of its own to check instead (``/mixed``'s few milliseconds of CPU).
    n: int | None = None

    @property
    def timing(self) -> str | None:
        """Which work's service time the bound rests on: the bound's own kind."""
        return self.bound


@dataclass(frozen=True)
class Fleet:
    """The Celery workers a cell starts beside its server (``OFFLOAD_BACKEND=celery``).

    ``processes`` separate ``celery worker`` processes stand for as many hosts: each has
    its own pool of ``concurrency`` (prefork processes, threads or greenlets; solo: one).
    """

    pool: str = "prefork"
    concurrency: int = 2
    processes: int = 1

    @property
    def label(self) -> str:
        text = f"celery {self.pool} -c{self.concurrency}"
        return text + (f" ×{self.processes}" if self.processes > 1 else "")

    @property
    def parallelism(self) -> int:
        """Tasks that can compute at once: prefork's processes; one per worker otherwise
        (threads share the GIL, greenlets one loop, solo runs one task)."""
        return (self.concurrency if self.pool == "prefork" else 1) * self.processes


@dataclass(frozen=True)
class Database:
    """The PostgreSQL a cell's ``/db`` requests wait in: a cluster of the cell's own.

    ``driver`` and ``pool`` (connections per worker process) become DB_DRIVER and
    DB_POOL_SIZE; ``max_connections`` is the cluster's, of which PostgreSQL keeps
    ``RESERVED`` for superusers; ``sync``: asgi's blocking driver inside the coroutine.
    """

    driver: str = "psycopg"
    pool: int = 10
    max_connections: int = 100
    sync: bool = False

    RESERVED = 3  # PostgreSQL's superuser_reserved_connections

    @property
    def label(self) -> str:
        text = f"{self.driver}{' sync' if self.sync else ''} pool {self.pool}"
        return text + (f" max {self.max_connections}" if self.max_connections != 100 else "")

    @property
    def allowed(self) -> int:
        """Connections the app's role may open: max_connections less the reserved ones."""
        return self.max_connections - self.RESERVED

    def cooperates(self, worker_class: str) -> bool:
        """Whether a query lets the worker run its other requests meanwhile: not psycopg2
        under gevent (it releases the GIL but never yields to the hub), not a blocking
        driver inside asyncio's coroutine."""
        if worker_class == "gevent":
            return self.driver != "psycopg2"
        return not (worker_class == "asgi" and self.sync)


@dataclass(frozen=True)
class Cell:
    scenario: str
    spec: ServerSpec
    users: int
    celery: Fleet | None = None
    #: "nginx": the load (and the slow clients) go through the lab's nginx; None: direct.
    proxy: str | None = None
    #: Slow clients (slowloris) held open through the measured window.
    slow: int = 0
    #: The database its ``/db`` requests reach (None: no database).
    db: Database | None = None

    @property
    def switch_interval(self) -> float | None:
        value = dict(self.spec.env).get("SWITCH_INTERVAL")
        return float(value) if value else None

    @property
    def reuse_port(self) -> bool:
        return dict(self.spec.env).get("REUSE_PORT") == "1"

    @property
    def pin_cores(self) -> bool:
        return dict(self.spec.env).get("PIN_CORES") == "1"

    @property
    def needs(self) -> tuple[str, ...]:
        """What it needs beyond Python and the pins: Redis (Celery's broker), nginx (its
        proxy), PostgreSQL (its database), Linux (cores pinned with sched_setaffinity)."""
        return tuple(need for need, present in (
            ("Redis", self.celery is not None), ("nginx", self.proxy is not None),
            ("PostgreSQL", self.db is not None), ("Linux", self.pin_cores)) if present)

    @property
    def model_label(self) -> str:
        label = self.spec.label
        if self.switch_interval is not None:
            label += f" si={self.switch_interval:g}"
        label += " reuse_port" if self.reuse_port else ""
        label += " pinned" if self.pin_cores else ""
        if self.celery:
            label += f" → {self.celery.label}"
        elif self.spec.offload != "pool":
            label += f" → {self.spec.offload}"
        if self.db:
            label += f" {self.db.label}"
        if self.slow:
            label += f" + {self.slow} slow"
        return label + (f" behind {self.proxy}" if self.proxy else "")

    @property
    def label(self) -> str:
        return f"{self.scenario} | {self.model_label} | {self.users} users"

    @property
    def slug(self) -> str:
        text = f"{self.scenario}-{self.model_label}-u{self.users}"
        return (text.replace(" ", "").replace("--", "-").replace("=", "").replace("→", "-")
                .replace("×", "x").replace("+", "-"))

    def identity(self) -> dict:
        """What the cell is, as its result records it: the
        :data:`~loadtests.matrix.result.IDENTITY` fields."""
        spec = self.spec
        return {"scenario": self.scenario, "worker_class": spec.worker_class,
                "workers": spec.workers, "threads": spec.threads,
                "switch_interval": self.switch_interval, "reuse_port": self.reuse_port,
                "offload": spec.offload,
                "celery": dataclasses.asdict(self.celery) if self.celery else None,
                "proxy": self.proxy, "slow_clients": self.slow,
                "db": dataclasses.asdict(self.db) if self.db else None,
                "pin_cores": self.pin_cores, "server": spec.server,
                "server_options": list(spec.options)}

    def key(self) -> tuple:
        """What the cell is (users aside: ``--users`` moves them): the key of the row it
        writes (:func:`~loadtests.matrix.result.row_key`), derived from the same fields."""
        return row_key(self.identity())


def row_spec(row: dict) -> ServerSpec:
    """The server spec of the cell a results row came from (its model and counts)."""
    return ServerSpec(row["worker_class"], row["workers"], row["threads"],
                      worker_connections=row.get("worker_connections", 1000),
                      server=row.get("server", "gunicorn"),
                      options=tuple(row.get("server_options", ())))


def spec(model: str, workers: int = 1, threads: int = 1, switch: float | None = None,
         reuse_port: bool = False, offload: str = "pool", pin: bool = False,
         server: str = "gunicorn", options: tuple[str, ...] = ()) -> ServerSpec:
    """A lab server spec in one line: model (gunicorn's -k, another server's interface),
    workers, threads, SWITCH_INTERVAL, REUSE_PORT, OFFLOAD_BACKEND, PIN_CORES, server and
    its own flags."""
    env = (("SWITCH_INTERVAL", f"{switch:g}"),) if switch else ()
    env += (("REUSE_PORT", "1"),) if reuse_port else ()
    env += (("PIN_CORES", "1"),) if pin else ()
    return ServerSpec(model, workers=workers, threads=threads, env=env, offload=offload,
                      server=server, options=options)


def cell(scenario: str, model: str, workers: int = 1, threads: int = 1, *, users: int,
         switch: float | None = None, reuse_port: bool = False, offload: str = "pool",
         celery: Fleet | None = None, proxy: str | None = None, slow: int = 0,
         db: Database | None = None, pin: bool = False, server: str = "gunicorn",
         options: tuple[str, ...] = ()) -> Cell:
    if celery is not None:
        offload = "celery"
    served = spec(model, workers, threads, switch, reuse_port, offload, pin, server, options)
    if db is not None:
        served = replace(served, env=(*served.env, ("DB_DRIVER", db.driver),
                                      ("DB_POOL_SIZE", str(db.pool))))
    return Cell(scenario, served, users, celery or (Fleet() if offload == "celery" else None),
                proxy, slow, db)
