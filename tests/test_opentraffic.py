"""The open-traffic observation (``loadtests/lessons/observing/opentraffic.py``) and its
lesson's judgement (``loadtests/lessons/opentraffic.py``): every request of an open run
accounted for, the twin fed what the run measured, and the band applied as stated."""

from __future__ import annotations

import os

import pytest

from loadtests.lessons import opentraffic
from loadtests.lessons.base import Results
from loadtests.lessons.observing import opentraffic as observing


@pytest.mark.integration
def test_an_open_run_counts_every_request_and_is_predicted_from_what_it_measured(monkeypatch):
    """The database cell (gthread -w2 on /db, a PostgreSQL of its own): the floor and the
    profile, then one open run at ρ 0.5 for 2 s: every request scheduled is answered, by
    both workers (the pid split sums to 1), and the twin's p50 sits above the delay, as a
    request that waits DELAY_S in PostgreSQL must. The twin waits what the profile's
    answers took in the database (their ``wall``), which ``pg_sleep`` makes no shorter than
    the delay, and the capacity is counted with that wait. (Not compared with the run's
    own latency: the profile is another moment, and in make test's first pass its median
    once measured 28.7 ms where the run's p50 was 24.4.)"""
    monkeypatch.setattr(observing, "PROFILE", (40.0, 1.0))
    monkeypatch.setattr(observing, "FLOOR", (50.0, 1.0))
    [model] = observing.WORKLOADS["db"].runs()
    [row] = observing.run_one(*model, (0.5,), 2.0, scenario="db")
    assert row["path"] == "/db?ms=20" and row["label"] == "gthread -w2 --threads 4"
    lost = row["failed"] + row["timed_out"] + row["dropped"]
    assert row["answered"] == row["scheduled"] == round(row["rate_rps"] * 2.0) and lost == 0
    assert len(row["shares"]) == 2 and sum(row["shares"]) == pytest.approx(1)
    assert row["cpu_ms"] > 0 and row["outside_ms"] > 0  # /health's latency past its CPU
    assert row["utilisation"] == pytest.approx(
        row["rate_rps"] / row["capacity_rps"])
    assert row["wait_ms"] > observing.DELAY_S * 1000  # pg_sleep is never short
    assert row["capacity_rps"] == pytest.approx(observing.capacity(
        observing.twin_of(observing.WORKLOADS["db"].runs()[0][1]), row["cpu_ms"] / 1000,
        row["wait_ms"] / 1000))
    assert row["wait_ms"] < row["predicted_p50_ms"] <= row["predicted_p99_ms"]
    # beside it, the twin fed the delay asked for (its runs' split drawn anew: not compared)
    assert observing.DELAY_S * 1000 < row["asked_p50_ms"] <= row["asked_p99_ms"]
    assert observing.DELAY_S * 1000 < row["p50_ms"] <= row["p99_ms"]
    assert row["steal_ms"] >= 0  # the hypervisor's share of the run, kept with the row
    assert row["lock_p50_ms"] is None  # threads: a GIL, no event loop to set a lock beside
    # two workers: /info answers from either, so the run's collections are not read
    assert row["full_collections"] is None and row["full_ms"] is None


@pytest.mark.integration
def test_a_traced_run_splits_each_mean_and_traces_every_request(monkeypatch):
    """The request-path observation on sync -w2 (a profile, then 3 s at ρ 0.2 on /prime,
    traced): every request answered is traced once, and the parts of the mean latency add up
    to it, each in its place -- the check's wall no less than its CPU, the app's span no
    less than the check, the latency no less than the app and the send lag together."""
    from loadtests.lessons.observing import requestpath

    monkeypatch.setattr(observing, "PROFILE", (40.0, 1.0))
    monkeypatch.setattr(observing, "FLOOR", (50.0, 1.0))
    monkeypatch.setattr(requestpath, "SECONDS", 3.0)
    row = requestpath.measure(*observing.MODELS[0])
    assert row["kind"] == "path" and row["label"] == "sync -w2"
    assert row["spans"] == row["answered"] == row["scheduled"] > 0
    parts = requestpath.parts(row)
    assert sum(parts.values()) == pytest.approx(row["mean_ms"])
    assert row["check_mean_ms"] >= row["check_cpu_mean_ms"] * 0.999  # HDR: 3 digits
    assert row["app_mean_ms"] >= row["check_mean_ms"] * 0.999
    assert parts["way in and back"] > 0 and parts["send lag"] > 0
    lines = requestpath.lines([row])
    assert lines[1].startswith("Where the time goes") and lines[5].startswith("| sync -w2 | ")


@pytest.mark.integration
def test_each_requests_own_cpu_is_recorded_and_replayed_three_ways(monkeypatch):
    """The service replay on asgi -w1 (3 s at ρ 0.4 on /mixed): every request's CPU comes
    back from its answer, and the twin predicts the run at the mean S, shuffled and in
    order, each with its p50 below its p99; on its event loop, and beside it with a lock in
    the loop's place."""
    from loadtests.lessons.observing import servicereplay

    monkeypatch.setattr(observing, "PROFILE", (40.0, 1.0))
    monkeypatch.setattr(observing, "FLOOR", (50.0, 1.0))
    monkeypatch.setattr(servicereplay, "SECONDS", 3.0)
    row = servicereplay.measure("asgi -w1", "mixed", 0.4)
    assert row["kind"] == "replay" and row["answered"] == row["scheduled"] > 0
    assert 0 < row["check_cpu_p50_ms"] <= row["check_cpu_p99_ms"] <= row["check_cpu_max_ms"]
    assert set(row["replayed"]) == set(servicereplay.WAYS)
    assert all(0 < way["p50_ms"] <= way["p99_ms"] for way in row["replayed"].values())
    assert row["replayed"]["mean S"]["p99_ms"] == row["predicted_p99_ms"]
    assert 0 < row["lock_p50_ms"] <= row["lock_p99_ms"]
    lines = servicereplay.lines([row])
    assert lines[1].startswith("Each request's own CPU") and lines[5].startswith("| asgi -w1")


@pytest.mark.integration
def test_one_gthread_worker_is_run_at_the_busier_of_twos_rate_beside_its_twin(monkeypatch):
    """The worker pair on /prime (2 s at ρ 0.3): gthread -w2, then gthread -w1 at the rate
    the busier of the two answered, then gthread -w2 at the first's rate with each worker
    on a core of its own (PIN_CORES=1, read from the workers while they served); every
    request answered, each run predicted, and the table and its reading say all three."""
    from loadtests.harness.machine import usable_cores
    from loadtests.lessons.observing import workerpair

    monkeypatch.setattr(observing, "PROFILE", (40.0, 1.0))
    monkeypatch.setattr(observing, "FLOOR", (50.0, 1.0))
    monkeypatch.setattr(workerpair, "SECONDS", 2.0)
    two, one, pinned = workerpair.measure("cpu", 0.3)
    assert [row["label"] for row in (two, one, pinned)] == [
        "gthread -w2 --threads 4", "gthread -w1 --threads 4", "gthread -w2 --threads 4 pinned"]
    assert one["rate_rps"] == pytest.approx(two["shares"][0] * two["rate_rps"])
    assert pinned["rate_rps"] == two["rate_rps"]
    assert two["shares"][0] >= 0.5 and one["shares"] == [1.0] and len(pinned["shares"]) == 2
    everywhere = sorted(os.sched_getaffinity(0))
    assert two["worker_cores"] == [everywhere] * 2 and one["worker_cores"] == [everywhere]
    assert sorted(pinned["worker_cores"]) == [[core] for core in everywhere[:2]]
    for row in (two, one, pinned):
        assert row["kind"] == "pair" and row["answered"] == row["scheduled"] > 0
        assert 0 < row["predicted_p50_ms"] <= row["predicted_p99_ms"]
        assert row["run_queue_ms"] >= 0 and row["cores"] == usable_cores()
    lines = workerpair.lines([two, one, pinned])
    assert lines[1].startswith("One worker against two") and lines[5].startswith("| `/prime/")
    assert "then, on `/prime/" in lines[1] and "(`PIN_CORES=1`, *pinned*)" in lines[1]
    assert "pinned" not in workerpair.lines([two, one])[1]  # an older sample's pairs
    assert lines[7].startswith("| `/prime/")
    assert " | 1 | gthread -w2 --threads 4 pinned | " in lines[7]
    assert lines[-1].startswith("Below ρ 0.8: On `/prime/")
    assert "the twin stood with two workers, p50 " in lines[-1]
    assert "; with two pinned to a core each, p50 " in lines[-1]


@pytest.mark.integration
def test_a_fresh_workers_collections_are_read_beside_its_run(monkeypatch):
    """The gc-pause run on a fresh gevent -w1 with GC_FREEZE=1 (2 s at 100/s on /io): the
    worker froze the app's objects, the collections during the run come back by
    generation, and every 20 ms sleep took at least 20 ms in the view."""
    from loadtests.lessons.observing import gcpause

    monkeypatch.setattr(observing, "PROFILE", (40.0, 1.0))
    monkeypatch.setattr(observing, "FLOOR", (50.0, 1.0))
    monkeypatch.setattr(gcpause, "SECONDS", 2.0)
    row = gcpause.measure(True, rate=100.0)
    assert row["kind"] == "gc" and row["freeze"] and row["frozen"] > 10_000
    assert row["answered"] == row["scheduled"] > 0
    assert len(row["collections"]) == 3 and all(n >= 0 for n in row["collections"])
    assert row["collections"][0] > 0  # a request allocates: the youngest are collected
    assert (row["full_ms"] > 0) == (row["collections"][2] > 0)
    assert row["elapsed_max_ms"] >= 20.0
    lines = gcpause.lines([row])
    assert lines[1].startswith("What stalls one gevent worker's loop")
    assert lines[5].startswith("| 1 | ") and lines[-1].startswith("GC_FREEZE=1: ")


def _row(p50: float, p99: float, predicted: tuple[float, float], utilisation: float) -> dict:
    return {"label": "gthread -w2 --threads 4", "utilisation": utilisation, "rate_rps": 100.0,
            "achieved_rps": 99.0,
            "answered": 800, "failed": 0, "timed_out": 0, "dropped": 0, "shares": [0.6, 0.4],
            "p50_ms": p50, "p99_ms": p99, "predicted_p50_ms": predicted[0],
            "predicted_p99_ms": predicted[1], "send_lag_p99_ms": 0.4, "delay_s": 0.02,
            "cores": 2}


def test_the_band_judges_both_percentiles_below_80_percent_and_nothing_above():
    assert opentraffic.verdict(_row(20, 40, (21, 49), 0.5)) == "in"  # 1.05 and 1.225
    assert opentraffic.verdict(_row(20, 40, (21, 51), 0.5)) == "out"  # p99 at 1.275
    assert opentraffic.verdict(_row(20, 40, (15, 40), 0.5)) == "out"  # p50 at 0.75
    assert opentraffic.verdict(_row(20, 40, (15, 90), 0.8)).startswith("not judged")
    rows = [_row(20, 40, (21, 49), 0.5), _row(20, 40, (21, 51), 0.6), _row(20, 40, (9, 9), 0.9)]
    text = opentraffic.section(Results({"settings": {}, "machine": {}, "cells": [],
                                        "opentraffic": rows}))
    assert "1 of 2 runs below ρ 0.8 fell in the band" in text
    assert text.count("| gthread -w2 --threads 4 |") == 3
    assert text.count("| 100 / 99 |") == 3  # offered / achieved


def test_the_stall_table_sets_the_open_count_beside_the_closed_one():
    """The stall's rows render apart from the runs: they are not judged by the band."""
    stall = {"kind": "stall", "stall_s": 1.0, "over_ms": 500.0, "p50_ms": 1.0,
             "p99_ms": 900.0, "max_ms": 1000.0}
    rows = [_row(20, 40, (21, 49), 0.5),
            {**stall, "mode": "open", "load": "100/s", "answered": 400, "over": 50},
            {**stall, "mode": "closed", "load": "10 users", "answered": 9000, "over": 10}]
    text = opentraffic.section(Results({"settings": {}, "machine": {}, "cells": [],
                                        "opentraffic": rows}))
    assert "1 of 1 runs below ρ 0.8 fell in the band" in text
    assert "| open, 100/s | 400 | 50 |" in text and "| closed, 10 users | 9000 | 10 |" in text


def test_open_against_closed_sets_the_percentiles_side_by_side():
    """The two runs at one throughput render as two rows, and the ratio of their p99s."""
    latency = {"p50": 21.0, "p90": 22.0, "p99": 30.0, "p99.9": 40.0, "max": 45.0}
    versus = {"kind": "versus", "label": "sync -w2", "path": "/io?delay=0.02",
              "achieved_rps": 90.0}
    rows = [{**versus, "mode": "closed", "load": "2 users", "answered": 900,
             "latency_ms": latency},
            {**versus, "mode": "open", "load": "90.0/s", "answered": 899,
             "latency_ms": {key: value * 10 for key, value in latency.items()}}]
    text = opentraffic.section(Results({"settings": {}, "machine": {}, "cells": [],
                                        "opentraffic": [_row(20, 40, (21, 49), 0.5), *rows]}))
    assert "| closed, 2 users | 900 | 90.0 | 21.0 | 22.0 | 30.0 | 40.0 | 45.0 |" in text
    assert "| open, 90.0/s | 899 | 90.0 | 210.0 |" in text
    assert "the open load's p99 is 10.0 times the closed loop's" in text


@pytest.mark.timing
def test_a_wake_up_pays_for_the_gil_and_a_short_release_mostly_does_not():
    """What the twin charges a gthread request rests on: while another thread computes, a
    3 ms sleep's wake-up waits for the GIL (a switch interval) nearly every time, and a
    ``send`` or a ``recv`` of bytes already there, 0.1 ms after the thread took the GIL,
    at most half as often: CPython takes the GIL back before the waiter it signalled wakes.
    (A busy machine only slows that waiter further; the wake-up's wait cannot shrink.)"""
    from loadtests.lessons.observing import gilhop

    rows = {(row["step"], row["gap_ms"]): row for row in gilhop.observe(trials=60)}
    assert rows["wake", 0]["paid_share"] >= 0.9
    assert rows["wake", 0]["p50_ms"] >= 0.8 * 5  # a switch interval (5 ms), less its ends
    for step in ("send", "recv"):
        assert rows[step, 0.1]["paid_share"] <= 0.5, rows[step, 0.1]


@pytest.mark.inprocess
def test_the_gil_steps_render_as_a_table_and_the_reading_gives_their_ranges():
    from loadtests.lessons.observing import gilhop

    rows = [{"kind": "gilhop", "step": step, "gap_ms": gap, "trials": 200, "p50_ms": p50,
             "p90_ms": p50, "max_ms": 5.3, "paid_share": paid}
            for step, gap, p50, paid in (("send", 0.0, 0.01, 0.14), ("recv", 0.0, 0.01, 0.2),
                                         ("send", 0.1, 0.02, 0.03), ("recv", 0.1, 0.02, 0.07),
                                         ("wake", 0.0, 5.25, 1.0))]
    text = "\n".join(gilhop.lines(rows))
    assert "| `send` of a 200-byte answer | 0.1 | 0.020 | 0.020 | 5.3 | 0.03 |" in text
    assert "0.14–0.20 of the trials right after the hand-over, 0.03–0.07 after 0.1 ms" in text
    assert "A wake-up paid in 1.00 (p50 5.2 ms)" in text
    assert gilhop.lines([]) == []


@pytest.mark.integration
def test_one_worker_is_traced_with_four_threads_then_eight_at_one_rate(monkeypatch):
    """The thread gaps (1 s at ρ 0.5, one round): gthread -w1 with four threads, then
    eight at the first's rate, traced: every request answered and traced, the spans held
    no more threads than the worker has, and the view's own time (a 20 ms sleep and the
    check) inside the app's span."""
    from loadtests.lessons.observing import threadgaps

    monkeypatch.setattr(observing, "PROFILE", (40.0, 1.0))
    monkeypatch.setattr(observing, "FLOOR", (50.0, 1.0))
    monkeypatch.setattr(threadgaps, "SECONDS", 1.0)
    monkeypatch.setattr(threadgaps, "RHO", 0.5)
    monkeypatch.setattr(threadgaps, "ROUNDS", 1)
    four, eight = threadgaps.observe()
    assert (four["threads"], eight["threads"]) == (4, 8)
    assert eight["rate_rps"] == four["rate_rps"] > 0
    for row in (four, eight):
        assert row["kind"] == "gaps" and row["answered"] == row["scheduled"] == row["spans"]
        assert 0 < row["in_app_mean"] <= row["threads"] and 0 <= row["all_in_app"] <= 1
        assert observing.DELAY_S * 1000 < row["view_mean_ms"] < row["app_mean_ms"]
        assert row["outside_app_ms"] > 0 and row["gaps"] >= row["near_gaps"]
    text = "\n".join(threadgaps.lines([four, eight]))
    assert "| 1 | gthread -w1 --threads 4 | " in text and "| 1 | gthread -w1 --threads 8 | " in text
    assert "At the same rate, with 4 threads the twin's p50 stood at " in text


@pytest.mark.inprocess
def test_the_thread_gaps_say_what_they_found_only_where_four_threads_fell_short():
    from loadtests.lessons.observing import threadgaps

    def row(threads, measured_p50, predicted_p50):
        return {"round": 1, "threads": threads, "label": f"gthread -w1 --threads {threads}",
                "rate_rps": 60.0, "p50_ms": measured_p50, "predicted_p50_ms": predicted_p50,
                "p99_ms": 200.0, "predicted_p99_ms": 150.0, "view_mean_ms": 48.0,
                "in_app_mean": 3.0, "all_in_app": 0.47, "outside_app_ms": 35.5,
                "gap_p50_ms": 1.4, "gap_p90_ms": 17.3, "gap_mean_ms": 5.5}

    short = "\n".join(threadgaps.lines([row(4, 91.5, 66.5), row(8, 66.6, 69.3)]))
    assert "| 1 | gthread -w1 --threads 4 | 60.0 | 91.5 / 66.5 | 0.73 | 0.75 |" in short
    assert "With 8 threads the twin's p50 holds; with 4 it falls short" in short
    held = "\n".join(threadgaps.lines([row(4, 66.0, 64.0), row(8, 66.6, 69.3)]))
    assert "falls short" not in held and "with 4 threads the twin's p50 stood at 0.97" in held
    assert threadgaps.lines([]) == []
