"""The bounds: which bound judges each cell, from the pure model (loadtests.matrix.bounds),
and what makes cells differ."""

import os

import pytest

from loadtests.lessons import SCENARIO
from loadtests.matrix import bounds, presets
from loadtests.matrix.cells import Cell, Database, Fleet
from loadtests.matrix.cells import cell as make_cell
from loadtests.servers import ServerSpec

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests

S = ServerSpec


def bound(cell, **kwargs):
    return bounds.bound(cell, SCENARIO[cell.scenario], **kwargs)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (Cell("io", S("sync", workers=2), 100), 20.0),               # 2 slots / 0.1 s
        (Cell("io", S("gthread", workers=2, threads=8), 100), 160.0),
        (Cell("io", S("gevent", workers=1), 100), 1000.0),          # users, not 1000 slots
        (Cell("io", S("gevent", workers=2), 10), 100.0),
        (Cell("cpu", S("sync", workers=1), 8), 5.0),                 # 1 core / 0.2 s
        (Cell("cpu", S("sync", workers=2), 8), 10.0),
        (Cell("cpu", S("sync", workers=4), 8), 10.0),                # only 2 cores
        (Cell("cpu", S("gthread", workers=1, threads=4), 8), 5.0),   # threads add nothing
        (Cell("cpu", S("gevent", workers=2), 1), 5.0),               # one user, one at a time
        (Cell("heartbeat", S("sync", workers=2), 3), 10.0),          # 2 cpu users + heartbeat
        (Cell("heartbeat", S("sync", workers=2), 2), 5.0),
    ],
)
def test_bound_per_cell(cell, expected):
    assert bound(cell, delay=0.1, service=SERVICE, cores=2) == pytest.approx(expected)


SERVICE = {"cpu": 0.2, "nap": 0.4, "gilfree": 0.05, "offload": 0.2}


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (Cell("nap", S("gevent", workers=1), 3), 2.5),                   # 1 process, S_nap
        (Cell("offload", S("gevent", workers=1), 3), 10.0),              # the pool: 2 cores
        (Cell("offload", S("gevent", workers=1), 2), 5.0),               # one cpu user
        (Cell("gilfree", S("gthread", workers=1, threads=4), 4), 40.0),  # threads count
        (Cell("gilfree", S("gthread", workers=1, threads=1), 4), 20.0),
        (Cell("gilfree", S("sync", workers=2), 4), 40.0),
        (Cell("gilfree", S("gevent", workers=1), 4), 20.0),              # one hub
        (Cell("switch", S("gthread", workers=1, threads=4,
                          env=(("SWITCH_INTERVAL", "0.05"),)), 3), 5.0),
    ],
)
def test_bound_for_the_deeper_lessons(cell, expected, monkeypatch):
    monkeypatch.setenv("OFFLOAD_PROCESSES", "2")  # what each server's pool would use
    assert bound(cell, delay=0.1, service=SERVICE, cores=2) == pytest.approx(expected)


@pytest.mark.parametrize(("fleet", "expected"), [
    (Fleet("prefork", 2), 10.0),     # two processes, two cores: 2 / 0.2 s
    (Fleet("prefork", 4), 10.0),     # only 2 cores
    (Fleet("threads", 4), 5.0),      # threads share one GIL
    (Fleet("gevent", 4), 5.0),       # greenlets share one loop
    (Fleet("solo", 1), 5.0),
    (Fleet("prefork", 1, 2), 10.0),  # two worker processes of concurrency 1
    (Fleet("threads", 2, 2), 10.0),  # one GIL each
])
def test_bound_for_a_celery_fleet(fleet, expected):
    the_cell = make_cell("offload", "gevent", 1, users=5, celery=fleet)
    assert the_cell.spec.offload == "celery"
    assert bound(the_cell, delay=0.1, service={"offload": 0.2}, cores=2) == pytest.approx(expected)


def test_bound_for_dirty_workers():
    two = make_cell("offload", "gevent", 1, users=5, offload="dirty")
    one = Cell("offload", S("gevent", offload="dirty", env=(("DIRTY_WORKERS", "1"),)), 5)
    assert bound(two, delay=0.1, service={"offload": 0.2}, cores=2) == pytest.approx(
        min(2, os.cpu_count()) / 0.2)
    assert bound(one, delay=0.1, service={"offload": 0.2}, cores=2) == pytest.approx(5.0)


@pytest.mark.parametrize(("model", "workers", "threads", "db", "users", "expected"), [
    ("gevent", 1, 1, Database("psycopg"), 21, 100.0),         # the pool: 10 ÷ 0.1 s
    ("gevent", 1, 1, Database("psycopg2-green"), 21, 100.0),
    ("gevent", 1, 1, Database("psycopg2"), 21, 10.0),          # does not yield: one at a time
    ("gthread", 1, 20, Database("psycopg2"), 21, 100.0),       # threads: the GIL is released
    ("gthread", 1, 16, Database(pool=4), 20, 40.0),            # the pool is a slot
    ("gthread", 1, 16, Database(pool=16), 20, 160.0),
    ("gthread", 1, 4, Database(pool=10), 20, 40.0),            # threads are too
    ("sync", 2, 1, Database(), 20, 20.0),
    ("asgi", 1, 1, Database(), 20, 100.0),
    ("asgi", 1, 1, Database(sync=True), 21, 10.0),             # blocking inside the coroutine
    ("gthread", 2, 10, Database(pool=5, max_connections=13), 20, 100.0),
    ("gthread", 2, 10, Database(pool=10, max_connections=8), 20, 50.0),  # 5 allowed
])
def test_the_database_bound(model, workers, threads, db, users, expected):
    scenario = "dbbeat" if users == 21 else "db"
    the_cell = make_cell(scenario, model, workers, threads, users=users, db=db)
    assert dict(the_cell.spec.env)["DB_POOL_SIZE"] == str(db.pool)
    assert bound(the_cell, delay=0.1, service=SERVICE, cores=2) == pytest.approx(expected)


@pytest.mark.parametrize(("model", "workers", "threads", "users", "customers"), [
    ("gthread", 2, 8, 50, 8),     # each worker's threads cycle: 8 customers a worker
    ("gthread", 1, 4, 50, 4),
    ("gthread", 2, 32, 20, 10),   # fewer users than slots: each worker's share
    ("sync", 2, 1, 50, 1),        # one at a time: 1 / (delay + S) a worker
    ("gevent", 2, 1, 50, 25),
])
def test_the_closed_bound_is_each_workers_network(model, workers, threads, users, customers):
    """Mean value analysis per worker (customers: its slots or its share of the users),
    summed; below the asymptote near the knee, never above cores ÷ S."""
    from loadtests.model.queueing import closed_rps

    the_cell = make_cell("convoy", model, workers, threads, users=users)
    got = bound(the_cell, delay=0.1, service={"closed": 0.012}, cores=2)
    assert got == pytest.approx(min(workers * closed_rps(customers, 0.1, 0.012), 2 / 0.012))
    slots = the_cell.spec.slots
    assert got <= min(min(users, slots) / 0.112, 2 / 0.012) + 1e-9


def test_closed_network_by_hand():
    """MVA's recursion, checked by hand for two customers: R(1) = S, X(1) = 1 / (Z + S),
    Q(1) = S / (Z + S); R(2) = S (1 + Q(1)), X(2) = 2 / (Z + R(2))."""
    from loadtests.model.queueing import closed_rps

    z, s = 0.08, 0.02
    q1 = s / (z + s)
    assert closed_rps(2, z, s) == pytest.approx(2 / (z + s * (1 + q1)))
    assert closed_rps(1, z, s) == pytest.approx(1 / (z + s))
    assert closed_rps(0, z, s) == 0.0


def test_cells_differ_by_backend_and_fleet():
    cells = {make_cell("offload", "gevent", users=3),
             make_cell("offload", "gevent", users=3, offload="dirty"),
             make_cell("offload", "gevent", users=3, offload="celery"),
             make_cell("offload", "gevent", users=3, celery=Fleet("threads", 2))}
    assert len({c.key() for c in cells}) == len({c.slug for c in cells}) == 4


def test_mixed_has_no_single_bound():
    assert bound(Cell("mixed", S("sync"), 20), delay=0.1, service=SERVICE, cores=2) is None


def test_switch_cells_name_their_interval():
    cell = next(c for c in presets.cells("quick") if c.scenario == "switch")
    assert cell.switch_interval == 0.0005
    assert "si=0.0005" in cell.label
