"""Request timelines tell the truth: checked from the trace data, not from the pictures.

Each test serves a real gunicorn with ``TRACE=1``, loads it with plain threads, lets its
workers write their spans as they quit, and reads them back with
:class:`loadtests.timeline.data.Timeline`; the end-to-end test traces matrix cells under
Locust, with the heartbeat's own view and the CPU sampler, and checks the PNG and the
Chrome trace-event JSON too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from loadtests.harness.cpu import CpuMeter
from loadtests.load.locustrun import Load, LocustRun
from loadtests.servers import GunicornServer, ServerSpec
from loadtests.timeline import sampler
from loadtests.timeline.chrome import PHASES
from loadtests.timeline.data import Timeline
from loadtests.timeline.lanes import lanes
from loadtests.timeline.record import CellTrace
from webapp.work.primes import SHORT_PRIME

from .helpers import run_matrix, silent_listener, wait_for

pytestmark = pytest.mark.integration


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _traced(tmp_path, spec: ServerSpec, paths: list[str], clients: int, seconds: float,
            sample: bool = False) -> Timeline:
    """Serve ``spec`` traced, let ``clients`` threads ask ``paths`` in turn for ``seconds``,
    stop it, and read its timeline back (with its threads' CPU if ``sample``)."""
    trace = CellTrace(tmp_path, True)
    spec = dataclasses.replace(spec, env=trace.env)
    with GunicornServer(spec) as server:
        pids = server.worker_pids()
        until = time.monotonic() + seconds

        def user(index: int) -> None:
            turn = index
            while time.monotonic() < until:
                _get(server.url + paths[turn % len(paths)])
                turn += 1

        with trace.sampling(pids) if sample else contextlib.nullcontext():
            users = [threading.Thread(target=user, args=(i,)) for i in range(clients)]
            for thread in users:
                thread.start()
            for thread in users:
                thread.join()
        trace.save_samples()
        assert server.quit(lambda: trace.flushed(pids))
    return Timeline.load(trace.folder)


def test_sync_one_worker_serves_one_request_at_a_time(tmp_path):
    timeline = _traced(tmp_path, ServerSpec("sync"), ["/io?delay=0.03"], clients=4,
                       seconds=1.0)
    ios = [s for s in timeline.spans if s.endpoint == "/io"]
    assert len(ios) >= 10 and {s.status for s in ios} == {200}
    assert timeline.max_overlap() == 1  # four clients, one request in progress at a time
    assert {s.tid for s in ios} == set(timeline.workers)  # all on the worker's main thread
    assert all(s.seconds >= 0.03 for s in ios)


@pytest.mark.timing  # CPU shares against the sampling's error bound: a 1.057 sum against
# 1.055 allowed, once, in the busy first pass (a RabbitMQ booting beside it)
def test_gthread_overlaps_four_and_its_threads_share_one_core(tmp_path):
    timeline = _traced(tmp_path, ServerSpec("gthread", threads=4), [f"/prime/{SHORT_PRIME}"],
                       clients=8, seconds=2.0, sample=True)
    (pid,) = timeline.workers
    primes = [s for s in timeline.spans if s.endpoint == "/prime"]
    assert timeline.max_overlap() == 4  # eight clients, four threads
    assert len({s.tid for s in primes}) == 4
    intervals = timeline.cpu_intervals(pid, step=10)  # about 150 ms each
    assert len(intervals) >= 5
    for _, _, shares, error in intervals:  # the GIL: one core, whatever the threads
        assert sum(shares.values()) <= 1 + error, (shares, error)
    # and the work did keep that core busy, spread over the four threads
    busiest = max(intervals, key=lambda i: sum(i[2].values()))
    assert sum(busiest[2].values()) > 0.5
    assert sum(1 for share in busiest[2].values() if share > 0.05) >= 2
    # the lanes are named by role, in order of first request, not by thread id
    (worker,) = lanes(timeline)
    named = [lane.name for thread in worker.threads for lane in thread.lanes]
    assert named == [f"worker 1 thread {k}" for k in (1, 2, 3, 4)]
    assert worker.title == f"worker 1 (gthread, pid {pid})"
    assert "worker 1 main thread" in worker.thread_names.values()


def test_asgi_lanes_are_tasks_and_errors_keep_their_status(tmp_path):
    timeline = _traced(tmp_path, ServerSpec("asgi"), ["/io?delay=0.05", "/prime/x"],
                       clients=6, seconds=1.0)
    (worker,) = timeline.workers.values()
    assert (worker.model, worker.lanes) == ("asgi", "task")
    assert timeline.max_overlap() >= 3  # coroutines wait side by side
    assert {(s.endpoint, s.status) for s in timeline.spans} >= {("/io", 200), ("/prime", 400)}
    assert len({s.tid for s in timeline.spans}) == 1  # one thread, many tasks


def test_an_app_of_yours_is_traced_too(tmp_path):
    """The tracer wraps whatever app the worker loaded (the advisor's example here), under
    gevent with greenlets for lanes."""
    timeline = _traced(tmp_path, ServerSpec("gevent", app="examples.mixed:app"), ["/report"],
                       clients=4, seconds=1.0)
    (worker,) = timeline.workers.values()
    assert (worker.model, worker.lanes) == ("gevent", "greenlet")
    reports = [s for s in timeline.spans if s.endpoint == "/report"]
    assert len(reports) >= 8 and all(s.seconds >= 0.08 for s in reports)
    assert len({s.lane for s in reports}) >= 2  # greenlets, not the one thread
    assert timeline.max_overlap() >= 2  # its sleep yields to the hub


def test_the_tracers_cost_is_measured_in_pairs():
    """The overhead lesson's observation: an untraced then a traced /health load on one
    model, each metered; the traced one's workers wrote their spans (nothing timed here:
    the numbers are the matrix's to report)."""
    from loadtests.lessons.observing.overhead import measure

    off, on = measure(rounds=1, seconds=1.0, models=(ServerSpec("gthread", threads=4),))
    assert (off["traced"], on["traced"]) == (False, True)
    assert on["flushed"] is True and off["flushed"] is None
    for row in (off, on):
        assert row["rps"] > 50 and row["server_cpu_us_per_request"] > 0


def test_untraced_server_writes_nothing(tmp_path):
    with GunicornServer(ServerSpec("sync", env=(("TRACE_DIR", str(tmp_path / "t")),))) as s:
        assert _get(s.url + "/io?delay=0.01") == 200
    assert not (tmp_path / "t").exists()


def test_a_heartbeat_unanswered_at_the_stop_is_written_with_its_wait(tmp_path):
    """A frozen loop can hold the heartbeat's request the whole run; Locust then stops its
    user mid-request and fires no request event, so the client's file keeps it from its send
    to the stop (once, in CI, the only heartbeat of a gevent cell was lost so)."""
    load = Load("heartbeat", users=1, duration=1.0, warmup=0.5,
                extra=("--trace-clients", str(tmp_path)))
    started = time.monotonic_ns()  # the clock the file keeps (one for all processes)
    with silent_listener() as url, \
            LocustRun(load, url.rstrip("/"), tmp_path / "locust", tmp_path / "locust.log") as run:
        run.wait(CpuMeter({}))
    [path] = tmp_path.glob("clients-*.json")
    data = json.loads(path.read_text())
    [(sent, stopped, name)] = data["requests"]
    assert data["unanswered"] == 1 and name == "heartbeat"
    # kept from its send to the run's stop: not before the run's 1.5 s (warm-up and load)
    # had passed, however late a busy machine let Locust start its user (once 0.7 s late)
    assert started < sent < stopped and stopped - started >= 1.5e9


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_traced_matrix_cells_draw_the_frozen_loop(tmp_path):
    """gevent -w1 beside a prime: no /health is served while a prime runs, and the
    heartbeat's client waits through the primes; gthread serves it between bytecodes."""
    run_matrix("--quick", "--no-slowwatch", "--scenarios", "heartbeat", "--models",
                "gthread,gevent", "--warmup", "0.5", "--duration", "2.5", "--trace",
                "--out", str(tmp_path))
    rows = {r["worker_class"]: r for r in json.loads((tmp_path / "results.json").read_text())
            ["cells"]}
    timelines = {}
    for model, row in rows.items():
        png = tmp_path / row["timeline"]
        cell_dir = (tmp_path / row["trace_events"]).parent
        width, height = _png_size(png)
        assert width == 1400 and width / height <= 4
        timeline = timelines[model] = Timeline.load(cell_dir / "trace")
        assert timeline.cell["flushed"] and timeline.clients
        events = json.loads((cell_dir / "trace.json").read_text())
        _check_trace_events(events, timeline)
    gevent, gthread = timelines["gevent"], timelines["gthread"]

    def health_beside_prime(timeline: Timeline) -> int:
        primes = [s for s in timeline.in_window() if s.endpoint == "/prime"]
        return sum(1 for h in timeline.in_window() if h.endpoint == "/health"
                   and any(p.start_ns < h.start_ns < p.end_ns for p in primes))

    assert health_beside_prime(gevent) == 0 < health_beside_prime(gthread)
    # the heartbeat's client: on gevent it waits through whole primes (the hub resumes the
    # primes' greenlets first: measured, up to 1.4 s and six primes alone, and the
    # whole 3.9 s run, ten primes, beside two busy cores); under threads it
    # waits for the GIL, never for a whole prime
    asked, waited = gevent.waited_through("/prime")
    assert asked >= 1 and waited >= 1
    asked, waited = gthread.waited_through("/prime")
    assert asked >= 3 and waited == 0


def _check_trace_events(events: dict, timeline: Timeline) -> None:
    """The Trace Event Format's documented fields: a JSON object with ``traceEvents``;
    complete events ("X") with name, ts and dur in µs, pid and tid; counters ("C") with
    numeric args; metadata ("M") naming processes and threads."""
    assert events["displayTimeUnit"] in ("ms", "ns")
    complete = [e for e in events["traceEvents"] if e["ph"] == "X"]
    for event in events["traceEvents"]:
        assert event["ph"] in PHASES
        assert isinstance(event["name"], str) and isinstance(event["pid"], int)
        assert isinstance(event["tid"], int)
        if event["ph"] == "X":
            assert isinstance(event["ts"], (int, float)) and event["dur"] >= 0
        elif event["ph"] == "C":
            assert all(isinstance(v, (int, float)) for v in event["args"].values())
        else:
            assert event["name"] in ("process_name", "thread_name", "thread_sort_index")
            assert "name" in event["args"] or "sort_index" in event["args"]
    named = {e["pid"] for e in events["traceEvents"] if e["name"] == "process_name"}
    assert set(timeline.workers) <= named
    requests = [e for e in complete if e["cat"] == "request"]
    assert len(requests) == len(timeline.in_window())


def test_the_run_queue_wait_is_counted_for_threads_that_share_a_core():
    """Two processes spinning on one CPU each wait for it about half the time, and
    ``waited_s`` (the kernel's schedstat account) climbs; a process asleep on the same CPU
    the while waits for nothing."""
    on_cpu0 = ["taskset", "-c", "0", sys.executable, "-c"]
    sleeper = subprocess.Popen([*on_cpu0, "import time; print(flush=True); time.sleep(30)"],
                               stdout=subprocess.PIPE)
    spinners = []
    try:
        sleeper.stdout.readline()
        wchan = Path(f"/proc/{sleeper.pid}/wchan")
        # in the sleep itself, not still on its way there (then it would queue for CPU 0)
        wait_for(lambda: wchan.read_text() == "hrtimer_nanosleep", 20, "the sleeper asleep")
        slept = sampler.waited_s([sleeper.pid])
        spin = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass"
        spinners = [subprocess.Popen([*on_cpu0, spin]) for _ in range(2)]
        pids = [proc.pid for proc in spinners]
        wait_for(lambda: sampler.waited_s(pids) >= 0.2, 20, "0.2 s in the run queue")
        assert sampler.waited_s([sleeper.pid]) == slept
    finally:
        for proc in (*spinners, sleeper):
            proc.kill()
            proc.wait()
