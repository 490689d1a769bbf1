"""The matrix runner: bounds per cell, presets, and a tiny end-to-end run."""

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

from loadtests.lessons import SCENARIO
from loadtests.matrix import bounds, presets
from loadtests.matrix.cells import Cell, Database, Fleet
from loadtests.matrix.cells import cell as make_cell
from loadtests.matrix.command import select_cells
from loadtests.matrix.monitors import MONITORS
from loadtests.servers import ROOT, ServerSpec

from .helpers import alive, descendants

S = ServerSpec
QUICK_CELLS, FULL_CELLS = presets.cells("quick"), presets.cells("full")


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
    cell = next(c for c in QUICK_CELLS if c.scenario == "switch")
    assert cell.switch_interval == 0.0005
    assert "si=0.0005" in cell.label


REQUIRED_QUICK = {
    ("io", "sync -w2", 100), ("io", "gthread -w2 --threads 8", 100), ("io", "gevent -w1", 100),
    ("cpu", "sync -w1", 8), ("cpu", "sync -w2", 8), ("cpu", "gthread -w1 --threads 1", 8),
    ("cpu", "gthread -w1 --threads 4", 8),
    ("heartbeat", "sync -w1", 3),
    ("heartbeat", "gthread -w1 --threads 4", 3), ("heartbeat", "gevent -w1", 3),
    ("io", "asgi -w1", 100), ("heartbeat", "asgi -w1", 3),
}


@pytest.mark.parametrize("cells", [QUICK_CELLS, FULL_CELLS], ids=["quick", "full"])
def test_presets_hold_the_required_cells(cells):
    keys = {(c.scenario, c.model_label, c.users) for c in cells}
    assert keys >= REQUIRED_QUICK
    assert len(keys) == len(cells)  # no cell twice
    # one cell at least per deeper lesson
    assert {"nap", "offload", "gilfree", "switch"} <= {c.scenario for c in cells}


def test_full_preset_has_every_scenario_and_three_switch_intervals():
    assert {c.scenario for c in FULL_CELLS} == set(SCENARIO)
    intervals = {c.switch_interval for c in FULL_CELLS if c.scenario == "switch"}
    assert intervals == {0.0005, 0.005, 0.05}


def test_select_cells_filters_and_sets_users():
    chosen = select_cells(FULL_CELLS, {"heartbeat"}, {"gevent"}, users=4)
    assert [(c.model_label, c.users) for c in chosen] == [
        ("gevent -w1", 5), ("gevent -w2", 5), ("gevent -w2 reuse_port", 5)]
    celery = select_cells(FULL_CELLS, {"offload"}, {"gevent"}, None, {"celery"})
    assert celery and {c.spec.offload for c in celery} == {"celery"}
    assert all(c.celery for c in celery)


def _matrix(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "loadtests.matrix", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **kwargs)


def _run_matrix(*args) -> str:
    """Run the matrix to its end; assert it succeeded and that none of its processes is left."""
    proc = _matrix(*args)
    seen: dict[int, psutil.Process] = {}
    while proc.poll() is None:
        seen |= descendants(proc.pid)
        time.sleep(0.1)  # polling interval
    output = proc.stdout.read()
    assert proc.returncode == 0, output
    assert not alive(seen.values())
    return output


CELL_KEYS = {
    "scenario", "worker_class", "workers", "threads", "users", "duration_s", "requests",
    "failures", "rps", "p50_ms", "p95_ms", "p99_ms", "bound_rps", "fidelity",
    "server_cpu_pct", "locust_cpu_pct", "heartbeat_p50_ms", "heartbeat_p99_ms",
    "heartbeat_max_ms",
}


@pytest.mark.integration
@pytest.mark.parametrize("locust_processes", [1, 2])
@pytest.mark.timing
def test_tiny_matrix_end_to_end(tmp_path, locust_processes, redis_server):
    """(``redis_server`` only makes the test skip, or fail under CI, where redis-server is
    missing: the backends' watch measures Celery.)"""
    repeat = 2 if locust_processes == 1 else 1  # the repeat path, end to end, once
    # The full preset's observations: the backends' watch runs once (its rows checked below);
    # the 40 s slow-client watch, the spinner and the tracer's cost have tests of their own.
    watches = ["--backends"] if repeat > 1 else ["--no-backends"]
    _run_matrix("--full", "--no-spinner", "--no-slowwatch", "--no-trace-overhead", *watches,
                "--scenarios", "heartbeat", "--models", "sync",
                "--users", "1", "--repeat", str(repeat),
                "--warmup", "0.5", "--duration", "1.5", "--locust-processes",
                str(locust_processes), "--out", str(tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    if repeat > 1:
        rows = results["backends"]
        assert [r["backend"] for r in rows] == ["pool", "celery", "dirty"]
        assert all(r["calls"] > 0 and 0 < r["p50_ms"] <= r["p99_ms"] for r in rows), rows
    else:
        assert not results["backends"]
    assert {"cpu_count", "python", "platform", "versions"} <= results["machine"].keys()
    assert {"gunicorn", "gevent", "locust"} <= results["machine"]["versions"].keys()
    cells = results["cells"]
    assert [(c["worker_class"], c["workers"]) for c in cells] == [("sync", 1), ("sync", 2)]
    for cell in cells:
        assert cell.keys() >= CELL_KEYS
        assert cell["failures"] == 0
        assert cell["requests"] > 0 and cell["heartbeat_p99_ms"] is not None
        assert cell["repeats"] == repeat
        assert cell["locust_processes"] == locust_processes
        if repeat > 1:  # medians with their min–max over the runs
            assert cell["fidelity_min"] <= cell["fidelity"] <= cell["fidelity_max"]
            assert cell["rps_min"] <= cell["rps"] <= cell["rps_max"]
            continue
        # a CPU cell is judged by Little's law: its users over their mean response time
        assert cell["fidelity_of"] == "little"
        assert cell["fidelity"] == pytest.approx(cell["little_rps"] / cell["bound_rps"])
        assert cell["little_rps"] == pytest.approx(cell["rps"], rel=0.5)
        # the bound rests on S under the load: the mean CPU each /prime took on the server
        cpu_users = min(cell["users"] - 1, cell["workers"], results["machine"]["cpu_count"])
        assert cell["service_source"] == "load"
        assert cell["bound_rps"] == pytest.approx(cpu_users / (cell["service_load_ms"] / 1000))
        # beside it, S timed in the cell's own idle server (two requests' elapsed)
        samples = cell["service_samples_ms"]
        assert len(samples) == 2 and cell["service_runner_ms"] > 0
        assert cell["service_idle_ms"] == pytest.approx(sum(samples) / len(samples))
    runs = sorted(path.name for path in (tmp_path / "cells").iterdir())
    assert len(runs) == 2 * repeat  # every run of every cell keeps its logs
    assert (tmp_path / "report.md").read_text().startswith("# Worker-model matrix report")
    for chart in ("throughput.png", "latency.png", "fidelity.png", "heartbeat.png", "cpu.png"):
        assert (tmp_path / chart).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.integration
@pytest.mark.timing
def test_offload_cells_start_and_reap_their_backends(tmp_path, redis_server):
    """make demo's backend comparison: the pool cell, then the Celery cell with its own
    redis-server and Celery worker, every process reaped. (``redis_server`` only makes the
    test skip, or fail under CI, where redis-server is missing.)"""
    _run_matrix("--quick", "--scenarios", "offload", "--models", "gevent",
                "--warmup", "0.5", "--duration", "2", "--out", str(tmp_path))
    rows = json.loads((tmp_path / "results.json").read_text())["cells"]
    assert [(r["offload"], r["celery"]) for r in rows] == [
        ("pool", None), ("celery", {"pool": "prefork", "concurrency": 2, "processes": 1})]
    pool, celery = rows
    assert pool["offload_cpu_pct"] is None and celery["offload_cpu_pct"] > 50
    assert celery["server_cpu_pct"] < 50 < pool["server_cpu_pct"]  # the work left gunicorn
    for row in rows:
        assert row["failures"] == 0 and row["requests"] > 0 and row["fidelity"] > 0
    cell_dir = next((tmp_path / "cells").glob("*celery*"))
    assert "ready." in (cell_dir / "celery-1.log").read_text()
    assert "### Offload backends" in (tmp_path / "report.md").read_text()


def test_locustfile_default_n_is_the_quick_fixture_prime():
    # Importing locust would monkey-patch this test process, so read the source instead.
    from webapp.work.primes import QUICK_PRIME

    source = (ROOT / "loadtests" / "load" / "locustfile.py").read_text()
    assert f"DEFAULT_PRIME_N = {QUICK_PRIME}\n" in source


def test_the_runner_reads_the_messages_the_locustfile_logs():
    from loadtests.load import locustrun

    source = (ROOT / "loadtests" / "load" / "locustfile.py").read_text()
    for name in ("RESET_MESSAGE", "WORK_ROW", "DB_WAIT_ROW"):
        assert f'{name} = "{getattr(locustrun, name)}"\n' in source


def test_hub_reports_counts_lines_inside_the_window():
    log = "\n".join([
        "[x] [1] [WARNING] hub blocked: at=100.050 threshold=0.1s greenlet=<g>",
        "[x] [1] [WARNING] hub blocked: at=101.000 threshold=0.1s greenlet=<g>",
        "[x] [1] [INFO] worker ready: model=gevent",
        "[x] [1] [WARNING] hub blocked: at=105.500 threshold=0.1s greenlet=<g>",
    ])
    gevent = MONITORS["gevent"]
    assert gevent.blocked(log, 100.0, 102.0) == (2, pytest.approx(0.2))
    assert gevent.blocked(log, 102.0, 105.0) == (0, 0.0)


def test_asyncio_reports_carry_their_own_duration():
    log = "\n".join([
        "[x] [1] [WARNING] loop blocked: at=100.500 duration=0.412 callback=<Task>",
        "[x] [1] [WARNING] loop blocked: at=101.500 duration=1.250 callback=<Task>",
        "[x] [1] [WARNING] hub blocked: at=101.000 threshold=0.1s greenlet=<g>",
        "[x] [1] [WARNING] loop blocked: at=109.000 duration=0.300 callback=<Task>",
    ])
    assert MONITORS["asgi"].blocked(log, 100.0, 102.0) == (2, pytest.approx(1.662))


def test_a_missing_redis_skips_celery_cells_or_fails_under_ci(tmp_path):
    """Without redis-server: one line that says how to install it; the Celery cells are
    skipped -- except under CI=true, where the run fails before it starts."""
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    args = ("--quick", "--scenarios", "offload", "--models", "gevent", "--warmup", "0.5",
            "--duration", "1", "--out", str(tmp_path / "out"))
    ci = _matrix(*args, env={**env, "CI": "true"})
    output = ci.communicate(timeout=60)[0]
    assert ci.returncode == 2
    assert "redis-server not found: install it with `sudo apt-get install redis-server`" in output
    assert "CI=true" in output and "Traceback" not in output
    local = _matrix(*args, env={**env, "CI": "false"})
    output = local.communicate(timeout=300)[0]
    assert local.returncode == 0, output
    assert "skipping 1 cell(s): redis-server not found" in output
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["cells"]
    assert [(r["scenario"], r["offload"]) for r in rows] == [("offload", "pool")]


@pytest.mark.integration
@pytest.mark.timing
def test_slow_clients_direct_and_behind_nginx_end_to_end(tmp_path, nginx_in_front):
    """make demo's direct-vs-proxy pair: sync -w1 beside 5 slowloris connections, then the same
    behind the lab's nginx; every process (nginx's too) reaped. (``nginx_in_front`` only makes
    the test skip, or fail under CI, where nginx is missing.)"""
    _run_matrix("--quick", "--scenarios", "slowclients", "--models", "sync",
                "--out", str(tmp_path))
    assert next((tmp_path / "cells").glob("*nginx*/nginx.log")).exists()  # it ran, and is gone
    direct, behind = json.loads((tmp_path / "results.json").read_text())["cells"]
    assert (direct["proxy"], behind["proxy"]) == (None, "nginx")
    assert direct["slow_clients"] == behind["slow_clients"] == 5
    # direct: the one worker reads a slow header, every heartbeat times out (2 s)
    assert direct["heartbeat_failures"] == direct["heartbeat_requests"] > 0
    # behind nginx: every heartbeat answered
    assert behind["heartbeat_failures"] == 0 and behind["heartbeat_requests"] > 10
    assert "### Slow clients" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "slowclients.png").read_bytes()[:4] == b"\x89PNG"
