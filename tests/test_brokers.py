"""Celery's second broker: a real RabbitMQ of the lab's own beside Redis, offload through it,
and ten crashes in a row under a web worker that offloads to Celery (Redis's ten restarts are
in ``test_offload_celery.py``; both through ``helpers.broker_restarts``). RabbitMQ's cut Celery
host is in ``test_hosts.py``. Each node boot costs about 2.2 CPU-seconds (Erlang's
scheduler flags do not lower it: measured, contributing.md), so the ten crashes are about
30 CPU-seconds of ``make test``'s CPU-bound first pass."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from loadtests.load.client import Reply, get
from loadtests.servers import GunicornServer, ServerSpec
from loadtests.services.celeryworker import CeleryWorker
from webapp.work.primes import QUICK_PRIME

from .helpers import OUTAGES_S, RECOVERY_S, alive, broker_restarts, tcp_queues, wait_for

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
    left, and the session's node is untouched. First, a crash that catches a publish unread
    (the node frozen, then killed): publisher confirms make it a 503, not a lost task
    waited for until ``OFFLOAD_TIMEOUT`` (a race that a plain crash loses now and then)."""
    from loadtests.services.rabbitmq import RabbitServer

    with RabbitServer() as node:
        assert node.port != rabbit_server.port and node.folder != rabbit_server.folder
        env = {"REDIS_URL": redis_server.url, "CELERY_BROKER_URL": node.url}
        spec = ServerSpec("gevent", offload="celery", env=tuple(env.items()))
        with CeleryWorker(redis_server.url, broker_url=node.url, concurrency=1) as worker, \
                GunicornServer(spec) as server:
            assert get(f"{server.url}/offload/prime/7").body["prime"] is True
            reply, after_kill = _publish_to_a_node_that_dies_unread(server, node)
            assert reply.status == 503 and after_kill < 5, (reply.body, after_kill)
            node.serve_again()
            recoveries = broker_restarts(server, lambda: node.stop_server(signal.SIGKILL),
                                         node.serve_again, OUTAGES_S)
            assert worker.proc.poll() is None
        folder, family = node.folder, node.processes()
    assert max(recoveries) < RECOVERY_S, [round(r, 2) for r in recoveries]
    assert not alive(family) and not Path(folder).exists()
    assert rabbit_server.proc.poll() is None


def _publish_to_a_node_that_dies_unread(server, node) -> tuple[Reply, float]:
    """The node frozen (SIGSTOP); a call whose publish waits, unread, in the node's socket;
    the node SIGKILLed: the call's reply and the seconds from the kill to it. Only the web
    worker's connections to the node count, and only a publish's worth of bytes (a task
    message is several hundred; an AMQP heartbeat, 8)."""
    (pid,) = server.worker_pids()
    web = {c.laddr.port for c in psutil.Process(pid).net_connections("tcp")
           if c.raddr and c.raddr.port == node.port}

    def unread() -> int:
        return sum(receive for (local, remote), (_, receive) in tcp_queues(node.port).items()
                   if local == node.port and remote in web)

    for process in node.processes():
        process.suspend()
    before = unread()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        call = pool.submit(get, f"{server.url}/offload/prime/7", timeout=30)
        wait_for(lambda: unread() >= before + 100, 10,
                 "the publish never reached the frozen node")
        killed = time.monotonic()
        node.stop_server(signal.SIGKILL)
        reply = call.result()
    return reply, time.monotonic() - killed
