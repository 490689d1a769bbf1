"""The database behind ``/db``: a real PostgreSQL of the tests' own, every driver under every
model, and its faults as 503 JSON -- never a 500, never a hung worker."""

from __future__ import annotations

import threading

import pytest

from loadtests.load.client import get, get_many
from loadtests.servers import MODELS, GunicornServer, ServerSpec
from loadtests.services.postgres import ROWS, PostgresServer
from webapp.db import DRIVERS

from .helpers import alive, wait_for


def db_spec(model: str, url: str, driver: str = "psycopg", workers: int = 1,
            **env: str) -> ServerSpec:
    return ServerSpec(model, workers=workers, threads=4 if model == "gthread" else 1,
                      env=(("DATABASE_URL", url), ("DB_DRIVER", driver),
                           *((k, str(v)) for k, v in env.items())))


# -- through Flask's test client: the parameters are refused before any connection ---------

@pytest.mark.parametrize("query", ["/db?ms=-1", "/db?ms=abc", "/db?ms=5001", "/db?ms=1.5",
                                   "/db?sync=2", "/db/rows?n=0", "/db/rows?n=10001",
                                   "/db/rows?n=x"])
def test_bad_parameters_are_400_json(client, query):
    response = client.get(query)
    assert response.status_code == 400
    assert response.get_json()["status"] == 400


def test_no_database_configured_is_503_json(client, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    response = client.get("/db?ms=1")
    assert response.status_code == 503
    assert "DATABASE_URL" in response.get_json()["error"]


# -- the service -----------------------------------------------------------------------------

@pytest.mark.integration
def test_the_lab_cluster_serves_its_seeded_table_and_leaves_nothing(tmp_path):
    server = PostgresServer(max_connections=7)
    with server:
        import psycopg

        folder, procs = server.folder, server.processes()
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == ROWS
            assert conn.execute("SHOW max_connections").fetchone()[0] == "7"
            assert conn.execute("SELECT current_user").fetchone()[0] == "lab"
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = 'lab'"
                                ).fetchone()[0] is False
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert folder.is_dir() and len(procs) >= 3  # postmaster, checkpointer, writers...
    assert not alive(procs)
    assert not folder.exists()


# -- every driver under every model ------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("model", MODELS)
def test_every_driver_answers_under_every_model(serve, postgres, model, driver):
    server = serve(db_spec(model, postgres.url, driver))
    slept = get(f"{server.url}/db?ms=20")
    assert slept.status == 200, slept.body
    body = slept.body
    assert body["ms"] == 20 and 0.02 <= body["elapsed"] <= body["wall"]
    assert body["driver"] == ("psycopg (async)" if model == "asgi" else driver)
    assert body["pool_wait"] >= 0 and body["pool_size"] == 10
    rows = get(f"{server.url}/db/rows?n=5").body
    assert [row["id"] for row in rows["rows"]] == [1, 2, 3, 4, 5]
    assert rows["rows"][0] == {"id": 1, "name": "item 1", "price": 0.1}
    if model == "asgi":  # the blocking driver inside the coroutine answers too
        blocking = get(f"{server.url}/db?ms=5&sync=1").body
        assert blocking["driver"] == driver


@pytest.mark.integration
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_an_exhausted_pool_is_503_naming_it_after_its_timeout(postgres, driver):
    spec = db_spec("gthread", postgres.url, driver, DB_POOL_SIZE=1, DB_POOL_TIMEOUT=0.5)
    with GunicornServer(spec) as server:
        _, replies = get_many([f"{server.url}/db?ms=2000", f"{server.url}/db?ms=2000"])
    statuses = sorted(r.status for r in replies)
    assert statuses == [200, 503], [r.body for r in replies]
    error = next(r.body["error"] for r in replies if r.status == 503)
    assert "pool exhausted" in error and "all 1 connections" in error and driver in error


@pytest.mark.integration
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_too_many_clients_is_503_json(driver):
    """Two workers with pools of 4 against a cluster that lets the app open 3 (6 minus the
    superuser's 3 reserved slots): what does not fit is a 503 saying so."""
    with PostgresServer(max_connections=6) as db, GunicornServer(db_spec(
            "gthread", db.url, driver, workers=2, DB_POOL_SIZE=4, DB_POOL_TIMEOUT=1)) as server:
        _, replies = get_many([f"{server.url}/db?ms=1500"] * 8)
    statuses = [r.status for r in replies]
    assert set(statuses) == {200, 503}, statuses  # each one answered or refused, nothing lost
    errors = {r.body["error"] for r in replies if r.status == 503}
    assert all("database unavailable" in e for e in errors), errors
    assert any("too many clients" in e or "remaining connection slots" in e for e in errors), \
        errors


@pytest.mark.integration
@pytest.mark.parametrize(("model", "driver"), [("gthread", "psycopg"), ("gevent", "psycopg"),
                                               ("asgi", "psycopg"), ("gthread", "psycopg2")])
def test_a_database_stopped_mid_load_is_503_and_comes_back_without_a_restart(model, driver):
    """Four clients keep asking while PostgreSQL stops and starts again: every answer is a
    200 or a 503 JSON (never a 500 or a hang), and the pools reconnect by themselves."""
    with PostgresServer() as db, GunicornServer(db_spec(model, db.url, driver)) as server:
        assert get(f"{server.url}/db?ms=1").status == 200
        workers = {p.pid for p in server.processes()}
        replies, done = [], threading.Event()

        def load():
            while not done.is_set():
                replies.append(get(f"{server.url}/db?ms=20", timeout=10))

        clients = [threading.Thread(target=load) for _ in range(4)]
        for client in clients:
            client.start()
        try:
            wait_for(lambda: len(replies) > 8, 10, "the load runs")
            db.stop_server()
            wait_for(lambda: any(r.status == 503 for r in replies), 15, "a 503 while it is down")
            assert get(f"{server.url}/health").status == 200  # never touches the database
            db.serve_again()
            seen = len(replies)
            wait_for(lambda: sum(r.status == 200 for r in replies[seen:]) >= 8, 20,
                     "the pools reconnected")
            assert {p.pid for p in server.processes()} == workers  # no worker restarted
        finally:
            done.set()
            for client in clients:
                client.join(timeout=15)
    statuses = {r.status for r in replies}
    assert statuses == {200, 503}, statuses
    errors = {r.body["error"] for r in replies if r.status == 503}
    assert all("database unavailable" in e for e in errors), errors


@pytest.mark.integration
@pytest.mark.timing
def test_releasing_the_gil_is_not_yielding_under_gevent(postgres, serve):
    """Five concurrent 0.2 s queries on one gevent worker: psycopg2 runs them one after
    another (it waits in libpq without yielding to the hub, and /health waits too);
    psycogreen and psycopg 3 overlap them. Interleaved, as ratios of one run."""
    servers = {d: serve(db_spec("gevent", postgres.url, d)) for d in DRIVERS}
    walls: dict[str, list[float]] = {d: [] for d in DRIVERS}
    for _ in range(2):
        for driver, server in servers.items():
            get(f"{server.url}/db?ms=1")  # the pool is open
            wall, replies = get_many([f"{server.url}/db?ms=200"] * 5)
            assert all(r.status == 200 for r in replies)
            walls[driver].append(wall)
    psycopg3, plain, green = (min(walls[d]) for d in DRIVERS)
    assert plain >= 0.9  # 5 × 0.2 s, one at a time
    assert plain > 2.5 * green and plain > 2.5 * psycopg3
    # and while psycopg2 waits, the worker cannot even answer its heartbeat
    health = _health_beside_queries(servers["psycopg2"].url, postgres.url)
    free = _health_beside_queries(servers["psycopg"].url, postgres.url)
    assert health.latency > 0.4 and free.latency < 0.25


def _sleeping(url: str) -> int:
    """Queries in ``pg_sleep`` right now (``pg_stat_activity``), this one aside."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()").fetchone()[0]


def _health_beside_queries(url: str, database_url: str):
    """Two 0.8 s queries on the worker; once one of them is in PostgreSQL (not before: a
    /health sent with them could be answered before they start), /health: its reply."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        queries = [pool.submit(get, f"{url}/db?ms=800") for _ in range(2)]
        wait_for(lambda: _sleeping(database_url) >= 1, 10, "no query reached PostgreSQL")
        health = get(f"{url}/health")
        assert all(query.result().status == 200 for query in queries)
    return health


def test_a_pool_timeout_is_exhausted_only_when_its_requests_hold_every_connection():
    """psycopg_pool's PoolTimeout told apart by the connections this process's requests
    hold: all of them lent is an exhausted pool; fewer, with the server accepting again, is a
    pool still reconnecting -- once seen as "exhausted" in CI, with 4 requests and a pool of
    10, because psycopg_pool's pool_size counts the connections it is still opening."""
    from webapp.db import Lent, Settings, timed_out

    settings = Settings({"DATABASE_URL": "postgresql://x@127.0.0.1:1/x", "DB_POOL_SIZE": "4"})
    lent = Lent()
    with lent, lent, lent:
        assert "reconnecting" in str(timed_out(settings, 2.0, None, lent.count))
        with lent:
            assert "exhausted" in str(timed_out(settings, 2.0, None, lent.count))
    assert lent.count == 0
    refused = timed_out(settings, 2.0, RuntimeError("too many clients"), 4)
    assert "database unavailable" in str(refused) and "too many clients" in str(refused)
