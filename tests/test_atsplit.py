"""The twin's prediction at a measured split (``loadtests/model/atsplit.py``): where kept
connections make the split the twin's to draw, the runs kept are those nearest the split
measured, and p99 follows the split. Seeded: the same numbers on any machine."""

from __future__ import annotations

import statistics

import pytest

from loadtests.model.atsplit import at_split, distance
from loadtests.model.simulate import Twin, Work, open_loop

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests

#: gthread -w2 --threads 4 on a 20 ms wait at 150/s (ρ 0.4), connections kept: the open
#: sample's gthread /io run, 3 s of it.
TWIN = Twin.of("gthread", workers=2, threads=4, shares=(0.5, 0.5), keepalive=True)
WORK, RATE, REQUESTS = Work(0.0009, 0.02), 150.0, 450


def _run(seed: int):
    return open_loop(TWIN, WORK, RATE, requests=REQUESTS, warmup=0, seed=seed)


def test_the_runs_kept_are_those_nearest_the_split_measured():
    drawn = [_run(seed) for seed in range(1, 21)]
    for split in ((0.5, 0.5), (0.8, 0.2)):
        kept = at_split(_run, split)
        assert len(kept) == 5
        nearest = sorted(distance(run.shares, split) for run in drawn)
        assert [distance(run.shares, split) for run in kept] == nearest[:5]


def test_without_a_split_to_draw_the_first_seeds_are_kept():
    kept = at_split(_run, None)
    assert [run.latencies for run in kept] == [_run(seed).latencies for seed in range(1, 6)]


def test_p99_follows_the_split_a_seed_draws():
    """Even at one measured split, the twin's seeds place the kept connections unevenly
    or not: the runs with one worker taking most of the requests queue at its four
    threads, those split evenly hardly at all."""
    even = at_split(_run, (0.5, 0.5))
    lopsided = at_split(_run, (0.85, 0.15))
    assert max(run.shares[0] for run in even) < 0.6 < 0.65 < min(
        run.shares[0] for run in lopsided)
    p99 = {name: statistics.median(run.percentile(99) for run in runs)
           for name, runs in (("even", even), ("lopsided", lopsided))}
    assert p99["lopsided"] > 1.2 * p99["even"], p99
