"""Celery's second broker: a real RabbitMQ of the lab's own beside Redis, offload through it,
and ten crashes in a row under a web worker that offloads to Celery (Redis's ten restarts are
in ``test_offload_celery.py``; both through ``helpers.broker_restarts``). RabbitMQ's cut Celery
host is in ``test_hosts.py``. Each node boot costs about 2.2 CPU-seconds (Erlang's
scheduler flags do not lower it: measured, contributing.md), so the ten crashes are about
30 CPU-seconds of ``make test``'s CPU-bound first pass."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from loadtests.load.client import get
from loadtests.servers import GunicornServer, ServerSpec
from loadtests.services.celeryworker import CeleryWorker
from webapp.work.primes import QUICK_PRIME

from .helpers import OUTAGES_S, RECOVERY_S, alive, broker_restarts

pytestmark = pytest.mark.integration


def test_rabbitmq_runs_as_its_own_user_with_its_own_epmd_and_its_core_only(rabbit_server):
    procs = rabbit_server.processes()
    names = {p.name() for p in procs}
    assert {"beam.smp", "epmd"} <= names  # its own port mapper, in its session
    if os.geteuid() == 0:
        assert {p.username() for p in procs} == {"rabbitmq"}
    assert f":{rabbit_server.port}/" in rabbit_server.url
    assert rabbit_server.folder.exists() and rabbit_server.proc.poll() is None
    # its plugins folder: the core's applications, none of the package's plugins
    linked = {path.name.rsplit("-", 1)[0] for path in (rabbit_server.folder / "plugins").iterdir()}
    assert {"rabbit", "rabbit_common", "rabbitmq_prelaunch", "ra"} <= linked, linked
    assert not {name for name in linked if name.startswith("rabbitmq_") and
                name != "rabbitmq_prelaunch"}, linked


@pytest.mark.parametrize("model", ["gevent", "gthread", "asgi"])
def test_offload_goes_through_rabbitmq_and_its_results_through_redis(
        model, serve, redis_server, rabbit_server):
    env = {"REDIS_URL": redis_server.url, "CELERY_BROKER_URL": rabbit_server.url}
    with CeleryWorker(redis_server.url, broker_url=rabbit_server.url, concurrency=1):
        server = serve(ServerSpec(model, offload="celery", env=tuple(env.items())))
        assert get(server.url + "/info").body["offload"]["broker"] == "RabbitMQ"
        answer = get(f"{server.url}/offload/prime/{QUICK_PRIME}").body
        assert answer["prime"] is True and answer["cpu"] > 0


def test_ten_rabbitmq_crashes_each_recover_within_5_s_and_leave_nothing(redis_server,
                                                                        rabbit_server):
    """A node of its own (beside the session's: its own ports and folder) SIGKILLed ten times
    in a row (a crash: its queues come back from its folder), then stopped: nothing of it is
    left, and the session's node is untouched."""
    from loadtests.services.rabbitmq import RabbitServer

    with RabbitServer() as node:
        assert node.port != rabbit_server.port and node.folder != rabbit_server.folder
        env = {"REDIS_URL": redis_server.url, "CELERY_BROKER_URL": node.url}
        spec = ServerSpec("gevent", offload="celery", env=tuple(env.items()))
        with CeleryWorker(redis_server.url, broker_url=node.url, concurrency=1) as worker, \
                GunicornServer(spec) as server:
            assert get(f"{server.url}/offload/prime/7").body["prime"] is True
            recoveries = broker_restarts(server, lambda: node.stop_server(signal.SIGKILL),
                                         node.serve_again, OUTAGES_S)
            assert worker.proc.poll() is None
        folder, family = node.folder, node.processes()
    assert max(recoveries) < RECOVERY_S, [round(r, 2) for r in recoveries]
    assert not alive(family) and not Path(folder).exists()
    assert rabbit_server.proc.poll() is None
