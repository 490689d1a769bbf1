"""The slow-client watch (the full preset's observation), one real case of each kind.

The whole watch runs for 40 s (past gunicorn's worker timeout); these cases end in seconds
and run the same functions the observation runs, on real servers and a real nginx.
"""

from __future__ import annotations

import pytest

from loadtests.lessons.observing import slowclients

pytestmark = pytest.mark.integration


def test_a_slow_header_on_gevent_is_ended_by_its_keepalive():
    label, spec, k = slowclients.GEVENT
    row = slowclients.watch_one(label, spec, k, "direct")
    assert row["kind"] == "header" and row["slow_clients"] == k
    assert row["ended_by"] == "gunicorn's keepalive" and 1.5 < row["held_s"] < 10, row
    assert row["health_during"].startswith("200 in")
    assert row["health_after"].startswith("200 in")


def test_a_slow_reader_holds_sync_unless_nginx_buffers_it(nginx_in_front):
    """(``nginx_in_front`` only makes the test skip, or fail under CI, where nginx is missing.)"""
    label, spec, k = slowclients.SYNC
    row = slowclients.watch_reader(label, spec, k, "nginx", "")
    assert row["kind"] == "reader" and row["front"] == "nginx"
    assert row["health_during"].startswith("200 in"), row
    direct = slowclients.watch_reader(label, spec, k, "direct", "")
    assert direct["health_during"] == "no answer in 2 s", direct
