"""The advisor on apps that wait in a real PostgreSQL: a driver that does not yield to
gevent's hub is found and not advised; a database limit and a pool that does not keep its
connections are named. (None of it rests on a rate: the stall is 4 requests' wall against
one's, 4 × R against R; the limit is a count of connections -- so these run with the tests
that time nothing.)"""

from __future__ import annotations

import pytest

from loadtests.advise.dbwatch import DbWatch
from loadtests.advise.profile import profile_paths, serves_under
from loadtests.advise.stall import CONCURRENT, overlap
from loadtests.advise.target import resolve
from loadtests.servers import ROOT
from loadtests.services.postgres import PostgresServer

from .helpers import advise, wait_for


def test_overlap_sits_between_one_after_another_and_overlapped_waits():
    r, s = 0.1, 0.01
    serial, overlapped = CONCURRENT * r, (r - s) + CONCURRENT * s
    assert overlap(serial, r, s) == 0 and overlap(overlapped, r, s) == 1
    assert overlap((serial + overlapped) / 2, r, s) == pytest.approx(0.5)
    assert overlap(0.05, r, s) == 1 and overlap(9.0, r, s) == 0  # clipped
    assert overlap(0.3, 0.1, 0.1) == 1  # all CPU: nothing to overlap


@pytest.mark.integration
def test_the_watch_counts_the_apps_connections_and_the_servers_budget(postgres):
    import psycopg

    with DbWatch(postgres.url) as watch:
        held = [psycopg.connect(postgres.url) for _ in range(3)]
        wait_for(lambda: watch.peak >= 3, 5, "the watch's sample", fail=None)
        for conn in held:
            conn.close()
    assert watch.result.peak >= 3
    assert watch.result.max_connections == 100 and watch.result.allowed == 97
    with DbWatch("") as nothing:
        pass
    assert nothing.result is None


@pytest.mark.integration
@pytest.mark.parametrize(("example", "yields"), [("orders_psycopg2", False),
                                                 ("orders_psycopg", True)])
def test_the_stall_probe_tells_a_driver_that_yields_from_one_that_does_not(
        postgres, monkeypatch, example, yields):
    """The advisor's own step, on each example: psycopg2 holds the gevent worker for each
    query (4 at once take 4 × R), psycopg 3 does not (they take about one R)."""
    monkeypatch.setenv("DATABASE_URL", postgres.url)
    target = resolve(f"examples.{example}:app", ["/orders/42"], str(ROOT))
    profiles, _ = profile_paths(target, window_s=0.5, timeout=10)
    served = serves_under(target, "gevent", timeout=10, profiles=tuple(profiles))
    if yields:
        assert isinstance(served, tuple), served  # the worker's memory: gevent serves it
    else:
        assert "does not yield to gevent's hub" in served and "psycopg2" in served, served


@pytest.mark.integration
def test_psycopg2_is_not_advised_under_gevent_and_its_churn_and_limit_are_named(tmp_path):
    """One advice on the psycopg2 example against max_connections=40 (37 for the app), which
    psycopg2 pools of up to 40 per worker outgrow: gthread -w2 with 38 threads and 50 users
    would open 50. (The issue's max_connections=60 leaves 57, more than 50 users ever hold
    at once: measured, 50 at the peak.) gevent is left out, the pool's churn is named, and so
    is the database's limit where a configuration ran into it."""
    with PostgresServer(max_connections=40) as db:
        advice = advise("examples.orders_psycopg2:app", db.url, tmp_path)
    why = advice["excluded_models"].get("gevent", "")
    assert "does not yield to gevent's hub" in why and "psycopg2" in why, \
        advice["excluded_models"]
    reasons = advice["recommended"]["reasons"]
    assert advice["recommended"]["worker_class"] != "gevent"
    assert "Not advised, gevent" in reasons
    # psycopg2's pool keeps one idle connection (minconn=1): most requests connect anew
    assert "new database connections for" in reasons
    short = [c for c in advice["candidates"]
             if c["measurement"] and c["measurement"]["db"]
             and c["measurement"]["db"]["peak"] >= c["measurement"]["db"]["allowed"] - 1]
    assert short, [c["measurement"] for c in advice["candidates"] if c["measurement"]]
    assert "all the server allows (max_connections 40, 3 kept for superusers)" in reasons


@pytest.mark.integration
def test_the_database_budget_refuses_what_would_hold_more_connections(postgres):
    """The goal's plan for 8 cores against the lab cluster (max_connections 100, 3 kept for
    superusers: 97 for the app): a configuration that may hold more connections than that --
    workers × threads (or greenlets), or workers × the app's pool -- is refused, and the
    advice says how many fit."""
    from loadtests.advise.dbwatch import budget
    from loadtests.advise.forgoal import database_text
    from loadtests.advise.goal import plan
    from loadtests.advise.predict import Profile
    from loadtests.model.goal import Goal

    db = budget(postgres.url)
    assert (db.max_connections, db.allowed) == (100, 97)
    profile = Profile(0.1, 0.002, {"sync": (30.0, 15.0), "gthread": (30.5, 15.5),
                                   "gevent": (35.0, 20.0)})
    goal = Goal(300, p99_s=0.2)
    plans = {p.candidate.label: p for p in plan(profile, goal, cores=8, kind="wsgi", db=db)}
    for p in plans.values():
        assert p.over_db == (p.db_connections > 97) and not (p.over_db and p.meets)
    assert plans["gthread -w8 --threads 64"].db_connections == 512
    assert plans["gthread -w8 --threads 64"].over_db
    assert not plans["gthread -w1 --threads 64"].over_db  # 64 fit
    assert any(p.meets for p in plans.values())
    pooled = {p.candidate.label: p for p in plan(profile, goal, cores=8, kind="wsgi", db=db,
                                                  pool=10)}
    assert pooled["gthread -w8 --threads 64"].db_connections == 80
    assert not pooled["gthread -w8 --threads 64"].over_db
    text = database_text(list(plans.values()), db, None)
    assert "allows the app 97 connections (max_connections 100 less 3 reserved)" in text
    assert "are refused" in text and "workers × pool ≤ 97" in text
    assert budget("") is None and budget("postgresql://127.0.0.1:9/none") is None
