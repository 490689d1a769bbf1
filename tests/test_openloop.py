"""The open-loop generator (``loadtests/load/openloop.py``): requests leave on their schedule,
not when the last is answered, and latency counts from the due time, so a stall the load
meets is measured, not hidden (coordinated omission)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import gevent
import pytest

from loadtests.load import arrivals, openloop
from loadtests.servers import GunicornServer, ServerSpec, free_port

from .helpers import Stub, on_its_core, silent_listener


@pytest.mark.integration
@pytest.mark.timing
@pytest.mark.two_cores
def test_the_schedule_arrives_at_its_rate_with_exponential_gaps():
    """Measured at the server: 1,000 Poisson arrivals at 200/s come at 200/s (within 2 %),
    and their gaps fit an exponential at 200/s (Kolmogorov-Smirnov). The generator has a
    core of its own, as for its send-lag claim below: beside another timing test it once
    lost its core long enough to send in bunches (D 0.052 at gaps of 0.74 ms, p 0.008,
    where the schedule itself fits at D 0.014); and a run that fails the fit while the
    hypervisor took that core, or the machine woke the generator late, is taken again
    (:func:`on_its_core`: a CI run's sends bunched at D 0.10 beside 310 ms stolen)."""
    rate = 200.0

    def fits(fit) -> bool:
        return fit.pvalue > 0.01

    summary, times = on_its_core(lambda: _generate(rate, 5.0, cores=({0}, {1})), 0,
                                 lambda run: fits(_fit(run[1], rate)), _late)
    fit = _fit(times, rate)
    assert fits(fit), (fit, summary["host"])
    # (its send lag is the next test's claim, made with a core of its own: here, beside
    # another timing test on the other core, p99 once reached 3.35 ms while the fit held)


@pytest.mark.integration
def test_routes_are_drawn_by_their_weights_with_their_body_and_headers(tmp_path):
    """``--path /a=3 --path 'POST /b?x=1'``: 400 requests, about three GETs of /a for each
    POST (binomial: a share within 0.1 of 0.75 is more than four standard deviations wide),
    the query string's own ``=`` kept; each POST carries ``--body``'s bytes, and every
    request ``--header``'s."""
    body = tmp_path / "order.json"
    body.write_bytes(b'{"item": 7}')
    with Stub() as stub:
        done = subprocess.run(
            [sys.executable, "-m", "loadtests.load.openloop", f"http://127.0.0.1:{stub.port}/",
             "--rate", "400", "--duration", "1", "--seed", "3", "--json",
             "--path", "/a=3", "--path", "POST /b?x=1", "--body", str(body),
             "--header", "Authorization: Bearer t0ken"],
            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout)["answered"] == len(stub.requests) == 400
    lines = [raw.split(b"\r\n", 1)[0] for raw in stub.requests]
    assert set(lines) == {b"GET /a HTTP/1.1", b"POST /b?x=1 HTTP/1.1"}
    assert lines.count(b"GET /a HTTP/1.1") / 400 == pytest.approx(0.75, abs=0.1)
    for raw in stub.requests:
        assert b"\r\nAuthorization: Bearer t0ken\r\n" in raw
        assert raw.endswith(b'\r\n\r\n{"item": 7}') == raw.startswith(b"POST")


def test_a_route_is_refused_one_line_each(capsys):
    for argv, said in ((["--path", "FETCH /a"], "the method must be one of"),
                       (["--path", "POST /a"], "give its body with --body FILE"),
                       (["--path", "/a=-1"], "a weight is a number above 0"),
                       (["--header", "no colon"], "expected Name: value")):
        with pytest.raises(SystemExit):
            openloop.parse_args(["http://127.0.0.1:9/", *argv])
        assert said in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.timing
@pytest.mark.two_cores
def test_the_generator_sends_1000_a_second_on_one_core_within_2_ms_of_due():
    """At 1,000 arrivals a second, the generator held to one core (the stub on the other)
    still sends 99 % of them within 2 ms of their due time, and the stub sees the rate:
    9,000 sends, for a p99 that a few stalls do not decide (the send lag's max reaches 5-9
    ms now and then, with no steal and no late wake: its thread then inside gevent's loop,
    by a sampling thread; in 3 s runs 2 of 29 by hand read p99 2.3 and 2.7 ms, in eight
    9 s runs p99 stayed at 0.55-0.86 ms while their max reached 5-7 ms). A run that
    misses it while the hypervisor took that core, or the machine woke the generator
    late, is taken again (:func:`on_its_core`)."""
    def within(summary: dict) -> bool:
        return summary["send_lag_ms"]["p99"] < 2

    summary, _ = on_its_core(lambda: _generate(1000.0, 9.0, cores=({0}, {1})), 0,
                             lambda run: within(run[0]), _late)
    assert within(summary), (summary["send_lag_ms"], summary["host"])


@pytest.mark.integration
def test_the_answers_own_times_are_kept_beside_the_latency(tmp_path):
    """``--time FIELD``: a numeric field of each answer (the lab's ``elapsed``: the view's own
    seconds) as percentiles and a mean; a field no answer has, empty. Each request waits
    10 ms in the view, and its latency from due holds that wait. ``--records``: every
    request's end, in due order, with its own."""
    records = tmp_path / "ends.jsonl"
    with GunicornServer(ServerSpec("sync", workers=2)) as server:
        done = subprocess.run(
            openloop.command(f"{server.url}/io?delay=0.01", "--rate", "20", "--duration", "1",
                             "--time", "elapsed", "--time", "nothing",
                             "--records", str(records)),
            capture_output=True, text=True, timeout=60, check=True)
    ends = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(ends) == 20 and [end["due"] for end in ends] == sorted(e["due"] for e in ends)
    assert all(end["outcome"] == 200 and end["latency"] > end["elapsed"] >= 0.01
               and "nothing" not in end for end in ends)
    summary = json.loads(done.stdout)
    elapsed = summary["fields_ms"]["elapsed"]
    assert summary["answered"] == 20 and summary["fields_ms"]["nothing"] == {}
    assert 10 <= elapsed["p50"] <= elapsed["max"]
    assert 10 <= elapsed["mean"] < summary["latency_ms"]["mean"]
    printed = openloop.report(summary, server.url)
    assert "answers' elapsed (ms): p50 " in printed and "answers' nothing (ms): no answers" \
        in printed


def _fit(times: list[float], rate: float):
    """The Kolmogorov-Smirnov fit of the gaps between ``times`` to an exponential at
    ``rate``."""
    from scipy import stats  # here: a second's import that every xdist worker's collection paid

    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    return stats.kstest(gaps, "expon", args=(0, 1 / rate))


def _late(generated: tuple[dict, list[float]]) -> int:
    """The generator's late wakes in a run (``host.late_wakes``): its sleeps until a due
    time that ended past it while the machine ran something else, or nothing."""
    return generated[0]["host"]["late_wakes"]


def _generate(rate: float, duration: float, *, cores: tuple[set[int], set[int]] | None = None
              ) -> tuple[dict, list[float]]:
    """The command's JSON summary and the stub's arrival times, which must count every
    request scheduled and come at ``rate`` (within 2 %). ``cores``: the generator's, and
    the stub's."""
    generator_cores, stub_cores = cores or (None, None)
    with Stub(stub_cores) as stub:
        done = subprocess.run(
            [sys.executable, "-m", "loadtests.load.openloop",
             f"http://127.0.0.1:{stub.port}/", "--rate", f"{rate:g}",
             "--duration", f"{duration:g}", "--seed", "7", "--json"],
            capture_output=True, text=True, timeout=60, check=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, generator_cores)) if cores else None)
    summary = json.loads(done.stdout)
    times = sorted(stub.arrivals)
    assert summary["answered"] == summary["scheduled"] == len(times) == rate * duration
    assert summary["sent"] == len(times) and summary["dropped"] == 0
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert achieved == pytest.approx(rate, rel=0.02)
    return summary, times


@pytest.mark.integration
@pytest.mark.timing
def test_a_stall_shows_in_every_request_it_delays_and_a_closed_loop_hides_it():
    """The gevent worker frozen for 1 s (SIGSTOP, SIGCONT) under 100 requests/s: every
    request due during the stall waits for its end, counted from when it was due, so about
    100 slow requests with a mean of half the stall. A closed loop of 10 users meets the
    same stall with 10 slow requests: its users stop sending while they wait."""
    rate, users, stall = 100.0, 10, 1.0
    runs, windows = {}, {}
    with GunicornServer(ServerSpec("gevent")) as server:
        (pid,) = server.worker_pids()
        url = f"{server.url}/health"
        for mode in ("open", "closed"):
            freeze = gevent.spawn_later(1.0, _freeze, pid, stall)
            runs[mode] = (openloop.open_loop(url, rate, 3.0, seed=3) if mode == "open"
                          else openloop.closed(url, users, 3.0))
            windows[mode] = freeze.get()
    for run in runs.values():
        assert run.dropped == 0 and run.timed_out == 0 and not run.failed
    stopped, resumed = windows["open"]
    caught = [(due, latency) for due, latency in runs["open"].answers
              if stopped <= due < resumed]
    # every request due in the stall waited for its end, from its due time
    assert all(latency >= resumed - due - 0.005 for due, latency in caught)
    assert 80 <= len(caught) <= 120, len(caught)  # Poisson at 100/s over 1 s
    slow = {mode: [latency for _, latency in run.answers if latency >= SLOW_S]
            for mode, run in runs.items()}
    # slow: those due at least SLOW_S before the end of the stall, those due later in it
    # that waited behind the backlog the worker drains on resuming, and a few due next to
    # it: just before (the worker stopped with them unanswered) or just after (the drain)
    held = sum(resumed - due >= SLOW_S for due, _ in caught)
    caught_slow = sum(latency >= SLOW_S for _, latency in caught)
    assert held <= caught_slow <= len(caught)
    beside = [round(due - resumed if due >= resumed else due - stopped, 3)
              for due, latency in runs["open"].answers
              if latency >= SLOW_S and not stopped <= due < resumed]
    assert len(slow["open"]) == caught_slow + len(beside)
    assert len(beside) <= 10 and all(-0.05 <= offset <= 0.25 for offset in beside), beside
    assert 0.4 <= statistics.mean(slow["open"]) <= 0.6
    half = sum(latency >= stall / 2 for latency in slow["open"]) / len(slow["open"])
    assert 0.35 <= half <= 0.65, half
    # the closed loop: each user's one request in flight, and nothing more -- counted at
    # half the stall, the measure: beside another timing test (make test's second
    # pass) two /health answers took 51 and 52 ms, past SLOW_S, without meeting the stall
    held = [latency for latency in slow["closed"] if latency >= stall / 2]
    assert 1 <= len(held) <= users, sorted(slow["closed"])


#: Slower than this, a /health answer met the stall (it takes about a millisecond).
SLOW_S = 0.05


def _freeze(pid: int, seconds: float) -> tuple[float, float]:
    """Stop the process for ``seconds``; return when it was stopped and resumed."""
    os.kill(pid, signal.SIGSTOP)
    stopped = time.perf_counter()
    try:
        gevent.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)
    return stopped, time.perf_counter()


def test_a_schedule_is_its_count_spread_over_its_window():
    assert arrivals.constant(2, 2.0) == [0.0, 0.5, 1.0, 1.5]
    due = arrivals.poisson(50, 4.0, seed=5)
    assert len(due) == 200 and due == sorted(due) and 0 <= due[0] <= due[-1] < 4.0
    with pytest.raises(ValueError, match="schedule must be one of poisson, constant"):
        arrivals.schedule("bursty", 1, 1)
    with pytest.raises(ValueError, match="must be positive"):
        arrivals.poisson(0, 1)


def test_the_command_prints_its_percentiles_and_refuses_more_than_select_can_watch(capsys):
    summary = {"mode": "open", "duration_s": 2.0, "scheduled": 4, "offered_rps": 2.0,
               "sent": 4, "answered": 3, "achieved_rps": 1.5, "statuses": {"200": 3},
               "failed": {"reset": 1}, "timed_out": 0, "dropped": 0,
               "latency_ms": {"p50": 1.5, "max": 9.0}, "send_lag_ms": {}}
    lines = openloop.report(summary, "http://x/").splitlines()
    assert lines[1:] == [
        "offered 2.0/s, achieved 1.5/s",
        "4 scheduled, 4 sent, 3 answered (200: 3); 1 failed (reset: 1), 0 timed out, "
        "0 dropped",
        "latency from due (ms): p50 1.5  max 9",
        "send lag (ms):         no answers"]
    counted = {**summary, "over": {"ms": 500.0, "count": 2}, "by": {"11": 2, "12": 1}}
    assert openloop.report(counted, "http://x/").splitlines()[-2:] == [
        "slower than 500 ms:    2", "answers by field:      11 2  12 1"]
    args = openloop.parse_args(["http://x/", "--over", "500", "--by", "pid"])
    assert (args.over, args.by) == (500.0, "pid")
    with pytest.raises(SystemExit):
        openloop.parse_args(["http://x/", "--max-in-flight", "1001"])
    assert "--max-in-flight must be 1 to 1000, got 1001" in capsys.readouterr().err


def test_a_request_that_is_not_answered_is_counted_by_how_it_ended(capsys):
    """Nothing listening: each request refused; a server that reads the request and hangs
    up: each closed, after one retry on a new connection (not geventhttpclient's own
    pool size + 1). Every one counted, by kind, in the summary and its timeline."""
    closing = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def hang_up() -> None:
        while True:
            try:
                conn, _ = closing.accept()
            except OSError:
                return
            accepted.append(conn)
            with conn:
                conn.recv(65536)

    threading.Thread(target=hang_up, daemon=True).start()
    nobody = free_port()
    runs = {}
    try:
        for name, port in (("refused", nobody), ("closed", closing.getsockname()[1])):
            runs[name] = openloop.open_loop(f"http://127.0.0.1:{port}/", 0, 0, seed=1,
                                            timeout=2, phases=[(50, 0.1), (100, 0.1)])
    finally:
        closing.close()
    assert len(accepted) == 2 * 15
    for name, run in runs.items():
        summary = run.summary()
        assert summary["failed"] == {name: 15} and summary["unaccounted"] == 0, summary
        assert [row.get(name) for row in summary["timeline"]] == [15]
        assert summary["good"] == 0
    print(openloop.report(runs["closed"].summary(), "http://x/", timeline=True))
    assert "15 failed (closed: 15)" in capsys.readouterr().out
    args = openloop.parse_args(["http://x/", "--phase", "50:5", "--phase", "300:10"])
    assert args.phases == [(50.0, 5.0), (300.0, 10.0)]
    with pytest.raises(SystemExit):
        openloop.parse_args(["http://x/", "--phase", "300"])
    assert "a phase is RATE:SECONDS, got '300'" in capsys.readouterr().err


def test_a_retry_is_sent_once_its_attempt_times_out_and_the_request_counts_once():
    """Ten requests whose first attempts meet silence: without retries each times out; with
    one retry each is answered by its second attempt, counted once, good (its attempt was
    answered within the deadline), its latency from its due time past the first deadline,
    and the ten extra attempts counted as the load the retries added."""
    runs = {}
    for retries in (0, 1):
        with silent_listener(answer_after=10) as url:
            runs[retries] = openloop.open_loop(url, 0, 0, seed=1, timeout=0.3,
                                               phases=[(100, 0.1)], retries=retries).summary()
    plain, retried = runs[0], runs[1]
    assert plain["timed_out"] == plain["scheduled"] == 10 and plain["sent"] == 10, plain
    assert "retried" not in plain and plain["good"] == 0
    assert retried["statuses"] == {"200": 10} and retried["timed_out"] == 0, retried
    assert retried["sent"] == 20 and retried["retried"] == 10 and retried["good"] == 10
    assert retried["unaccounted"] == 0 and retried["latency_ms"]["p50"] >= 300
    assert [row["retried"] for row in retried["timeline"]] == [10]
