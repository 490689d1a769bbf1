"""wrk as the lab runs it (``loadtests/load/wrk.py``), and the balance lesson's observation
of connections opened at once (``loadtests.lessons.observing.balance.py``): a real wrk
against a real two-worker gunicorn, the split counted by psutil and by the answers."""

from __future__ import annotations

import psutil
import pytest

from loadtests.lessons.observing.balance import Case, run_case
from loadtests.servers import ServerSpec
from loadtests.services.daemon import Missing, require

from .helpers import missing


@pytest.fixture(autouse=True)
def _wrk():
    try:
        require("wrk")
    except Missing as error:
        missing(error)


@pytest.mark.integration
@pytest.mark.parametrize("pool", [None, 2], ids=["direct", "nginx-pool-2"])
def test_wrks_connections_are_counted_per_worker_and_its_answers_by_pid(pool):
    """Six connections opened at once on gthread -w2 --threads 2, twice on one server:
    psutil finds all six each time, each held by one of the two workers (behind nginx with
    a pool of two, whose upstream connections come and go: at least three of them); every
    answer is counted by the pid that gave it, none in error; the twin, fed the split,
    predicts a rate; and wrk is gone afterwards. Behind nginx each wrk run lasts 2 s: its
    split is a moment's, seen only while wrk runs, and in make test's first pass (seven
    lanes on two cores) no poll in a 1 s run once saw three."""
    case = Case("gthread -w2 --threads 2", ServerSpec("gthread", workers=2, threads=2),
                "/io?delay=0.02", 0.02, 6, pool=pool)
    before = _wrks()
    rows = run_case(case, seconds=1 if pool is None else 2, runs=2)
    assert [row["run"] for row in rows] == [1, 2]
    for row in rows:
        assert (sum(row["split"]) == 6 if pool is None else sum(row["split"]) >= 3)
        assert len(row["split"]) == 2 and row["split"] == sorted(row["split"], reverse=True)
        assert sum(row["answers"]) == row["requests"] > 20 and row["errors"] == 0
        assert row["rps"] > 0 and row["bound_rps"] > 0 and row["predicted_rps"] > 0
    assert _wrks() <= before


def _wrks() -> set[int]:
    """The pids of the wrk processes running (one that exits while listed is skipped: with
    its name asked for up front, psutil passes over a process gone before it is read)."""
    return {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "wrk"}
