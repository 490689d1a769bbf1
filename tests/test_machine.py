"""The cores the lab plans for (``loadtests/harness/machine.py``): a process's CPU affinity and
its cgroup's CPU limit, not ``os.cpu_count()`` -- read from a real cgroup and a real
affinity, and from a cgroup v2 tree laid out as the kernel lays it out."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from loadtests.harness.machine import cpu_quota

from .helpers import missing

#: Prints the child's cores: its quota, affinity and usable count.
SHOW = ("from loadtests.harness.machine import cores_here; c = cores_here(); "
        "print(c.quota, c.affinity, c.usable)")
CGROUPS = Path("/sys/fs/cgroup")


@contextlib.contextmanager
def cpu_limited(cores: float):
    """A cgroup of the lab's own limited to ``cores`` of CPU time (v1's cpu controller, or
    v2's cpu.max): its ``cgroup.procs``, removed at the end."""
    v1 = CGROUPS / "cpu"
    v2 = (CGROUPS / "cgroup.controllers").exists()
    folder = (CGROUPS if v2 else v1) / f"lab-test-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir()
        if v2:
            (folder / "cpu.max").write_text(f"{int(cores * 100_000)} 100000")
        else:
            (folder / "cpu.cfs_period_us").write_text("100000")
            (folder / "cpu.cfs_quota_us").write_text(str(int(cores * 100_000)))
    except OSError as error:
        with contextlib.suppress(OSError):
            folder.rmdir()
        missing(RuntimeError(f"no cgroup of the lab's own ({error}): run the tests as root"))
    try:
        yield folder / "cgroup.procs"
    finally:
        folder.rmdir()  # its one process has exited


def _cores(*, procs: Path | None = None, cpus: set[int] | None = None) -> str:
    """What a fresh interpreter, in ``procs``'s cgroup or held to ``cpus``, says it has."""
    argv = [sys.executable, "-c", SHOW]
    if procs:  # in the cgroup before the interpreter starts: a shell moves itself, then execs
        argv = ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True,
                          preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    return done.stdout.strip()


@pytest.mark.parametrize(("limit", "usable"), [(0.5, 1), (1.5, 1)])
def test_a_cgroups_cpu_limit_is_the_cores_planned_for(limit, usable):
    affinity = len(os.sched_getaffinity(0))
    with cpu_limited(limit) as procs:
        assert _cores(procs=procs) == f"{limit} {affinity} {usable}"


def test_the_affinity_is_the_cores_planned_for_where_nothing_limits_them():
    assert _cores(cpus={0}) == "None 1 1"


def test_a_v2_limit_is_the_least_of_the_cgroup_and_those_above_it(tmp_path):
    """cgroup v2 as the kernel lays it out: cpu.max per folder; a limit set above applies
    below ("max": none)."""
    root = tmp_path / "cgroup"
    (root / "app" / "worker").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory\n")
    (root / "app" / "cpu.max").write_text("150000 100000\n")
    (root / "app" / "worker" / "cpu.max").write_text("max 100000\n")
    proc = tmp_path / "cgroup-of-self"
    proc.write_text("0::/app/worker\n")
    assert cpu_quota(proc, root) == 1.5
    (root / "app" / "worker" / "cpu.max").write_text("50000 100000\n")
    assert cpu_quota(proc, root) == 0.5
    proc.write_text("0::/\n")  # a container's own namespace: its limit at the root
    assert cpu_quota(proc, root) is None


@pytest.mark.integration
def test_a_server_held_to_cpus_runs_its_workers_there():
    """``ServerSpec(cpus=(0,))``: gunicorn under ``taskset -c 0``, its master and each worker
    held to CPU 0 (the advisor's ``--server-cpus``: a 1-core server on this machine)."""
    import psutil

    from loadtests.servers import GunicornServer, ServerSpec

    with GunicornServer(ServerSpec("gthread", workers=2, threads=2, cpus=(0,))) as server:
        pids = [server.proc.pid, *server.worker_pids()]
        assert len(pids) == 3
        assert all(psutil.Process(pid).cpu_affinity() == [0] for pid in pids)
