"""Celery's second broker: a real RabbitMQ of the lab's own beside Redis, and offload through
it (Redis's ten restarts in a row are in ``test_offload_celery.py``). RabbitMQ's ten restarts
and its 30-second Celery-host cut are not in ``make test`` yet: each boot of a node costs about
4 CPU-seconds on the 2-vCPU CI machine, in a first pass that is CPU-bound, and with them
``.ci/run`` took 8 min 29 s, past its 8-minute budget."""

from __future__ import annotations

import os

import pytest

from loadtests.load.client import get
from loadtests.servers import ServerSpec
from loadtests.services.celeryworker import CeleryWorker
from webapp.work.primes import QUICK_PRIME

pytestmark = pytest.mark.integration

def test_rabbitmq_runs_as_its_own_user_with_its_own_epmd(rabbit_server):

    procs = rabbit_server.processes()
    names = {p.name() for p in procs}
    assert {"beam.smp", "epmd"} <= names  # its own port mapper, in its session
    if os.geteuid() == 0:
        assert {p.username() for p in procs} == {"rabbitmq"}
    assert f":{rabbit_server.port}/" in rabbit_server.url
    assert rabbit_server.folder.exists() and rabbit_server.proc.poll() is None


@pytest.mark.parametrize("model", ["gevent", "gthread", "asgi"])
def test_offload_goes_through_rabbitmq_and_its_results_through_redis(
        model, serve, redis_server, rabbit_server):
    env = {"REDIS_URL": redis_server.url, "CELERY_BROKER_URL": rabbit_server.url}
    with CeleryWorker(redis_server.url, broker_url=rabbit_server.url, concurrency=1):
        server = serve(ServerSpec(model, offload="celery", env=tuple(env.items())))
        assert get(server.url + "/info").body["offload"]["broker"] == "RabbitMQ"
        answer = get(f"{server.url}/offload/prime/{QUICK_PRIME}").body
        assert answer["prime"] is True and answer["cpu"] > 0
