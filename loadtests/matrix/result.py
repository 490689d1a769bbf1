"""A cell's result, typed, and ``results.json`` with a schema version (as pyperf's JSON has).

:class:`CellResult` is every field a cell's row carries: what the cell is (:data:`IDENTITY`,
from which :meth:`Cell.key <loadtests.matrix.cells.Cell.key>` and :func:`row_key` are both
derived), how it ran, what it measured, its bound and fidelity, and the fields of its
optional parts (:mod:`loadtests.matrix.parts`). The runner builds one; a part that names a
field the result does not declare fails there, not in a reader.

:func:`load` reads any ``results.json`` the lab has written and upgrades it in this one
place: files before :data:`SCHEMA` 2 have no version, and their rows lack the fields added
since (a cell's server, pinned cores, its trace); they get the defaults below, which are what
those fields meant before they existed. Readers then read ``row[field]`` with no defaults of
their own.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The version of ``results.json`` this code writes. 1: no ``schema`` key (to 2026-12-01).
SCHEMA = 2

#: The fields that say what a cell is (its users aside: ``--users`` moves them).
IDENTITY = ("scenario", "worker_class", "workers", "threads", "switch_interval", "reuse_port",
            "offload", "celery", "proxy", "slow_clients", "db", "pin_cores", "server",
            "server_options")


@dataclass
class CellResult:
    """One run of one cell, as ``results.json`` stores it (a flat row)."""

    # -- what the cell is (IDENTITY) and how it was labelled
    scenario: str
    worker_class: str
    workers: int
    threads: int
    label: str = ""
    switch_interval: float | None = None
    reuse_port: bool = False
    offload: str = "pool"
    celery: dict | None = None  # the Celery fleet: pool, concurrency, processes
    proxy: str | None = None
    slow_clients: int = 0
    db: dict | None = None  # driver, pool, max_connections, sync
    pin_cores: bool = False
    server: str = "gunicorn"
    server_options: list = field(default_factory=list)
    worker_connections: int = 1000
    # -- how it ran
    users: int = 0
    n: int | None = None
    cpu_count: int | None = None
    duration_s: float | None = None
    warmup_s: float | None = None
    locust_processes: int = 1
    # -- what Locust measured (the scenario's primary request)
    requests: int = 0
    failures: int = 0
    rps: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    # -- the bound and how the cell is judged by it
    bound_rps: float | None = None
    fidelity: float | None = None
    fidelity_of: str | None = None  # "little" (users ÷ mean response) or "count"
    counting_uncertainty: float | None = None
    little_rps: float | None = None
    # -- S: the service time the bound rests on, and where it was timed
    service_time_ms: float | None = None
    service_source: str | None = None  # server, load or idle
    service_load_ms: float | None = None
    service_idle_ms: float | None = None
    service_samples_ms: list = field(default_factory=list)
    service_runner_ms: float | None = None
    # -- CPU, in percent of one core, over the measured window
    server_cpu_pct: float = 0.0
    server_max_process_cpu_pct: float = 0.0
    server_cpu_ms_per_request: float | None = None
    locust_cpu_pct: float = 0.0
    locust_max_process_cpu_pct: float = 0.0
    locust_limited: bool = False
    # -- the parts' fields (loadtests.matrix.parts)
    db_pool_wait_ms: float | None = None
    offload_cpu_pct: float | None = None
    slow_closed: int = 0
    slow_replies: list = field(default_factory=list)  # the first line of each answer seen
    slow_held_min_s: float | None = None
    slow_held_max_s: float | None = None
    hub_blocked_reports: int | None = None
    hub_blocked_s: float | None = None
    hub_blocked_pct: float | None = None
    heartbeat_requests: int | None = None
    heartbeat_failures: int | None = None
    heartbeat_p50_ms: float | None = None
    heartbeat_p99_ms: float | None = None
    heartbeat_max_ms: float | None = None
    timeline: str | None = None
    trace_events: str | None = None
    trace: dict | None = None

    def as_row(self) -> dict:
        return dataclasses.asdict(self)


#: Every field a row has, with its default (None for the required ones).
DEFAULTS: dict[str, Any] = {
    f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING
             else None if f.default is dataclasses.MISSING else f.default)
    for f in dataclasses.fields(CellResult)}


def freeze(value):
    """A row's value as part of a key: lists and dicts become tuples (dicts: their values,
    in the order the dataclass that wrote them declares them)."""
    if isinstance(value, dict):
        return tuple(freeze(v) for v in value.values())
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def row_key(row: dict) -> tuple:
    """What the cell a row came from is: its :data:`IDENTITY` fields, frozen."""
    return tuple(freeze(row[name]) for name in IDENTITY)


def upgrade_row(row: dict) -> dict:
    """A row of any version with every field of this one (an error row stays as it is)."""
    if "error" in row:
        return row
    return {**{k: v for k, v in DEFAULTS.items() if k not in row}, **row}


def upgrade(data: dict) -> dict:
    """A whole ``results.json`` of any version, as this version writes it."""
    version = data.get("schema", 1)
    if version > SCHEMA:
        raise ValueError(f"results.json has schema {version}; this lab reads up to {SCHEMA}")
    return {**data, "schema": SCHEMA, "cells": [upgrade_row(r) for r in data["cells"]]}


def load(path: Path) -> dict:
    """Read a ``results.json`` (a report folder's, or a committed sample's), upgraded."""
    return upgrade(json.loads(Path(path).read_text()))


def dump(results: dict, path: Path) -> None:
    """Write ``results`` with this schema's version first."""
    path.write_text(json.dumps({"schema": SCHEMA, **results}, indent=2) + "\n")
