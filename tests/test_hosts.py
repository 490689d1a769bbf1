"""The lab's hosts (network namespaces) and the four multi-host scenarios' core claims.

Everything here needs root (CAP_NET_ADMIN): skipped with the one line that says so
otherwise, except under CI=true, where a skip is a failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis

from loadtests.cluster import Cluster, ClusterError, cgroup, leftovers, unavailable
from loadtests.cluster.delay import DelayRelay
from loadtests.cluster.network import ip
from loadtests.lessons.base import Results
from loadtests.lessons.hosts import LESSON
from loadtests.servers import ROOT
from loadtests.services.redis import RedisServer

from .helpers import alive, cmdline, descendants, wait_for

#: What ``Popen.wait`` returns for a process the cluster ended: killed (SIGTERM, then
#: SIGKILL), or -- where it was still on its way in as the cluster closed -- refused, having
#: run nothing: by ``sh`` once the host's cgroup was gone (2, "cannot create
#: .../cgroup.procs"; 1 where the group went between the file's opening and the write: seen
#: once in 400 rounds beside a CPU hog) or by ``ip netns exec`` once the namespace was (255,
#: "setting the network namespace ... failed"). Never 0: ``sleep 600`` does not end by
#: itself within the wait.
KILLED = (-signal.SIGTERM, -signal.SIGKILL, 1, 2, 255)


@pytest.fixture(autouse=True)
def _needs_root():
    if why := unavailable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (CI=true: nothing may be skipped)")
        pytest.skip(why)


def _listener(host) -> subprocess.Popen:
    """A process on ``host`` that answers each connection to port 9000 with b"hi"."""
    code = (f"import socket\ns = socket.create_server(({host.address!r}, 9000))\n"
            "while True:\n    c, _ = s.accept(); c.sendall(b'hi'); c.close()")
    return subprocess.Popen(host.wrap([sys.executable, "-c", code]))


def _hello(address: str, timeout: float = 2.0) -> bytes:
    with socket.create_connection((address, 9000), timeout=timeout) as sock:
        return sock.recv(2)


def _connect_from(host, address: str) -> subprocess.CompletedProcess:
    code = f"import socket; socket.create_connection(({address!r}, 9000), timeout=2)"
    return subprocess.run(host.wrap([sys.executable, "-c", code]), capture_output=True,
                          text=True, timeout=30)


def test_hosts_reach_each_other_and_nothing_else_and_leave_nothing():
    with Cluster("a", "b") as cluster:
        slot = cluster.slot
        a, b = cluster["a"], cluster["b"]
        assert a.address.startswith("198.18.0.") and b.address.startswith("198.18.0.")
        assert set(leftovers(slot)) >= {a.netns, b.netns, cluster.bridge}
        server = _listener(b)
        wait_for(lambda: _try(_hello, b.address), 10, "b listening")
        assert cgroup.members(Path(b.cgroup)) == [server.pid]  # joined before it ran
        assert _connect_from(a, b.address).returncode == 0  # host to host
        outside = _connect_from(a, "192.0.2.1")  # TEST-NET-1: no route from a host
        assert outside.returncode != 0 and "unreachable" in outside.stderr
    assert server.wait(timeout=10) in KILLED  # killed with its host, not exited by itself
    assert leftovers(slot) == []


@pytest.mark.parametrize("settled", [True, False], ids=["running", "entering"])
def test_a_failure_inside_leaves_nothing(settled):
    """A failure while a process runs on a host, or is still entering it (the race that let
    a ``sleep 600`` outlive its namespace, when the cluster killed by ``ip netns pids``):
    ten rounds each, nothing survives, nothing is left."""
    for _ in range(10):
        with pytest.raises(RuntimeError, match="on purpose"), Cluster("a") as cluster:
            slot, a = cluster.slot, cluster["a"]
            sleeper = subprocess.Popen(a.wrap(["sleep", "600"]))
            if settled:
                running = psutil.Process(sleeper.pid)
                wait_for(lambda p=running: "sleep" in cmdline(p), 10, "sleep running")
            raise RuntimeError("on purpose")
        assert sleeper.wait(timeout=10) in KILLED
        assert leftovers(slot) == []


def test_a_cut_cable_is_silent_and_a_rejoined_one_works():
    with Cluster("b") as cluster:
        b = cluster["b"]
        _listener(b)
        wait_for(lambda: _try(_hello, b.address), 10, "b listening")
        cluster.cut("b")
        with pytest.raises(OSError):
            _hello(b.address, timeout=1.0)
        cluster.rejoin("b")
        assert wait_for(lambda: _try(_hello, b.address), 10, "b back") == b"hi"


def test_ctrl_c_in_make_hosts_leaves_no_process_namespace_or_link(tmp_path, lab):
    """SIGINT to the runner while a scenario's hosts run: every process stopped, the
    namespaces, veths and bridge deleted, exit status 130."""
    before = set(leftovers())
    proc = lab("loadtests.matrix", "--no-cells", "--hosts", "--out", str(tmp_path))
    seen: dict[int, psutil.Process] = {}

    def hosts_serving() -> bool:
        assert proc.poll() is None, proc.stdout.read()
        seen.update(descendants(proc.pid))
        lines = [" ".join(cmdline(p)) for p in seen.values()]
        return any("celery" in line for line in lines) and any("gunicorn" in line
                                                               for line in lines)

    wait_for(hosts_serving, 90, "the first scenario's Celery and web hosts")
    assert set(leftovers()) - before  # its namespaces exist
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=90) == 130, proc.stdout.read()
    assert not alive(seen.values())
    assert set(leftovers()) <= before


def test_clean_removes_what_a_killed_run_left():
    """A cluster never closed (its runner SIGKILLed): ``python -m loadtests.cluster
    --clean`` deletes it and kills what ran in it."""
    cluster = Cluster("a").__enter__()
    sleeper = subprocess.Popen(cluster["a"].wrap(["sleep", "600"]))
    try:
        assert cluster["a"].netns in leftovers()
        done = subprocess.run([sys.executable, "-m", "loadtests.cluster", "--clean"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and cluster["a"].netns in done.stdout
        assert sleeper.wait(timeout=10) in KILLED
        assert leftovers(cluster.slot) == []
    finally:
        cluster.close()


def test_two_clusters_at_once_get_separate_blocks():
    with Cluster("a") as first, Cluster("a") as second:
        assert first.slot != second.slot
        assert first["a"].address != second["a"].address
        assert first["a"].netns != second["a"].netns


def test_duplicate_hosts_and_failed_commands_say_why():
    with pytest.raises(ValueError, match="distinct"):
        Cluster("a", "a")
    with pytest.raises(ClusterError, match="lab-no-such-link"):
        ip("link", "set", "lab-no-such-link", "up")


def test_the_relay_adds_its_delay_to_each_round_trip():
    """A Redis PING through the relay at D ms each way cannot take less than 2 × D."""
    delay_ms = 50
    with Cluster("broker") as cluster, RedisServer(place=cluster["broker"], port=6379) as db, \
            DelayRelay(6379, 6380, delay_ms, place=cluster["broker"]):
        direct = redis.Redis(host=cluster["broker"].address, port=6379)
        relayed = redis.Redis(host=cluster["broker"].address, port=6380)
        assert db.is_ready() and relayed.ping()
        times = []
        for client in (direct, relayed) * 5:  # interleaved
            start = time.perf_counter()
            client.ping()
            times.append(time.perf_counter() - start)
        assert min(times[1::2]) >= 2 * delay_ms / 1000
        # undelayed: the median (one PING of five took 123 ms in a CI run, the machine
        # busy: the max says nothing of the relay); delayed, every one is over 100 ms
        assert sorted(times[0::2])[2] < delay_ms / 1000


def _try(call, *args):
    try:
        return call(*args)
    except OSError:
        return None


# -- the scenarios' core claims -------------------------------------------------------------

def test_a_worker_host_blip_loses_nothing(tmp_path):
    """3 s: c1 stores its result itself once back, and gets the task popped for it."""
    from loadtests.cluster import workercut

    row = workercut.run(tmp_path, requests=12, cut_s=workercut.SHORT_CUT_S, busy=1)
    assert row["held"] >= 1, row  # the cut caught c1 with a task
    assert row["answered"] == row["submitted"] and row["failed"] == 0, row
    assert row["lost"] == 0, row


def test_a_worker_host_cut_past_the_visibility_timeout_is_redelivered(tmp_path):
    """30 s with both of c1's processes busy: c2 runs what c1 held; nothing is lost."""
    from loadtests.cluster import workercut

    row = workercut.run(tmp_path, requests=12, cut_s=workercut.CUT_S, busy=2)
    assert row["held"] >= 2, row
    assert row["redelivered"] == row["held"] and row["lost"] == 0, row
    assert row["answered"] == row["submitted"], row
    # they came back after the visibility timeout (not before: they were c1's), within
    # the web's wait
    assert row["visibility_timeout_s"] <= row["recovered_s"] < row["web_wait_s"], row
    assert row["c1_back_after_s"] > 0
    page = LESSON.section(Results({"settings": {}, "machine": {}, "cells": [],
                                   "hosts": [row]}))
    assert "| 30 s | 2 of 2 | 12 | 12 | 0 |" in page


def test_a_worker_host_cut_loses_nothing_with_rabbitmq(tmp_path):
    """30 s with one of c1's processes busy and the other's next task on its way: RabbitMQ
    queues both again once it has closed c1's silent connection (missed heartbeats), c2
    runs them, every request is answered, nothing is lost."""
    from loadtests.cluster import workercut

    row = workercut.run(tmp_path, requests=12, cut_s=workercut.CUT_S, busy=1,
                        broker="rabbitmq")
    assert row["broker"] == "RabbitMQ" and row["held"] >= 1, row
    assert row["lost"] == 0 and row["redelivered"] == row["held"], row
    assert row["answered"] == row["submitted"] and row["failed"] == 0, row
    # redelivered once the broker gave up on c1 (two missed heartbeats), within the web's wait
    assert 2 * row["heartbeat_s"] <= row["recovered_s"] < row["web_wait_s"], row


def test_the_broker_cut_off_gives_503_in_time_and_recovers(tmp_path):
    from loadtests.cluster import brokercut

    row = brokercut.run(tmp_path, calls=3, tasks=5)
    assert row["before"]["statuses"] == {"200": 5}
    # the broker host's server: its start and its memory, measured
    (redis,) = row["servers"].values()
    assert list(row["servers"]) == ["Redis"] and 0 < redis["start_s"] < 10, row["servers"]
    assert 1 < redis["rss_mb"] < 200, row["servers"]
    assert row["during"]["statuses"] == {"503": 3} and row["during"]["json"]
    assert row["error"] == "the task queue (Redis) is unreachable"
    assert row["during"]["max_ms"] < row["web_wait_s"] * 1000  # within the offload timeout
    assert row["health_during"]["statuses"] == {"200": 3}
    # /health stays free: far below an offload call's wait during the outage
    assert row["health_during"]["max_ms"] * 20 < row["during"]["p50_ms"]
    assert row["after"]["statuses"] == {"200": 3}


def test_a_drained_web_host_fails_no_get_and_a_cut_one_is_retried(tmp_path):
    from loadtests.cluster import balancing

    row = balancing.run(tmp_path, users=10, seconds=9)
    drain, cut = row["drain"], row["cut"]
    assert drain["requests"] > 100 and drain["failures"] == 0, drain
    assert drain["nginx"]["errors"] == 0
    # the only GET a cut may fail: one whose answer's header nginx had passed on when the
    # body stopped coming (the cut between the two), which it cannot send elsewhere
    assert cut["failures"] == cut["nginx"]["cut_midway"], cut
    assert cut["nginx"]["errors"] == 0, cut
    assert cut["nginx"]["retried"] >= 1
    # each retried GET waited one of nginx's timeouts first: connect (1 s) or read (3 s)
    assert min(cut["nginx"]["retried_times_s"]) >= row["connect_timeout_s"]


def test_a_second_celery_host_serves_and_each_rtt_is_paid_several_times(tmp_path):
    """The scale-out scenario end to end. How much the second host scales the rate is a
    timing claim the committed sample judges (docs/sample/hosts: ×2.12); here, that one host
    and then two answer every call, and the round trips each call pays, which no busy core
    shortens."""
    from loadtests.cluster import scaleout

    row = scaleout.run(tmp_path, seconds=1, calls=5, delays=(0.0, 20.0))
    alone, both = row["throughput"]
    assert alone["failed"] == both["failed"] == 0, row["throughput"]
    assert alone["answered"] > 0 and both["answered"] > 0, row["throughput"]
    added = {step["delay_ms"]: step["added_rtts"] for step in row["latency"]
             if "added_rtts" in step}
    assert min(added.values()) >= 2, added  # the task out and the result back, at least
    assert row["commands_per_call"]["LPUSH"] == 1 and row["commands_per_call"]["PUBLISH"] == 1
