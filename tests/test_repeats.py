"""Repeats: aggregating a cell's runs, classifying the spread, and the fidelity figure."""

import json

import pytest

from loadtests.matrix.charts import fidelity
from loadtests.matrix.parts.heartbeat import at_most
from loadtests.matrix.repeats import aggregate, spread, verdict
from loadtests.matrix.report import render_markdown
from loadtests.servers import ROOT

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests

BAND = (0.85, 1.05)


def _run(rps, fid, beat=None, **extra):
    return {"scenario": "cpu", "label": "sync -w1", "rps": rps, "fidelity": fid,
            "heartbeat_p99_ms": beat, "p50_ms": rps * 100, **extra}


def test_aggregate_takes_medians_and_keeps_the_median_runs_other_numbers():
    row = aggregate([_run(4.0, 0.8, 300), _run(5.0, 1.0, 100), _run(4.5, 0.9, 200)])
    assert row["repeats"] == 3
    assert (row["rps"], row["rps_min"], row["rps_max"]) == (4.5, 4.0, 5.0)
    assert (row["fidelity"], row["fidelity_min"], row["fidelity_max"]) == (0.9, 0.8, 1.0)
    assert (row["heartbeat_p99_ms"], row["heartbeat_p99_ms_min"]) == (200, 100)
    assert row["p50_ms"] == 450  # from the median-rps run


def test_aggregate_of_an_even_count_is_the_middle_value():
    row = aggregate([_run(4.0, 0.8), _run(6.0, 1.0)])
    assert row["rps"] == 5.0 and row["fidelity"] == pytest.approx(0.9)
    assert row["p50_ms"] == 400  # the lower of the two middle runs supplies the rest


def test_aggregate_skips_failed_runs_and_keeps_an_all_failed_cell_as_an_error():
    error = {"scenario": "cpu", "label": "sync -w1", "users": 8, "error": "boom"}
    assert aggregate([error, _run(5.0, 0.95)])["repeats"] == 1
    assert aggregate([error, error]) is error


def test_aggregate_of_one_run_is_that_run():
    row = aggregate([_run(5.0, 0.95)])
    assert row["repeats"] == 1 and spread(row, "fidelity") == "0.95"


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.90, 1.00, "in band"), (0.85, 1.05, "in band"),
    (0.60, 0.70, "finding"), (1.10, 1.30, "finding"),
    (0.80, 0.95, "noise"), (1.00, 1.10, "noise"), (0.70, 1.20, "noise"),
])
def test_verdict_classifies_the_spread(low, high, expected):
    row = {"fidelity": (low + high) / 2, "fidelity_min": low, "fidelity_max": high}
    assert verdict(row, BAND) == expected


def test_verdict_without_a_bound():
    assert verdict({"fidelity": None}, BAND) == "no bound"


def test_report_says_how_many_runs_back_each_number_and_marks_noise():
    results = json.loads((ROOT / "docs" / "sample" / "quick" / "results.json").read_text())
    results["settings"]["repeat"] = 2
    first = results["cells"][0]
    first.update(repeats=2, fidelity=0.9, fidelity_min=0.8, fidelity_max=1.0, rps=18.0,
                 rps_min=16.0, rps_max=20.0)
    text = render_markdown(results, [])
    assert "Each cell ran 2 times" in text
    assert "| 18.0 (16.0–20.0) |" in text and "0.90 (0.80–1.00)" in text
    assert "noise, not a finding" in text


def test_fidelity_figure(tmp_path):
    rows = [_run(5.0, 0.95, fidelity_min=0.9, fidelity_max=1.0, repeats=2),
            _run(2.0, 0.5), {"scenario": "mixed", "label": "x", "rps": 1.0, "fidelity": None}]
    assert fidelity(rows, tmp_path, BAND) == ["fidelity.png"]
    assert (tmp_path / "fidelity.png").read_bytes()[:4] == b"\x89PNG"
    assert fidelity([rows[2]], tmp_path, BAND) == []  # nothing to judge, no figure


def test_the_heartbeats_numbers_over_repeats_keep_their_order():
    """Each of p50, p99 and max is a median over the runs, so p50 ≤ p99 ≤ max holds for the
    row as for every run (the full sample's reuse_port row, made before: p99 1402, the
    median of 3 and 2800, beside one run's max of 5)."""
    runs = [{"rps": 6.0, "heartbeat_p50_ms": 1.0, "heartbeat_p99_ms": 3.0,
             "heartbeat_max_ms": 5.0},
            {"rps": 7.0, "heartbeat_p50_ms": 2.0, "heartbeat_p99_ms": 2800.0,
             "heartbeat_max_ms": 2900.0}]
    row = aggregate(runs)
    assert row["heartbeat_p50_ms"] <= row["heartbeat_p99_ms"] <= row["heartbeat_max_ms"]
    assert (row["heartbeat_p99_ms_min"], row["heartbeat_p99_ms_max"]) == (3.0, 2800.0)


def test_a_locust_percentile_is_kept_at_most_the_exact_max():
    """Locust rounds a 685 ms p99 to its 690 ms bucket; its max is exact."""
    assert at_most(690.0, 680.0) == 680.0
    assert (at_most(5.0, None), at_most(None, 3.0), at_most(2.0, 3.0)) == (5.0, None, 2.0)
