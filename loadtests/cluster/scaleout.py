"""Scenario 1: CPU work scales out over Celery hosts, and each call pays the queue's round trips.

Host ``web`` runs gunicorn (gevent -w1, ``OFFLOAD_BACKEND=celery``), ``broker`` runs
redis-server, ``c1`` and ``c2`` each a Celery worker (prefork, one process). Closed-loop
users keep ``/offload/prime/N`` busy with ``c1`` alone, then with ``c1`` and ``c2``: the
bound is P ÷ S with P the Celery processes on every host -- capped, here, by the cores the
hosts share. Then the trivial call ``/offload/prime/2`` is timed with latency on the broker's
link (:mod:`.delay`): every millisecond of round trip to the broker is paid once per Redis
command on the call's path -- counted per call from Redis's ``INFO commandstats``.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import redis

from webapp.work.primes import QUICK_PRIME

from .delay import DelayRelay
from .network import Cluster
from .stack import REDIS_PORT, broker, celery_host, probe, web_host

HOSTS = ("web", "broker", "c1", "c2")
#: The delays each way on the broker's link, ms; None: no relay at all (its own cost).
DELAYS_MS = (None, 0.0, 5.0, 20.0)


def closed_loop(url: str, users: int, seconds: float) -> list:
    """``users`` threads each GET ``url`` back to back for ``seconds``; every reply."""
    replies: list = []
    stop = time.monotonic() + seconds

    def user():
        while time.monotonic() < stop:
            replies.append(probe(url))

    threads = [threading.Thread(target=user) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies


def throughput(url: str, users: int, seconds: float, processes: int) -> dict:
    """The rate of answered checks against P ÷ S and against the shared cores' bound."""
    closed_loop(url, users, 1.0)  # warm-up: each pool process imports and connects
    start = time.monotonic()
    replies = closed_loop(url, users, seconds)
    wall = time.monotonic() - start
    good = [r for r in replies if r.status == 200]
    cpu = statistics.fmean(r.body["cpu"] for r in good) if good else None
    cores = os.cpu_count() or 1
    rps = len(good) / wall
    return {
        "processes": processes, "users": users, "seconds": wall, "answered": len(good),
        "failed": len(replies) - len(good), "rps": rps, "s_cpu": cpu,
        "bound_hosts_rps": min(users, processes) / cpu if cpu else None,
        "bound_here_rps": min(users, processes, cores) / cpu if cpu else None,
        "fidelity": rps * cpu / min(users, processes, cores) if cpu else None,
    }


def round_trips(url: str, calls: int, redis_url: str) -> dict:
    """The trivial call's wall time, ``calls`` times one after another (after one warm-up),
    and the Redis commands each call made (``INFO commandstats``, before and after)."""
    probe(url)
    with redis.Redis.from_url(redis_url, socket_timeout=5) as client:
        before = client.info("commandstats")
        times = [probe(url).latency * 1000 for _ in range(calls)]
        after = client.info("commandstats")
    commands = {name.removeprefix("cmdstat_").upper():
                round((stats["calls"] - before.get(name, {}).get("calls", 0)) / calls, 2)
                for name, stats in after.items() if name != "cmdstat_info"}
    return {"p50_ms": statistics.median(times), "mean_ms": statistics.fmean(times),
            "calls": calls, "commands": {k: v for k, v in sorted(commands.items()) if v}}


def latency_rows(cluster: Cluster, redis_port: int, log_dir: Path, calls: int,
                 delays: tuple = DELAYS_MS) -> list[dict]:
    """The trivial call with no relay, then through the relay at each delay."""
    rows = []
    for index, delay in enumerate(delays):
        with ExitStack() as stack:
            port = redis_port
            if delay is not None:
                port = redis_port + 1 + index
                stack.enter_context(DelayRelay(redis_port, port, delay, place=cluster["broker"],
                                               log_path=log_dir / f"delay-{index}.log"))
            url = f"redis://{cluster['broker'].address}:{port}/0"
            stack.enter_context(celery_host(cluster["c1"], url, log_dir))
            web = stack.enter_context(web_host(cluster["web"], log_dir, redis_url=url))
            rows.append({"delay_ms": delay, "rtt_ms": 2 * delay if delay is not None else None,
                         **round_trips(web.url + "/offload/prime/2", calls, url)})
    base = next(row for row in rows if row["delay_ms"] == 0)
    for row in rows:
        if row["rtt_ms"]:
            added = row["p50_ms"] - base["p50_ms"]
            row["added_ms"] = added
            row["added_rtts"] = added / row["rtt_ms"]
    return rows


def run(log_dir: Path, *, seconds: float = 8.0, users: int = 4, calls: int = 30,
        delays: tuple = DELAYS_MS, n: int = QUICK_PRIME) -> dict:
    log_dir.mkdir(parents=True, exist_ok=True)
    with Cluster(*HOSTS) as cluster, broker(cluster["broker"], log_dir) as queue:
        hosts = {name: cluster[name].address for name in HOSTS}
        url = f"/offload/prime/{n}"
        with celery_host(cluster["c1"], queue.url, log_dir), \
                web_host(cluster["web"], log_dir, redis_url=queue.url) as web:
            alone = throughput(web.url + url, users, seconds, processes=1)
            with celery_host(cluster["c2"], queue.url, log_dir):
                both = throughput(web.url + url, users, seconds, processes=2)
        latency = latency_rows(cluster, REDIS_PORT, log_dir, calls, delays)
    return {"scenario": "scaleout", "hosts": hosts,
            "n": n, "throughput": [alone, both], "latency": latency,
            "scale": both["rps"] / alone["rps"],
            "commands_per_call": latency[0]["commands"]}

