"""Scenario 2: a Celery host's cable is pulled while it runs tasks; what comes back, what not.

``c1`` and ``c2`` each run a Celery worker (prefork, two processes). A burst of
``/offload/prime/N`` requests goes to the web host; once ``c1`` has ``busy`` tasks in
progress its cable is cut, for ``cut_s`` seconds.

* The tasks ``c1`` had received are acknowledged late (``task_acks_late``): they stay in
  Redis's ``unacked`` hash, and once older than ``VISIBILITY_TIMEOUT`` a worker still
  connected (``c2``) puts them back on the queue at its next restore pass (kombu's
  ``unacked_restore_interval``) and runs them. ``c1`` computed them too but could not store
  the result: each ran twice. ``is_prime`` is idempotent, so the second run cost CPU and
  nothing else.
* A task Redis had already *popped* for ``c1`` -- the reply to the BRPOP of its idle
  process, in flight at the cut -- is in no list and no hash: only ``c1``'s socket can still
  receive it. A short cut, and TCP delivers it when the cable is back. A cut longer than
  kombu's patience (it drops a BRPOP connection whose reply is ``brpop_timeout`` +
  ``health_check_interval`` = 26 s overdue, checked every 25 s) and the connection is
  closed: the task is lost, and the user waiting for it gets a 504.

With RabbitMQ as the broker (``broker="rabbitmq"``) there is no such gap: RabbitMQ hands a
message to a consumer and keeps it, unacknowledged, until the consumer acknowledges it or its
connection closes -- then it is queued again. A cut-off consumer's connection closes when the
broker misses its heartbeats (``broker_heartbeat``, :data:`.stack.HEARTBEAT_S`): whatever
c1 held or had been sent goes to c2.

Counted from the workers' own logs (Celery logs each task it receives and finishes) and
from what the web host answered.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from webapp.work.primes import QUICK_PRIME

from .network import Cluster
from .stack import (
    HEARTBEAT_S,
    RESTORE_INTERVAL_S,
    VISIBILITY_S,
    WEB_WAIT_S,
    TaskLog,
    celery_host,
    probe,
    queue_host,
    until,
    web_host,
)

HOSTS = ("web", "broker", "c1", "c2")
#: A blip (a switch port flapping); an outage past the visibility timeout and the restore
#: interval; one past kombu's stale-BRPOP check too.
SHORT_CUT_S = 3.0
CUT_S = 30.0
LONG_CUT_S = 60.0
#: (cut seconds, tasks c1 holds when it is cut): the three runs the lesson shows. With both
#: its processes busy c1 has no BRPOP waiting (prefetch 1 per process is full); with one
#: busy, its other process's BRPOP is out, and its answer is in flight at the cut.
RUNS = ((SHORT_CUT_S, 1), (CUT_S, 2), (LONG_CUT_S, 1))


def run(log_dir: Path, *, requests: int = 40, cut_s: float = SHORT_CUT_S, busy: int = 1,
        n: int = QUICK_PRIME, broker: str = "redis") -> dict:
    log_dir.mkdir(parents=True, exist_ok=True)
    url_path = f"/offload/prime/{n}"
    with Cluster(*HOSTS) as cluster, queue_host(cluster["broker"], log_dir, broker) as queue, \
            celery_host(cluster["c1"], queue, log_dir, concurrency=2) as c1, \
            celery_host(cluster["c2"], queue, log_dir, concurrency=2) as c2, \
            web_host(cluster["web"], log_dir, queue=queue) as web, \
            ThreadPoolExecutor(requests) as pool:
        hosts = {name: cluster[name].address for name in HOSTS}
        tasks = TaskLog({"c1": c1, "c2": c2})
        probe(web.url + "/offload/prime/2")  # the web worker's first call connects
        # the burst's tasks only: the probe's answer can reach the web before its worker
        # has logged it done (seen on a busy machine: the cut then caught c1 with nothing)
        earlier = tasks.received()
        pending = [pool.submit(probe, web.url + url_path, WEB_WAIT_S + 5)
                   for _ in range(requests)]
        until(lambda: len(tasks.running("c1") - earlier) >= busy, 30,
              f"c1 running {busy} task(s)")
        cluster.cut("c1")
        cut_at, cut_wall = time.monotonic(), time.time()
        held = tasks.running("c1") - earlier
        time.sleep(cut_s)  # the outage's planned length, not synchronisation
        cluster.rejoin("c1")
        replies = [future.result() for future in pending]
        answered_at = time.monotonic()
        # c1 serves again: with c2's two processes busy on a burst, c1 gets some of it
        done = set(tasks.events("c1")["succeeded"]) | held
        extra = []

        def c1_served() -> bool:
            more = [pool.submit(probe, web.url + url_path) for _ in range(8)]
            extra.extend(future.result() for future in more)
            return bool(set(tasks.events("c1")["succeeded"]) - done)

        back = until(c1_served, 90, "c1 serving again after it rejoined")
        c1_seen, c2_seen = tasks.events("c1"), tasks.events("c2")
        received = tasks.received() - earlier
    statuses = [reply.status for reply in replies]
    answered = statuses.count(200)
    on_both = {task for task in received
               if task in c1_seen["received"] and task in c2_seen["received"]}
    return {
        "scenario": "workercut", "broker": queue.broker, "hosts": hosts, "cut_s": cut_s,
        "busy": busy,
        "submitted": requests, "answered": answered, "failed": requests - answered,
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        # the tasks c1 had received and not finished when its cable was pulled
        "held": len(held), "redelivered": sum(task in c2_seen["received"] for task in held),
        "ran_twice": len(on_both),
        "results_stored_twice": sum(task in c1_seen["succeeded"] and task in c2_seen["succeeded"]
                                    for task in on_both),
        # tasks no worker ever received (popped by Redis for c1, never read): of all the
        # tasks sent, the burst's and the later ones', those no log names
        "lost": requests + len(extra) - len(received),
        "later_failed": sum(reply.status != 200 for reply in extra),
        # the last answer of the burst: a held task's, from whichever host ran it
        "recovered_s": max(r.received for r in replies if r.status == 200) - cut_wall,
        "slowest_answer_s": max(reply.latency for reply in replies),
        "c1_back_after_s": answered_at - cut_at - cut_s + back,
        "visibility_timeout_s": VISIBILITY_S, "restore_interval_s": RESTORE_INTERVAL_S,
        "heartbeat_s": HEARTBEAT_S, "web_wait_s": WEB_WAIT_S,
    }
