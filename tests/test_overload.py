"""Past the knee: a burst of open traffic over a server's capacity, under each worker model.

Every request the burst schedules ends as exactly one outcome -- answered (by status),
failed (refused, reset, closed), timed out at the client, or dropped by the generator --
whatever the model does with the excess (``loadtests/load/outcomes.py``). And a server that
sheds (``ADMIT_LIMIT``: 503 at once past a number of requests in hand) answers the excess
at once instead of making it wait; one whose queue is bounded keeps its goodput through
a burst that melts the same server without the bound.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from loadtests.load import openloop
from loadtests.load.client import get, get_many
from loadtests.servers import GunicornServer, ServerSpec
from webapp.work.primes import MIXED_PRIME

from .helpers import retaken

pytestmark = pytest.mark.integration

#: A dozen milliseconds of pure Python a request: one process answers about 80 a second.
PATH = f"/prime/{MIXED_PRIME}"
#: One process of each model (gthread with two threads), and what overloads it at the least
#: CPU (the tests share the cores): a wait that holds its worker or its loop -- a sleep for
#: sync and gthread, a blocking sleep in the coroutine for asgi -- and, for gevent, whose
#: greenlets every wait here would free, the CPU work.
MODELS = {"sync": (ServerSpec("sync"), "/io?delay=0.05"),
          "gthread": (ServerSpec("gthread", threads=2), "/io?delay=0.05"),
          "gevent": (ServerSpec("gevent"), PATH),
          "asgi": (ServerSpec("asgi"), "/io?delay=0.05&blocking=1")}


@pytest.mark.parametrize("model", MODELS)
def test_every_request_of_a_burst_ends_as_one_outcome(model):
    """20/s, then 300/s (several times one process's capacity) for 0.6 s, then 20/s, with
    a client deadline of 0.3 s: some answered, some timed out, and not one uncounted."""
    spec, path = MODELS[model]
    with GunicornServer(spec) as server:
        run = openloop.open_loop(f"{server.url}{path}", 0, 0, seed=1, timeout=0.3,
                                 phases=[(20, 0.5), (300, 0.6), (20, 0.5)])
        # the quick stop, and a kill 0.5 s on: the backlog the clients left is no one's
        server.stop(0.5, graceful=False)
    summary = run.summary()
    ends = (summary["answered"] + sum(summary["failed"].values()) + summary["timed_out"]
            + summary["dropped"])
    assert ends == summary["scheduled"] == 20 * 0.5 + 300 * 0.6 + 20 * 0.5, summary
    assert summary["unaccounted"] == 0
    assert summary["statuses"].get("200") and summary["timed_out"], summary  # the burst bit
    timeline = summary["timeline"]
    assert sum(row["due"] for row in timeline) == summary["scheduled"]
    assert sum(row["good"] for row in timeline) == summary["good"] > 0


@pytest.mark.parametrize("model", ["gevent", "asgi"])
def test_an_admission_limit_answers_the_excess_503_at_once(model):
    """``ADMIT_LIMIT=3`` and 8 requests that wait 0.5 s at once: 3 are served, and the
    other 5 are answered 503 JSON naming the limit before any of those: they did not wait
    for a slot."""
    with GunicornServer(ServerSpec(model, env=(("ADMIT_LIMIT", "3"),))) as server:
        _, replies = get_many([f"{server.url}/io?delay=0.5"] * 8)
        after = get(f"{server.url}/health")
    by_status = {status: sorted((r for r in replies if r.status == status),
                                key=lambda r: r.latency) for status in (200, 503)}
    assert [len(by_status[200]), len(by_status[503])] == [3, 5], replies
    assert by_status[503][-1].latency < by_status[200][0].latency, replies
    assert all(r.body["status"] == 503 and "ADMIT_LIMIT" in r.body["error"]
               for r in by_status[503])
    assert after.status == 200  # the slots came back


@pytest.mark.timing  # its burst must overload the server, against a capacity measured just before
def test_the_lessons_burst_accounts_for_every_request_and_reads_the_queue():
    """The overload lesson's run on gevent, its phases shortened: every request one outcome,
    goodput a phase, a recovery read from the timeline, the queues sampled, the fluid's
    predictions beside them, and the row rendered. (How far the goodput falls is the
    sample's claim: in a clean-clone run's pass 1, beside other tests, the burst's last
    second once kept 27 answers in time, which the fluid would put near 0.) With the timing
    tests: that the burst overloads the server at all rests on the capacity measured just
    before it, and in the CPU-bound first pass -- the machine busier while measuring than
    during the burst -- once nothing timed out (clean-clone CI, 2026-12-06)."""
    from loadtests.lessons.base import Results
    from loadtests.lessons.observing.overload import run_one
    from loadtests.lessons.observing.shedding import DEADLINE_S
    from loadtests.lessons.overload import section

    row = run_one("gevent -w1", ServerSpec("gevent"), (1.0, 1.0, 1.0))
    assert row["unaccounted"] == 0 and row["timed_out"] > 0, row
    assert len(row["goodput_rps"]) == 3 and row["goodput_rps"][0] > 0
    # (how far the goodput falls is a timing claim: the committed sample makes it)
    assert row["predicted_recovery_s"] > 0 and row["predicted_burst_goodput_rps"] > 0
    assert row["recovery_s"] is None or row["recovery_s"] >= 0
    assert row["queue"] and max(q["established"] for q in row["queue"]) > 10
    assert row["peak"]["rss_mb"] > 10 and row["workers_replaced"] == 0
    assert row["deadline_s"] == DEADLINE_S
    assert row["retries"] == 0 and row["retried"] == 0
    # the same run as if its clients had retried once and the queue never drained
    stuck = {**row, "retries": 1, "retried": 5, "recovery_s": None,
             "predicted_recovery_s": None}
    shed = {**row, "bound": "--worker-connections 12, BACKLOG=8", "bound_requests": 20}
    text = section(Results({"settings": {}, "machine": {}, "cells": [],
                            "overload": [row, stuck, shed]}))
    assert "- gevent -w1: `--worker-connections 12, BACKLOG=8` (20 may wait): " in text
    assert "| gevent -w1 | none | gives up |" in text
    assert "| gevent -w1 | none | retries once (+5 sent) |" in text
    assert f"(= {row['scheduled']} of {row['scheduled']})" in text
    assert "- gevent -w1 (retries once): its clients' retries:" in text
    assert "(metastable)" in text


#: Per model, a burst's server with its queue bounded at about a fifth of a second's work
#: (the lesson's settings, sized by hand: the test has no capacity to size them from yet),
#: and the path that overloads it: a wait that holds the worker or its loop where there is
#: one (no CPU: the timing tests share the cores), CPU work for gevent, whose hub every
#: wait here would free. gevent's two servers then run one after the other, each on a core
#: of its own; the others side by side, where a busy core slows both alike.
SHEDDING = {
    "sync": ("/io?delay=0.05", "BACKLOG=8", (("env", (("BACKLOG", "8"),)),), None),
    "gthread": ("/io?delay=0.05", "--worker-connections 4, BACKLOG=4",
                (("worker_connections", 4), ("env", (("BACKLOG", "4"),))), None),
    "gevent": (PATH, "--worker-connections 8, BACKLOG=8",
               (("worker_connections", 8), ("env", (("BACKLOG", "8"),))), None),
    "asgi": ("/io?delay=0.05&blocking=1", "nginx limit_conn 4", (), (("limit_conn", 4),)),
}


#: A burst the machine disturbed: its server's threads waited for a core this much longer,
#: per second, than while its capacity was measured (its neighbour's load grew between the
#: two), or the hypervisor took this much of the machine's CPU per second of the burst. By
#: hand, gevent's burst alone waited 0-2 ms a second in both phases; beside one CPU hog
#: from the start, 18-44 ms in both; with two to six hogs started after the capacity,
#: 35-79 ms more in the burst, where the bounded server still kept 0.94-1.02 of its
#: capacity. Once, in make test's timing pass, it kept 0.75 (what the machine did then is
#: not known: these were added after it).
STARVED_PER_S = 0.02
#: Or the same request took this much more CPU in the burst than in the capacity's loop:
#: the VM ran slower between the two (its speed moves from minute to minute; by hand the
#: bounded gevent server's answers said 13.3 and 13.1 ms).
SLOWER = 1.1


def _starved(row: dict) -> bool:
    waited, cpu = row["waited_per_s"], row["cpu_ms"]
    stolen_per_s = row["steal_ms"] / 1000 / sum(seconds for _, seconds in row["phases"])
    return (waited["burst"] - waited["capacity"] >= STARVED_PER_S
            or stolen_per_s >= STARVED_PER_S
            or bool(cpu["capacity"] and cpu["burst"]
                    and cpu["burst"] >= SLOWER * cpu["capacity"]))


@pytest.mark.timing  # goodput against the capacity each server measured in the same run
@pytest.mark.parametrize("model", SHEDDING)
def test_a_bounded_queue_keeps_the_goodput_through_a_burst_that_melts_the_default(model):
    """One process of each model, offered 3× its measured capacity for 4 s with a 1 s
    deadline: as it comes, its queue outgrows the deadline and its goodput falls below 0.8
    of its capacity (the fluid: 0.375; the lesson's sample: 0.15–0.31 at 3× for longer; by
    hand, for 3 s, 2026-12-06: 0.45 gthread, 0.63 gevent, 0.48 asgi); with its queue
    bounded -- ``BACKLOG`` for sync, ``--worker-connections`` and ``BACKLOG`` for gthread
    and gevent, nginx's ``limit_conn`` in front of asgi, which has no such limit -- each
    admitted request is in time and the goodput stays at 0.8 or more (by hand: 0.97, 1.04
    and 0.96; sync 0.30 and 1.04). A run that misses is taken again, at most three, only
    where the machine took from the server during the burst what it had not while the
    capacity was measured (:func:`_starved`)."""
    import dataclasses

    from loadtests.lessons.observing.overload import run_one
    from loadtests.lessons.observing.shedding import Bound

    path, setting, changes, front = SHEDDING[model]
    spec = ServerSpec(model, threads=2 if model == "gthread" else 1)
    bound = Bound(dataclasses.replace(spec, **dict(changes)), setting, None, front=front)
    runs = {"default": (spec, None), "bounded": (bound.spec, bound)}

    def burst(name: str) -> dict:
        server, limit = runs[name]
        return run_one(name, server, (1.0, 4.0, 1.0), path=path, bound=limit)

    def measure() -> dict[str, dict]:
        with ThreadPoolExecutor(1 if model == "gevent" else len(runs)) as pool:
            return dict(zip(runs, pool.map(burst, runs), strict=True))

    def share(rows: dict[str, dict]) -> dict[str, float]:
        return {name: row["goodput_rps"][1] / row["capacity_rps"] for name, row in rows.items()}

    def holds(rows: dict[str, dict]) -> bool:
        shares = share(rows)
        return shares["bounded"] >= 0.8 > shares["default"]

    rows = retaken(measure, holds, lambda rows: any(map(_starved, rows.values())))
    assert holds(rows), (share(rows), rows)
    for row in rows.values():
        assert row["unaccounted"] == 0 and row["workers_replaced"] == 0, row
    backlog = dict(bound.spec.env).get("BACKLOG")
    if backlog:  # the kernel holds at most BACKLOG + 1 unaccepted connections
        assert rows["bounded"]["peak"]["accept_queue"] <= int(backlog) + 1, rows["bounded"]
    if model == "sync":  # where the default's queue was: the accept queue
        assert rows["default"]["peak"]["accept_queue"] > 9, rows["default"]


def test_the_limit_lets_half_a_deadlines_work_wait_and_nginx_limits_asgi():
    """The overload lesson's shedding settings, sized from a measured capacity: 44/s and a
    1 s deadline let 22 requests wait -- sync in its accept queue, gthread and gevent in
    the connections a worker accepts and 8 behind them, asgi behind nginx's limit_conn (no
    such limit in gunicorn's asgi worker); the app's admission limit where the app would
    hold the waiting requests (gevent, asgi: on CPU work it bounds no queue), nginx's rate
    limit in front of sync (at 0.9 of the capacity: 40/s), and nginx's deadline, with no
    limit, in front of every model."""
    from loadtests.lessons.observing.shedding import READ_TIMEOUT_S, bounded, shedders

    limit = bounded(ServerSpec("sync"), 44.0)
    assert limit.spec.env == (("BACKLOG", "22"),) and limit.front is None
    assert (limit.setting, limit.requests) == ("BACKLOG=22", 22)
    for model in ("gthread", "gevent"):
        limit = bounded(ServerSpec(model), 44.0)
        assert limit.spec.worker_connections == 14 and limit.spec.env == (("BACKLOG", "8"),)
        assert (limit.setting, limit.requests) == ("--worker-connections 14, BACKLOG=8", 22)
    limit = bounded(ServerSpec("asgi"), 44.0)
    assert limit.spec == ServerSpec("asgi") and limit.front == (("limit_conn", 22),)
    assert (limit.setting, limit.requests) == ("nginx limit_conn 22", 22)
    settings = {model: [(b.setting, b.requests, b.spec.env, b.front)
                        for b in shedders(ServerSpec(model), 44.9)[1:]]
                for model in ("sync", "gthread", "gevent", "asgi")}
    deadline = ("nginx proxy_read_timeout 900ms", None, (), (("read_timeout", READ_TIMEOUT_S),))
    assert settings["sync"] == [deadline, ("nginx limit_req 40r/s burst 22", 22, (),
                                           (("limit_req", (40, 22)),))]
    assert settings["gthread"] == [deadline]
    for model in ("gevent", "asgi"):
        assert settings[model] == [deadline, ("ADMIT_LIMIT=22", None,
                                              (("ADMIT_LIMIT", "22"),), None)]


def test_nginx_limit_req_sheds_past_its_burst_and_its_read_timeout_answers_504_json():
    """The lab's nginx in front of gevent: with ``limit_req`` at 1 r/s and a burst of 1, of
    4 requests at once one passes, one waits its turn in nginx, and 2 are answered 503 JSON
    at once; with ``proxy_read_timeout`` 0.3 s, a request gunicorn answers after 2 s is
    answered 504 JSON by nginx."""
    from loadtests.services.nginx import NginxProxy

    with GunicornServer(ServerSpec("gevent")) as server:
        with NginxProxy(server.port, limit_req=(1, 1)) as proxy:
            _, answers = get_many([f"{proxy.url}/io?delay=0"] * 4)
        with NginxProxy(server.port, read_timeout=0.3) as proxy:
            late = get(f"{proxy.url}/io?delay=2")
    assert sorted(r.status for r in answers) == [200, 200, 503, 503], answers
    shed = [r for r in answers if r.status == 503]
    assert all(r.body == {"status": 503, "error": "over nginx limit_req 1r/s burst 1: shed, "
                                                  "retry later"} for r in shed)
    waited = max(r.latency for r in answers if r.status == 200)
    assert waited >= 0.5  # nginx let it through a second after the first
    assert max(r.latency for r in shed) < waited  # shed at once, not after it
    assert late.status == 504 and late.body == {"status": 504,
                                                "error": "no answer in proxy_read_timeout"}
    assert late.latency < 1.5


def test_nginx_limit_conn_answers_the_excess_503_json_at_once():
    """The lab's nginx with ``limit_conn 3`` in front of gevent: while 3 requests wait 2 s
    upstream, 5 more are answered 503 JSON by nginx at once, and the 3 then 200."""
    import threading

    from loadtests.harness.sockets import port_queues
    from loadtests.services.nginx import NginxProxy

    from .helpers import wait_for

    with GunicornServer(ServerSpec("gevent")) as server, \
            NginxProxy(server.port, limit_conn=3) as proxy:
        held: list = []
        waits = [threading.Thread(target=lambda: held.append(get(f"{proxy.url}/io?delay=2")))
                 for _ in range(3)]
        for thread in waits:
            thread.start()
        try:
            wait_for(lambda: port_queues(server.port).established >= 3, 10,
                     "three requests passed on to gunicorn")
            _, shed = get_many([f"{proxy.url}/io?delay=0"] * 5)
        finally:
            for thread in waits:
                thread.join()
    assert [r.status for r in held] == [200] * 3, held
    assert [r.status for r in shed] == [503] * 5, shed
    assert all(r.body == {"status": 503, "error": "over nginx limit_conn 3: shed, retry later"}
               for r in shed)
    assert max(r.latency for r in shed) < 1.0  # at once, not after the 2 s waits
