"""What one matrix cell is: a scenario (how Locust loads the server), a server spec, users.

A cell is found by what it is -- scenario, worker class, workers, threads and
switch interval (:func:`key`) -- never by its formatted label, so renaming a
label cannot silently drop a lesson's section.
"""

from __future__ import annotations

from dataclasses import dataclass

from .server import ServerSpec


@dataclass(frozen=True)
class Scenario:
    """How a scenario loads the server, and which bound it is judged by."""

    tag: str  # the locustfile tag
    primary: str  # the Locust request name whose throughput counts
    bound: str | None  # a kind of loadtests.bounds: io, cpu, nap, offload, gilfree, or None
    heartbeat: bool = False  # one of the users is the heartbeat
    extra: tuple[str, ...] = ()  # locustfile flags

    @property
    def timing(self) -> str | None:
        """Which work's service time the bound rests on (offload runs plain is_prime)."""
        return "cpu" if self.bound == "offload" else self.bound


@dataclass(frozen=True)
class Cell:
    scenario: str
    spec: ServerSpec
    users: int

    @property
    def switch_interval(self) -> float | None:
        value = dict(self.spec.env).get("SWITCH_INTERVAL")
        return float(value) if value else None

    @property
    def reuse_port(self) -> bool:
        return dict(self.spec.env).get("REUSE_PORT") == "1"

    @property
    def model_label(self) -> str:
        label = self.spec.label
        if self.switch_interval is not None:
            label += f" si={self.switch_interval:g}"
        return label + (" reuse_port" if self.reuse_port else "")

    @property
    def label(self) -> str:
        return f"{self.scenario} | {self.model_label} | {self.users} users"

    @property
    def slug(self) -> str:
        text = f"{self.scenario}-{self.model_label}-u{self.users}"
        return text.replace(" ", "").replace("--", "-").replace("=", "")

    def key(self) -> tuple:
        """What the cell is, as a results row records it (users aside: ``--users`` moves them)."""
        spec = self.spec
        return (self.scenario, spec.worker_class, spec.workers, spec.threads,
                self.switch_interval, self.reuse_port)


def row_key(row: dict) -> tuple:
    """:meth:`Cell.key` of the cell a results row came from."""
    return (row["scenario"], row["worker_class"], row["workers"], row["threads"],
            row.get("switch_interval"), row.get("reuse_port", False))


def spec(model: str, workers: int = 1, threads: int = 1, switch: float | None = None,
         reuse_port: bool = False) -> ServerSpec:
    """A lab server spec in one line: model, workers, threads, SWITCH_INTERVAL, REUSE_PORT."""
    env = (("SWITCH_INTERVAL", f"{switch:g}"),) if switch else ()
    env += (("REUSE_PORT", "1"),) if reuse_port else ()
    return ServerSpec(model, workers=workers, threads=threads, env=env)


def cell(scenario: str, model: str, workers: int = 1, threads: int = 1, *, users: int,
         switch: float | None = None, reuse_port: bool = False) -> Cell:
    return Cell(scenario, spec(model, workers, threads, switch, reuse_port), users)
