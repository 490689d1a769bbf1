"""Scenario 3: the broker host's cable is pulled; the web host says 503 and recovers alone.

With ``broker`` cut off, ``/offload/prime/N`` cannot be queued: the web host answers 503
JSON ("the task queue (Redis) is unreachable") within its offload timeout -- the lab's
Celery settings give up on the broker after short connect timeouts and few retries (with
RabbitMQ the same: its results' Redis is on the broker host too). ``/health`` never touches
the broker and stays as fast as before. Once the cable is back, the
next offload call is answered again, with no restart anywhere.

The hosts share one switch, so a cut host stops answering ARP: a new connection to it
fails with EHOSTUNREACH ("No route to host") after the kernel's ARP probes (about 3 s),
and a connect that outlasts ``redis_socket_connect_timeout`` (1 s) times out first. Across
a router, a cut host is silent instead; the same timeouts then decide.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from .network import Cluster
from .stack import WEB_WAIT_S, celery_host, probe, queue_host, until, web_host

HOSTS = ("web", "broker", "c1")


def run(log_dir: Path, *, calls: int = 5, tasks: int = 20, n: int = 2,
        broker: str = "redis") -> dict:
    """``tasks`` calls one after another before the cut (the latency per task, and the broker
    host's servers' start-up and memory after them), then ``calls`` in each phase."""
    log_dir.mkdir(parents=True, exist_ok=True)
    offload = f"/offload/prime/{n}"
    with Cluster(*HOSTS) as cluster, queue_host(cluster["broker"], log_dir, broker) as queue, \
            celery_host(cluster["c1"], queue, log_dir), \
            web_host(cluster["web"], log_dir, queue=queue) as web:
        hosts = {name: cluster[name].address for name in HOSTS}
        before = [probe(web.url + offload) for _ in range(tasks)]
        cost = queue.cost()
        health_before = [probe(web.url + "/health") for _ in range(calls)]
        cluster.cut("broker")
        cut_at = time.monotonic()
        during = [probe(web.url + offload, WEB_WAIT_S + 5) for _ in range(calls)]
        health_during = [probe(web.url + "/health", 5) for _ in range(calls)]
        cluster.rejoin("broker")
        rejoined = time.monotonic()
        recovered = until(lambda: probe(web.url + offload, WEB_WAIT_S + 5).status == 200, 60,
                          "an offload call answered after the broker rejoined")
        after = [probe(web.url + offload) for _ in range(calls)]
    return {
        "scenario": "brokercut", "broker": queue.broker, "hosts": hosts, "calls": calls,
        "web_wait_s": WEB_WAIT_S, "tasks": tasks, "servers": cost,
        "before": _summary(before), "during": _summary(during), "after": _summary(after),
        "health_before": _summary(health_before), "health_during": _summary(health_during),
        "error": during[0].body.get("error") if during else None,
        "outage_s": rejoined - cut_at, "recovered_after_s": recovered,
    }


def _summary(replies) -> dict:
    latencies = [r.latency * 1000 for r in replies]
    return {"statuses": {str(s): [r.status for r in replies].count(s)
                         for s in sorted({r.status for r in replies})},
            "json": all(isinstance(r.body, dict) and "_raw" not in r.body for r in replies),
            "p50_ms": statistics.median(latencies), "max_ms": max(latencies),
            "p90_ms": statistics.quantiles(latencies, n=10, method="inclusive")[-1]
            if len(latencies) > 1 else latencies[0]}
