"""The matrix: its presets and cell selection, its runner end to end, and what the runner
reads (the loop watchdogs' reports, the locustfile's names)."""

import json
import os

import pytest

from loadtests.lessons import SCENARIO
from loadtests.matrix import presets
from loadtests.matrix.command import select_cells
from loadtests.matrix.monitors import MONITORS
from loadtests.matrix.result import DEFAULTS, SCHEMA
from loadtests.servers import ServerSpec

from .helpers import matrix_process, run_matrix

S = ServerSpec
QUICK_CELLS, FULL_CELLS = presets.cells("quick"), presets.cells("full")


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


@pytest.mark.integration
def test_the_backends_watch_alone_measures_each_backend_and_reaps_it(tmp_path, redis_server):
    """The full preset's backends' watch as ``--no-cells --backends`` runs it: a row per
    backend (Celery's with its own redis-server and worker), its chart, and no process left.
    Its round trips are the committed samples' to judge; here, that each was measured.
    (``redis_server`` only makes the test skip, or fail under CI, where redis-server is
    missing.)"""
    run_matrix("--no-cells", "--backends", "--out", str(tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["cells"] == []
    rows = results["backends"]
    assert [r["backend"] for r in rows] == ["pool", "celery", "dirty"]
    assert all(r["calls"] > 0 and 0 < r["p50_ms"] <= r["p99_ms"] for r in rows), rows
    celery = rows[1]
    assert celery["processes"] > celery["gunicorn_processes"]  # its broker and worker too
    assert (tmp_path / "offload-backends.png").read_bytes()[:4] == b"\x89PNG"
    assert "### Offload backends" in (tmp_path / "report.md").read_text()


@pytest.mark.integration
@pytest.mark.timing
def test_tiny_matrix_end_to_end(tmp_path):
    """Two cells, each run twice (the repeat path), with two Locust processes: the whole
    command, its results.json (this schema, every field), report and charts, and no process
    left."""
    # The full preset, without its observations: each has a test of its own (the backends'
    # watch above; the slow-client and server-reader watches: test_slowwatch.py; the
    # spinner's: test_endpoints.py; the tracer's cost: test_timeline.py).
    run_matrix("--full", "--no-spinner", "--no-slowwatch", "--no-trace-overhead",
               "--no-backends", "--no-server-readers", "--scenarios", "heartbeat",
               "--models", "sync", "--users", "1", "--repeat", "2", "--warmup", "0.5",
               "--duration", "1.5", "--locust-processes", "2", "--out", str(tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["schema"] == SCHEMA
    assert results["backends"] == results["servers"] == []
    assert {"cpu_count", "python", "platform", "versions"} <= results["machine"].keys()
    assert {"gunicorn", "gevent", "locust"} <= results["machine"]["versions"].keys()
    cells = results["cells"]
    assert [(c["worker_class"], c["workers"]) for c in cells] == [("sync", 1), ("sync", 2)]
    for cell in cells:
        assert cell.keys() >= DEFAULTS.keys()
        assert cell["failures"] == 0
        assert cell["requests"] > 0 and cell["heartbeat_p99_ms"] is not None
        assert cell["repeats"] == 2 and cell["locust_processes"] == 2
        # medians with their min–max over the runs
        assert cell["fidelity_min"] <= cell["fidelity"] <= cell["fidelity_max"]
        assert cell["rps_min"] <= cell["rps"] <= cell["rps_max"]
        # a CPU cell is judged by Little's law: its users over their mean response time
        assert cell["fidelity_of"] == "little"
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
    assert len(runs) == 2 * 2  # every run of every cell keeps its logs
    assert (tmp_path / "report.md").read_text().startswith("# Worker-model matrix report")
    for chart in ("throughput.png", "latency.png", "fidelity.png", "heartbeat.png", "cpu.png"):
        assert (tmp_path / chart).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.integration
@pytest.mark.timing
def test_offload_cells_start_and_reap_their_backends(tmp_path, redis_server):
    """make demo's backend comparison: the pool cell, then the Celery cell with its own
    redis-server and Celery worker, every process reaped. (``redis_server`` only makes the
    test skip, or fail under CI, where redis-server is missing.)"""
    run_matrix("--quick", "--scenarios", "offload", "--models", "gevent",
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


def test_the_locustfiles_default_n_is_the_quick_fixture_prime():
    from loadtests.load.wire import DEFAULT_PRIME_N
    from webapp.work.primes import QUICK_PRIME

    assert DEFAULT_PRIME_N == QUICK_PRIME


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
    ci = matrix_process(*args, env={**env, "CI": "true"})
    output = ci.communicate(timeout=60)[0]
    assert ci.returncode == 2
    assert "redis-server not found: install it with `sudo apt-get install redis-server`" in output
    assert "CI=true" in output and "Traceback" not in output
    local = matrix_process(*args, env={**env, "CI": "false"})
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
    run_matrix("--quick", "--scenarios", "slowclients", "--models", "sync",
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
