"""The twin beside each cell's bound (``loadtests/matrix/twin.py``): which cells it models,
and its rate where queueing has the exact answer; the report's section from a sample's
rows."""

from __future__ import annotations

import pytest

from loadtests.matrix.twin import modelled, predict, section

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests

SETTINGS = {"delay_s": 0.1, "fidelity_band": [0.85, 1.05]}


def _row(**fields) -> dict:
    row = {"scenario": "io", "label": "sync -w2", "worker_class": "sync", "workers": 2,
           "threads": 1, "worker_connections": 1000, "cpu_count": 2, "users": 100,
           "rps": 19.0, "bound_rps": 20.0, "server_cpu_ms_per_request": 1.0,
           "service_time_ms": None, "server": "gunicorn", "switch_interval": None}
    return row | fields


def test_waiting_work_is_the_slots_over_the_delay_and_a_check_one_core_per_process():
    """sync -w2 with 100 users of 0.1 s waits (and 1 ms of Python): 2 ÷ 0.101 s; sync -w1
    with 8 users of 28 ms checks: 1 ÷ 28 ms; a heartbeat cell's one heartbeat user is not
    one of its CPU users (2 users: the one CPU user alone, 1 ÷ 28 ms still)."""
    assert predict(_row(), SETTINGS["delay_s"]) == pytest.approx(2 / 0.101, rel=0.02)
    cpu = _row(scenario="cpu", label="sync -w1", workers=1, users=8, bound_rps=35.7,
               service_time_ms=28.0)
    assert predict(cpu, 0.1) == pytest.approx(1 / 0.028, rel=0.02)
    beat = cpu | {"scenario": "heartbeat", "users": 2}
    assert predict(beat, 0.1) == pytest.approx(1 / 0.028, rel=0.02)


@pytest.mark.parametrize("fields", [{"scenario": "offload"}, {"scenario": "nap"},
                                    {"server": "uvicorn"}, {"switch_interval": 0.0005},
                                    {"pin_cores": [0]}, {"bound_rps": None},
                                    {"error": "boom"}, {"scenario": "cpu"}])
def test_the_twin_says_nothing_where_it_does_not_model_the_cell(fields):
    assert not modelled(_row(**fields)) and predict(_row(**fields), 0.1) is None


def test_the_section_lists_each_modelled_cell_and_names_those_below_the_band():
    slow = _row(label="gthread -w2 --threads 8", worker_class="gthread", threads=8,
                rps=100.0, bound_rps=160.0)
    lines = section([_row(), slow, _row(scenario="offload")], SETTINGS)
    table = [line for line in lines if line.startswith("| io ")]
    assert len(table) == 2 and "| 19.0 | 20.0 | 0.95 |" in table[0]
    assert "io gthread -w2 --threads 8 (0.62)" in "\n".join(lines)
    assert section([_row(scenario="offload")], SETTINGS) == []
