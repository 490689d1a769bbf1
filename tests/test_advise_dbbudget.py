"""The advisor against a PostgreSQL that runs out of connections: the limit is named.

(Its own file, so that ``make test``'s parallel pass runs it beside the other database
advice, not after it.)"""

from __future__ import annotations

import pytest

from loadtests.services.postgres import PostgresServer

from .helpers import advise


@pytest.mark.integration
def test_a_configuration_that_runs_out_of_connections_is_told_why(tmp_path):
    """psycopg2 pools of up to 40 per worker against max_connections=40 (37 for the app):
    gthread -w2 with 38 threads and 50 users would open 50. (The issue's max_connections=60
    leaves 57, more than 50 users ever hold at once: measured, 50 at the peak.)"""
    with PostgresServer(max_connections=40) as db:
        advice = advise("examples.orders_psycopg2:app", db.url, tmp_path)
    short = [c for c in advice["candidates"]
             if c["measurement"] and c["measurement"]["db"]
             and c["measurement"]["db"]["peak"] >= c["measurement"]["db"]["allowed"] - 1]
    assert short, [c["measurement"] for c in advice["candidates"] if c["measurement"]]
    assert "all the server allows (max_connections 40, 3 kept for superusers)" in \
        advice["recommended"]["reasons"]
