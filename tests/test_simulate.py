"""The simulated twin (``loadtests/model/simulate.py``) reproduces what queueing theory
answers exactly, before it is trusted to predict anything: M/M/c's mean wait (Erlang C),
the M/M/1 response-time tail, and the closed network's throughput by mean value analysis.
Each run is seeded: the same numbers every time, on any machine."""

from __future__ import annotations

import dataclasses
import math

import pytest

from loadtests.model import queueing
from loadtests.model.gil import SWITCH_S
from loadtests.model.simulate import Twin, Work, closed_loop, open_loop

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests


def test_sync_on_pure_waiting_is_m_m_c_and_waits_as_erlang_c_says():
    """sync -w3 on exponential waits of 0.1 s at 24 requests a second (ρ = 0.8): three
    servers and one queue (the shared accept queue)."""
    rate, service = 24.0, 0.1
    run = open_loop(Twin.of("sync", workers=3, cores=3),
                    Work(cpu_s=0.0, wait_s=service, exponential=True), rate,
                    requests=200_000)
    waited = run.mean - service  # the mean response time, less the mean service
    assert waited == pytest.approx(queueing.mmc_mean_wait(3, rate, service), rel=0.05)
    assert run.throughput == pytest.approx(rate, rel=0.03)


def test_one_sync_worker_has_m_m_1s_exponential_tail():
    """M/M/1 at ρ = 0.8: the response time is exponential at μ − λ, so its p50 and p99 are
    ln 2 and ln 100 over μ − λ."""
    rate, service = 8.0, 0.1
    run = open_loop(Twin.of("sync", workers=1, cores=1),
                    Work(cpu_s=0.0, wait_s=service, exponential=True), rate,
                    requests=200_000)
    for p, quantile in ((50, math.log(2)), (99, math.log(100))):
        assert run.percentile(p) == pytest.approx(quantile / (1 / service - rate), rel=0.05)


@pytest.mark.parametrize("users", [1, 4, 16])
def test_the_closed_loop_matches_mean_value_analysis(users):
    """One gevent worker on one core: each user's request is Python at the loop (exponential,
    20 ms), then a wait that yields (exponential, 80 ms): the machine-repairman network
    that :func:`queueing.closed_rps` solves."""
    run = closed_loop(Twin.of("gevent", cores=1),
                      Work(cpu_s=0.02, wait_s=0.08, exponential=True), users)
    assert run.throughput == pytest.approx(queueing.closed_rps(users, 0.08, 0.02), rel=0.03)


def test_the_gil_is_one_server_per_process_and_the_cores_cap_the_processes():
    """Fixed 10 ms of Python per request, 64 users: threads add nothing to one process
    (100/s); four processes on two cores reach the cores' 200/s."""
    work = Work(cpu_s=0.01)
    assert closed_loop(Twin.of("gthread", threads=8, cores=2), work, 64,
                       duration=20).throughput == pytest.approx(100, rel=0.02)
    assert closed_loop(Twin.of("sync", workers=4, cores=2), work, 64,
                       duration=20).throughput == pytest.approx(200, rel=0.02)


def test_a_wait_that_does_not_yield_holds_the_loop():
    """gevent with 50 ms waits that yield holds 1000 at once; with waits that do not
    (psycopg2 unpatched), one at a time: 20/s."""
    for yields, expected in ((True, 16 / 0.05), (False, 1 / 0.05)):
        run = closed_loop(Twin.of("gevent", cores=1), Work(0.0, 0.05, yields=yields), 16,
                          duration=20)
        assert run.throughput == pytest.approx(expected, rel=0.02)


def test_python_after_the_wait_queues_at_the_loop_a_second_time():
    """One gevent loop at ρ 0.5, 10 ms of Python and 20 ms of waiting a request: with the
    Python before the wait, a request queues once, as M/D/1's mean wait (Pollaczek–
    Khinchine) says; with it after the wait (/mixed), it queues at the loop again when it
    wakes: more than twice that wait."""
    cpu, wait, rate = 0.01, 0.02, 50.0
    queued = rate * cpu * cpu / (2 * (1 - rate * cpu))  # M/D/1's mean wait: 5 ms
    before = open_loop(Twin.of("gevent"), Work(cpu, wait), rate, requests=20_000).mean
    after = open_loop(Twin.of("gevent"), Work(0.0, wait, after_s=cpu), rate,
                      requests=20_000).mean
    assert before - wait - cpu == pytest.approx(queued, rel=0.05)
    assert after - wait - cpu > 2 * queued


def test_an_event_loop_runs_a_step_behind_what_its_iteration_began_with():
    """gunicorn's asgi worker, 10 ms of waiting and then 20 ms of Python a request: A at 0,
    C at 5 ms, B at 12 ms, while A's Python runs (10-30 ms) and C's timer expires (15 ms).
    At a lock, first come first served, B is read at 30 ms, its wait ends at 40 and its
    Python waits for C's (30-50): answered at 70 ms. On the loop, B's socket and C's timer
    are noted together at 30 ms; C's Python runs in the next iteration, B's second step
    beside it: B's view starts at 50, its Python runs 60-80 (``loadtests/model/loop.py``)."""
    work, dues = Work(0.0, 0.01, after_s=0.02), [0.0, 0.005, 0.012]
    lock = dataclasses.replace(Twin.of("asgi"), hops=None)
    at_lock = open_loop(lock, work, 1.0, arrivals=dues, warmup=0).latencies
    on_loop = open_loop(Twin.of("asgi"), work, 1.0, arrivals=dues, warmup=0).latencies
    assert at_lock == pytest.approx([0.03, 0.045, 0.07 - 0.012])  # A, C, B as answered
    assert on_loop == pytest.approx([0.03, 0.045, 0.08 - 0.012])


def test_one_step_a_request_on_the_loop_is_served_as_at_a_lock():
    """Where each request's Python is one step (``/prime``), the loop serves them in the
    order they came, as a lock does: the same latencies, request by request (M/M/1's)."""
    work, lock = Work(0.01, exponential=True), dataclasses.replace(Twin.of("asgi"), hops=None)
    on_loop = open_loop(Twin.of("asgi"), work, 70.0, requests=5000)
    assert on_loop.latencies == pytest.approx(open_loop(lock, work, 70.0,
                                                        requests=5000).latencies)
    assert on_loop.mean == pytest.approx(1 / (100 - 70), rel=0.1)


def test_a_replayed_schedule_is_served_as_it_was_due():
    """One sync worker, 10 ms a request: a burst of five due at once leaves 10, 20 … 50 ms
    (each waits for those before it); five due 20 ms apart wait for nothing."""
    work = Work(0.01)
    burst = open_loop(Twin.of("sync"), work, 1.0, arrivals=[0.0] * 5, warmup=0)
    spaced = open_loop(Twin.of("sync"), work, 1.0, arrivals=[0.02 * k for k in range(5)],
                       warmup=0)
    assert sorted(burst.latencies) == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])
    assert spaced.latencies == pytest.approx([0.01] * 5)


def test_connections_kept_by_one_worker_queue_there():
    """gthread -w2 --threads 8 on 0.1 s waits at 120/s: shared, the 16 threads hardly queue;
    with 90 % of the connections on one worker, its 8 threads are past saturation."""
    work = Work(cpu_s=0.0, wait_s=0.1)
    shared = open_loop(Twin.of("gthread", workers=2, threads=8), work, 120, requests=4000)
    skewed = open_loop(Twin.of("gthread", workers=2, threads=8, shares=(0.9, 0.1)), work, 120,
                       requests=4000)
    assert shared.percentile(99) < 0.2 < 1.0 < skewed.percentile(99)


def test_kept_connections_go_back_to_their_worker_and_the_last_answered_goes_out_first():
    """gthread -w2 --threads 4 on 0.1 s waits at 60/s, the client keeping its connections
    (a LIFO pool): all accepted by one worker, its 4 threads are past saturation; accepted
    evenly, reusing the connection answered last still leans on one worker, and the tail
    is longer than with one shared queue."""
    work = Work(cpu_s=0.0, wait_s=0.1)
    one = open_loop(Twin.of("gthread", workers=2, threads=4, keepalive=True, shares=(1, 0)),
                    work, 60, requests=4000)
    even = open_loop(Twin.of("gthread", workers=2, threads=4, keepalive=True), work, 60,
                     requests=4000)
    shared = open_loop(Twin.of("gthread", workers=2, threads=4), work, 60, requests=4000)
    assert one.shares == (1.0, 0.0) and one.percentile(99) > 1.0
    assert 0.52 < even.shares[0] < 0.8 and sum(even.answered) == 4000
    assert shared.shares[0] < 0.52
    assert shared.percentile(99) < even.percentile(99) < 1.0


def test_one_queue_hands_out_a_slot_of_each_worker_in_turn():
    """gevent -w2 on two cores, 4 users of 10 ms of Python each: the shared accept queue
    gives both workers requests, 2 ÷ 10 ms = 200/s (all on the first worker's thousand
    slots: 100/s)."""
    run = closed_loop(Twin.of("gevent", workers=2, cores=2), Work(cpu_s=0.01, wait_s=0.0), 4,
                      duration=20)
    assert run.throughput == pytest.approx(200, rel=0.01)
    assert run.shares[1] == pytest.approx(0.5, abs=0.01)


def test_users_pinned_to_their_workers_use_only_their_workers_threads():
    """wrk's 16 connections on gthread -w2 --threads 8, 0.1 s waits: split 14 / 2 the
    second worker's 6 idle threads are lost, Σ min(users, threads) ÷ 0.1 = (8 + 2) ÷ 0.1;
    split 8 / 8, every thread busy: 160/s."""
    twin, work = Twin.of("gthread", workers=2, threads=8), Work(cpu_s=0.0, wait_s=0.1)
    skewed = closed_loop(twin, work, 16, duration=20, pinned=(14, 2))
    even = closed_loop(twin, work, 16, duration=20, pinned=(8, 8))
    assert skewed.throughput == pytest.approx(100, rel=0.01)
    assert skewed.answered[1] / sum(skewed.answered) == pytest.approx(0.2, abs=0.01)
    assert even.throughput == pytest.approx(160, rel=0.01)
    with pytest.raises(ValueError, match="pinned must give each of 2 processes its users"):
        closed_loop(twin, work, 16, pinned=(16,))


def test_a_twin_refuses_a_model_it_does_not_know():
    with pytest.raises(ValueError, match="model must be one of sync, gthread, gevent, asgi"):
        Twin.of("eventlet")


def test_time_outside_the_server_adds_to_each_latency_and_holds_nothing():
    """Open: the same arrivals and the same queue, every latency longer by the time outside
    (the server never sees it). Closed: a user spends it before sending again, so one user
    of a 10 ms server with 10 ms outside sends half as often."""
    sync = Twin.of("sync", workers=2, cores=2)
    inside = open_loop(sync, Work(0.01, 0.02), 100.0, requests=4_000)
    both = open_loop(sync, Work(0.01, 0.02, outside_s=0.005), 100.0, requests=4_000)
    assert [b - a for a, b in zip(inside.latencies, both.latencies, strict=True)] == \
        pytest.approx([0.005] * len(inside.latencies))
    assert both.answered == inside.answered
    one = Twin.of("sync", workers=1, cores=1)
    alone = closed_loop(one, Work(0.01), 1, duration=20.0, warmup=1.0)
    waiting = closed_loop(one, Work(0.01, outside_s=0.01), 1, duration=20.0, warmup=1.0)
    assert alone.throughput == pytest.approx(100, rel=0.01)
    assert waiting.throughput == pytest.approx(50, rel=0.01)
    assert waiting.mean == pytest.approx(0.02)


def test_a_measured_run_replays_each_requests_own_python_in_arrival_order():
    """Three requests at once on one sync worker, the first 10 ms of Python, the second 20,
    the third 30: each waits for those before it (10, 30 and 60 ms), exactly; with the Python
    after a wait (``after_s``), the sequence times that turn instead."""
    one = Twin.of("sync", workers=1, cores=1)
    run = open_loop(one, Work(0.05, sequence=(0.01, 0.02, 0.03)), 1.0, arrivals=[0, 0, 0],
                    warmup=0)
    assert sorted(run.latencies) == pytest.approx([0.01, 0.03, 0.06])
    after = open_loop(one, Work(0.0, 0.1, after_s=0.05, sequence=(0.01, 0.02)), 1.0,
                      arrivals=[0, 1], warmup=0)
    assert after.latencies == pytest.approx([0.11, 0.12])


def _latencies_ms(twin: Twin, python_s: tuple[float, ...], dues: list[float]) -> list[float]:
    """Each request's latency (ms, in the order answered): the n-th due at ``dues[n]`` with
    ``python_s[n]`` of Python and no wait."""
    run = open_loop(twin, Work(cpu_s=0.0, sequence=python_s), 1.0, arrivals=dues, warmup=0)
    return [round(latency * 1000, 6) for latency in run.latencies]


def test_a_gthread_request_pays_a_hand_over_at_each_wake_up_and_none_at_its_reads():
    """Beside 100 ms of Python on one thread, a request with none, due at 1 ms on gthread
    --threads 2, waits a switch interval for the main thread's wake-up (to 6 ms) and one
    for its idle thread's (to 11 ms): 10 ms, where a hand-over at each read and write too
    would take 20 or more. The computing request loses nothing by them (100 ms)."""
    twin = Twin.of("gthread", threads=2)
    assert _latencies_ms(twin, (0.1, 0.0), [0.0, 0.001]) == pytest.approx(
        [2 * SWITCH_S * 1000, 100.0])


def test_a_thread_woken_for_its_request_runs_its_python_with_that_wake_up():
    """Due at 1 ms beside the 100 ms, 20 ms of Python take the GIL at the idle thread's
    wake-up (11 ms) and run at once, in turns of a switch interval with the other request:
    11-16, 21-26, 31-36, 41-46 ms, answered in 45 ms (a second wait for the GIL before
    its Python would end later); the 100 ms end at 120."""
    twin = Twin.of("gthread", threads=2)
    assert _latencies_ms(twin, (0.1, 0.02), [0.0, 0.001]) == pytest.approx([45.0, 120.0])
    again = dataclasses.replace(twin, wakes=(1, 2, 1))
    assert _latencies_ms(again, (0.1, 0.02), [0.0, 0.001])[0] > 45.0 + SWITCH_S * 1000 / 2


def test_a_busy_thread_goes_on_to_its_next_request_without_a_wake_up():
    """On gthread --threads 2, beside 100 ms of Python, a request with none due at 2 ms
    waits for a thread: it takes the one the 20 ms request (due at 1 ms) frees, and is
    answered at that instant, though the 100 ms still compute: that thread was busy, not
    asleep, and needs no hand-over."""
    twin = Twin.of("gthread", threads=2)
    first, second, _ = _latencies_ms(twin, (0.1, 0.02, 0.0), [0.0, 0.001, 0.002])
    assert 0.002 * 1000 + second == pytest.approx(0.001 * 1000 + first)
