"""The bounds the probe and matrix compare measurements with."""

import pytest

from loadtests.model.queueing import batch_wall, cpu_bound_rps, cpu_parallelism, io_bound_rps

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests


@pytest.mark.parametrize(
    ("jobs", "parallel", "expected"),
    [(8, 1, 8), (8, 4, 2), (8, 8, 1), (8, 1000, 1), (4, 2, 2), (5, 2, 3), (0, 3, 0)],
)
def test_batch_wall_counts_waves(jobs, parallel, expected):
    assert batch_wall(jobs, parallel, 0.5) == pytest.approx(expected * 0.5)


def test_cpu_parallelism_is_processes_capped_by_cores():
    assert cpu_parallelism(workers=1, cores=2) == 1
    assert cpu_parallelism(workers=4, cores=2) == 2
    assert cpu_parallelism(workers=2, cores=8) == 2


def test_io_bound_is_littles_law():
    # 100 users, sync -w2: two requests in flight, each 0.1 s -> 20 rps
    assert io_bound_rps(users=100, slots=2, delay=0.1) == pytest.approx(20)
    # fewer users than slots: the users are the limit
    assert io_bound_rps(users=10, slots=1000, delay=0.1) == pytest.approx(100)


def test_cpu_bound_ignores_threads_and_caps_at_cores():
    assert cpu_bound_rps(users=8, workers=1, cores=2, service_time=0.2) == pytest.approx(5)
    assert cpu_bound_rps(users=8, workers=2, cores=2, service_time=0.2) == pytest.approx(10)
    assert cpu_bound_rps(users=8, workers=4, cores=2, service_time=0.2) == pytest.approx(10)
    assert cpu_bound_rps(users=1, workers=4, cores=2, service_time=0.2) == pytest.approx(5)
