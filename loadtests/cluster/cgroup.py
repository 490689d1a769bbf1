"""A control group per host: what the lab started there, found by what it holds.

A network namespace cannot say what is about to enter it: ``ip netns exec`` opens the
namespace, then joins it, and a process between the two is in no list (``ip netns pids``,
``/proc/PID/ns/net``). Killing by such a list missed a ``sleep 600`` started just before a
failure, and it outlived its host. So every process the lab starts on a host joins the
host's cgroup (v2) *before* it runs anything (:meth:`Place.wrap
<loadtests.harness.procs.Place.wrap>`: ``sh`` writes its own pid to ``cgroup.procs``, then
execs), and everything it forks is born in it. :func:`empty` then ends them all, wherever
they are in entering: SIGTERM, then ``cgroup.kill`` (SIGKILL to every member at once, a
fork racing it included), until ``rmdir`` succeeds -- which the kernel allows only when no
process is left, and after which no process can join.

The cgroup2 hierarchy is wherever it is mounted (``/sys/fs/cgroup`` on a unified system,
``/sys/fs/cgroup/unified`` on a hybrid one). No controller is enabled: a group here only
tracks membership. Where there is no writable cgroup2 (no mount, no root), hosts fall back to
the namespace scan alone, and :func:`root` says None.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from ..harness.poll import wait_until

#: The lab's hosts' groups, one folder of the cgroup2 hierarchy: ``<root>/lab-hosts/lab3-web``.
FOLDER = "lab-hosts"


def root() -> Path | None:
    """The lab's folder in the cgroup2 hierarchy, made if missing; None where there is none
    this process may write."""
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[2:3] == ["cgroup2"]]
    for point in points:
        folder = Path(point) / FOLDER
        with contextlib.suppress(OSError):
            folder.mkdir(exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
    return None


def create(name: str) -> Path | None:
    """A new, empty group ``name`` in the lab's folder (None without cgroup2)."""
    if (folder := root()) is None:
        return None
    group = folder / name
    if group.exists():  # a SIGKILLed run's: empty it first
        empty(group)
    try:
        group.mkdir()
    except OSError:
        return None
    return group


def members(group: Path) -> list[int]:
    """The processes in ``group`` now (none once it is gone)."""
    try:
        return [int(pid) for pid in (group / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def empty(group: Path, grace: float = 5.0) -> None:
    """End every process in ``group`` -- SIGTERM, then after ``grace`` seconds SIGKILL --
    and remove the group, so that nothing can join it later."""
    if not group.exists():
        return
    for pid in members(group):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not members(group), grace, fail=None)

    def removed() -> bool:
        _kill_all(group)
        try:
            group.rmdir()
        except FileNotFoundError:
            return True
        except OSError:  # EBUSY: a member still dying, or one that joined since
            return False
        return True

    wait_until(removed, grace + 5, f"{group.name}'s processes to die of SIGKILL", interval=0.02)


def _kill_all(group: Path) -> None:
    """SIGKILL every member: ``cgroup.kill`` where the kernel has it (5.14+), one by one
    otherwise."""
    try:
        (group / "cgroup.kill").write_text("1")
        return
    except FileNotFoundError:
        if not group.exists():
            return
    except OSError:
        pass
    for pid in members(group):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def stale() -> list[Path]:
    """The lab's groups still present (a SIGKILLed run's, or a live cluster's)."""
    folder = root()
    return sorted(path for path in folder.iterdir() if path.is_dir()) if folder else []
