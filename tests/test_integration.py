"""Real gunicorn servers, one per worker model: what each does with I/O and with CPU."""


import pytest

from loadtests.load.client import get, get_many
from loadtests.servers import GunicornServer, ServerSpec
from webapp.work.primes import SLOW_PRIME

from .helpers import GEVENT, GTHREAD, MODELS, SYNC, alive, health_during

pytestmark = [pytest.mark.integration, pytest.mark.timing]  # ratios of wall times, orderings


@pytest.mark.parametrize("model", MODELS)
def test_info_reports_the_running_model(serve, model):
    server = serve(MODELS[model])
    reply = get(server.url + "/info")
    assert reply.status == 200
    body = reply.body
    assert body["worker_class"] == model
    assert body["pid"] in server.worker_pids()
    assert body["gevent_patched"] is (model == "gevent")
    assert (body["greenlet"] is not None) is (model == "gevent")


@pytest.mark.parametrize("model", MODELS)
def test_bad_input_is_json_4xx_on_a_real_server(serve, model):
    server = serve(MODELS[model])
    for path, status in [("/prime/-1", 400), ("/io?delay=nan", 400), ("/nope", 404)]:
        reply = get(server.url + path)
        assert reply.status == status
        assert reply.body["error"]
    assert get(server.url + "/health").status == 200


REQUESTS, DELAY = 4, 0.5


def _io_batch_ratio(server) -> float:
    """Wall time of REQUESTS concurrent /io calls, over the time they take one after another."""
    wall, replies = get_many([f"{server.url}/io?delay={DELAY}"] * REQUESTS)
    assert all(r.status == 200 for r in replies)
    return wall / (REQUESTS * DELAY)


def test_sync_one_worker_serialises_io(serve):
    assert _io_batch_ratio(serve(SYNC)) >= 0.75  # ideal 1.0: one request at a time


@pytest.mark.parametrize("spec", [GTHREAD, GEVENT], ids=["gthread", "gevent"])
def test_threads_and_greenlets_overlap_io(serve, spec):
    assert _io_batch_ratio(serve(spec)) <= 0.5  # ideal 1/REQUESTS: all at once


def _health_during_prime(server):
    """Once a long /prime is computing, send /health again and again until it ends."""
    (pid,) = server.worker_pids()
    return health_during(server, f"/prime/{SLOW_PRIME}", pid)


@pytest.mark.parametrize("spec", [GEVENT, SYNC], ids=["gevent", "sync"])
def test_one_busy_worker_cannot_answer_health(serve, spec):
    """gevent -w1: CPU work blocks the event loop, so /health waits for the prime."""
    during, finished_after = _health_during_prime(serve(spec))
    assert all(h.received >= finished_after for h in during)


def test_gthread_answers_health_while_a_thread_computes(serve):
    """The GIL is handed over every switch interval, so another thread can answer."""
    during, finished_after = _health_during_prime(serve(GTHREAD))
    answered_meanwhile = [h for h in during if h.received < finished_after]
    assert answered_meanwhile


def test_two_workers_are_two_processes(serve):
    server = serve(ServerSpec("sync", workers=2))
    pids = set(server.worker_pids())
    assert len(pids) == 2
    _, replies = get_many([f"{server.url}/io?delay=0.3"] * 2)
    assert {r.body["pid"] for r in replies} == pids


@pytest.mark.parametrize("model", MODELS)
def test_stop_reaps_master_and_workers(model):
    server = GunicornServer(ServerSpec(model, workers=2, threads=2 if model == "gthread" else 1))
    server.start()
    procs = server.processes()
    assert len(procs) == 3  # master + 2 workers
    server.stop()
    assert not alive(procs)
