"""The four multi-host scenarios, one after another, each on hosts of its own, and what the
cuts' rows say (the hosts lesson's section shows them).

:func:`watch` is the hosts lesson's observation (``--hosts``, on with the full preset, and
``make hosts``): it needs root, and says so in one line otherwise -- except under
``CI=true``, where nothing may be skipped. Each scenario builds its cluster, runs, and
tears everything down before the next; the logs of each are kept in ``log_dir``.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path


def scenarios() -> dict:
    """Each run by name (its logs' folder): the worker cut three ways (workercut.RUNS) and
    the broker cut, each with each broker. (The cluster's modules are imported here, when a
    run is asked for: they import Celery, redis and psycopg, a fifth of a second that every
    command naming the lessons would otherwise pay at its start.)"""
    from ...cluster import balancing, brokercut, scaleout, workercut
    from ...cluster.stack import BROKERS

    return {
        "scaleout": scaleout.run,
        **{f"workercut-{cut:g}s-{kind}": functools.partial(workercut.run, cut_s=cut,
                                                          busy=busy, broker=kind)
           for kind in BROKERS for cut, busy in workercut.RUNS},
        **{f"brokercut-{kind}": functools.partial(brokercut.run, broker=kind)
           for kind in BROKERS},
        "balancing": balancing.run,
    }


def watch(log_dir: Path | None = None, only: tuple[str, ...] = ()) -> list[dict]:
    """Each scenario's row (its counts and times), or one row saying why none ran."""
    from ...cluster.network import unavailable

    if why := unavailable():
        if os.environ.get("CI") == "true":
            print(f"hosts: {why} (CI=true: nothing may be skipped)", file=sys.stderr)
            raise SystemExit(2)
        print(f"hosts: skipped: {why}", file=sys.stderr)
        return [{"skipped": why}]
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="lab-hosts-"))
    rows = []
    for name, run in scenarios().items():
        if not only or name in only or name.split("-")[0] in only:
            print(f"hosts: {name} (logs in {log_dir / name})", file=sys.stderr)
            rows.append(run(log_dir / name))
    return rows


# -- the rows, told (the lesson's section renders them) -------------------------------

def workercut_lines(rows: list[dict]) -> list[str]:
    """The Celery-host cuts' table and what it shows, for the lesson's section."""
    lines = ["#### 2. A Celery host cut off mid-task", "",
             "| broker | cut | c1's processes busy | submitted | answered | failed | held by c1 | "
             "redelivered to c2 | "
             "ran twice | results stored twice | lost | last answer after the cut | "
             "c1 serving again, after the rejoin |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {row['broker']} | {row['cut_s']:g} s | {row['busy']} of 2 | {row['submitted']} | "
            f"{row['answered']} | {row['failed']} | "
            f"{row['held']} | {row['redelivered']} | {row['ran_twice']} | "
            f"{row['results_stored_twice']} | **{row['lost']}** | {row['recovered_s']:.1f} s | "
            f"{row['c1_back_after_s']:.1f} s |")
    row = next(row for row in rows if row["broker"] == "Redis")
    lines += [
        "", "With Redis, the tasks c1 had received were acknowledged late "
        "(`task_acks_late`): they stayed in Redis's `unacked` hash. A short cut, and c1 stored "
        "their results itself once the cable was back (its workers retry a result write "
        "through an outage: `result_backend_always_retry`). A long one, and once a "
        f"reservation was older than the visibility timeout ({row['visibility_timeout_s']} s) "
        f"c2's next restore pass (every {row['restore_interval_s']} s, kombu's "
        "`unacked_restore_interval`) put it back on the queue and c2 ran it: the time to "
        "recovery is bounded by those two settings, "
        f"not by the cut, and the web's wait ({row['web_wait_s']} s, `OFFLOAD_TIMEOUT`) must "
        "cover them. c1 had computed those tasks too, and stored its answer when it came "
        "back: they ran twice. `is_prime` is idempotent, so the second run cost CPU and "
        "nothing else; a task with a side effect (a payment, an e-mail) must check a key "
        "before acting before it gets these settings.",
        "",
        "**What was lost, and why.** A task Redis had already popped for c1 — the answer to "
        "the BRPOP of c1's idle process, in flight at the cut (with both processes busy, "
        "prefetch 1 each is full and no BRPOP is out) — is in no list and no hash: "
        "only c1's socket could still receive it. After a short cut TCP delivered it; after a "
        "long one kombu had dropped that connection as stale (a BRPOP reply `brpop_timeout` + "
        "`health_check_interval` = 26 s overdue, checked every 25 s) and the task was gone; "
        "its user got a 504 after the web's wait. Celery over Redis is at-least-once for a "
        "task a worker has received, and at-most-once for one popped for a worker that "
        "vanished before reading it: kombu's Redis transport pops with BRPOP, not a move "
        "into a per-worker list (the same window at shutdown: kombu pull request 1733).",
        "", *rabbit_cut_lines([row for row in rows if row["broker"] == "RabbitMQ"]),
        "A first version of the lab's settings lost a task even in a 5-second cut: c1 "
        "computed it, could not store the result, and Celery acknowledged that \"failure\" "
        "(`acks_late` acknowledges failed tasks by default). The lab's workers now retry "
        "the result write, and a task that passes its time limit goes back to the queue "
        "(`task_acks_on_failure_or_timeout=False`).",
    ]
    return lines


def rabbit_cut_lines(rows: list[dict]) -> list[str]:
    """What the same cuts did with RabbitMQ as the broker."""
    if not rows:
        return []
    lost = sum(row["lost"] for row in rows)
    long = max(rows, key=lambda row: row["cut_s"])
    each = ", ".join(f"{row['cut_s']:g} s: {row['lost']}" for row in rows)
    return [
        f"**With RabbitMQ.** Lost: {lost} in {len(rows)} cuts ({each}). RabbitMQ keeps "
        "every message it has sent a consumer, unacknowledged, until that consumer "
        "acknowledges it or its connection closes, and then queues it again: a task in "
        "flight to c1 at the cut is such a message, like the ones c1 was running. A cut "
        "connection closes when the broker misses its heartbeats (the lab's "
        f"`broker_heartbeat` is {long['heartbeat_s']} s; Celery's default, 120 s, would leave "
        "them with c1 for minutes): after the "
        f"{long['cut_s']:g}-second cut, c2 was sent {long['redelivered']} of the "
        f"{long['held']} task(s) c1 held, and the last answer came "
        f"{long['recovered_s']:.1f} s after the cut. A task redelivered this way ran twice "
        f"({long['ran_twice']} here): at-least-once, so a task that is not idempotent must "
        "guard itself (a key it checks before acting) with either broker.",
        "",
    ]


def brokercut_lines(row: dict) -> list[str]:
    """The broker cut's table and what it shows, for the lesson's section."""
    during, health = row["during"], row["health_during"]
    return [
        f"#### 3. The broker host cut off: {row['broker']}", "",
        "| | /offload/prime/2 | p50 ms | max ms | /health p50 ms | max ms |",
        "|---|---|---:|---:|---:|---:|",
        *(f"| {name} | {statuses(row[name])} | {row[name]['p50_ms']:.1f} | "
          f"{row[name]['max_ms']:.1f} | " + (
              f"{row['health_' + name]['p50_ms']:.1f} | {row['health_' + name]['max_ms']:.1f} |"
              if "health_" + name in row else "— | — |")
          for name in ("before", "during", "after")), "",
        f"With the broker unreachable, every offload call was answered {statuses(during)} "
        f"(\"{row['error']}\") in {during['max_ms'] / 1000:.1f} s at most — within the "
        f"{row['web_wait_s']} s offload timeout. The lab's Celery settings give up on an "
        "unreachable broker after short connect timeouts and retries "
        "(`broker_connection_timeout`, `redis_socket_connect_timeout`, the publish and "
        "result-backend retry policies; which of them ended these calls at that time was "
        "not traced). `/health` never touches the broker: "
        f"{health['p50_ms']:.1f} ms during the outage. When the cable was back, the next call "
        f"was answered after {row['recovered_after_s']:.1f} s, with no restart anywhere.",
    ]


def broker_lines(workercuts: list[dict], brokercuts: list[dict]) -> list[str]:
    """The brokers side by side: what each delivered over the Celery-host cuts, and its cost
    on the broker host (measured in the broker cut's scenario, before the cut)."""
    costed = [row for row in brokercuts if "servers" in row]
    if not costed:
        return []
    lines = ["#### The brokers side by side", "",
             "| broker | submitted over the cuts | lost | ran twice | delivery, as measured | "
             "start-up | resident memory | offload p50 ms | p90 ms |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for row in costed:
        name, cuts = row["broker"], [cut for cut in workercuts if cut["broker"] == row["broker"]]
        submitted = sum(cut["submitted"] for cut in cuts)
        lost, twice = (sum(cut[key] for cut in cuts) for key in ("lost", "ran_twice"))
        delivery = ("every task ran, some twice: at least once" if not lost else
                    "at least once for a task a worker received; at most once for one "
                    "in flight to a worker that vanished")
        own, results = row["servers"][name], row["servers"].get("Redis") if name != "Redis" \
            else None
        memory = f"{own['rss_mb']:.0f} MB" + (
            f" (+ {results['rss_mb']:.0f} MB: Redis, its results)" if results else "")
        lines.append(f"| {name} | {submitted} | **{lost}** | {twice} | {delivery} | "
                     f"{own['start_s']:.2f} s | {memory} | {row['before']['p50_ms']:.1f} | "
                     f"{row['before']['p90_ms']:.1f} |")
    tasks = costed[0].get("tasks", costed[0]["calls"])
    return [*lines, "", "Start-up: from launch to serving, on the broker host. Memory: the "
            "broker's processes' resident set after the "
            f"{tasks} offload calls of the latency columns, made one after another by the web "
            "host (`/offload/prime/2`: the queue's round trips, not the work). RabbitMQ's "
            "start is an Erlang node's boot, Redis's a process's; both are paid once per "
            "broker start, and again after a crash.", ""]


def statuses(summary: dict) -> str:
    return ", ".join(f"{count} × {status}" for status, count in summary["statuses"].items())
