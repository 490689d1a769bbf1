"""Hosts of the lab's own on one machine: network namespaces on a bridge, a cable to cut.

Each :class:`Cluster` claims one of 16 address blocks of 198.18.0.0/24 (the range set aside
for network benchmarks, RFC 2544: it cannot collide with a real network), a /28 each, by
creating its bridge ``labbrK`` -- creating a link is atomic, so two clusters at once (two
test workers, a test beside ``make hosts``) never share a block. The bridge is the switch,
with the block's first address: the lab's own seat, from which the runner and the tests
reach the hosts. Each host is a namespace ``labK-NAME`` with its loopback and ``eth0``, a
veth whose other end is a port of the switch, and no route but its block's: the hosts
send traffic only to each other and to the seat.

* :meth:`Cluster.cut` sets a host's switch port down -- the cable pulled: no reset, no
  error, the packets vanish both ways, as when a machine or its switch port dies;
  :meth:`Cluster.rejoin` sets it up again.
* ``tc qdisc ... netem`` would add latency on a link; this machine's kernel has no netem
  (``Specified qdisc kind is unknown``), so latency is added in user space instead
  (:mod:`.delay`).
* Leaving the ``with`` block on any path -- an exception, Ctrl-C, SIGTERM through
  :func:`loadtests.procs.run_main` -- kills whatever the lab started on a host, by the
  host's cgroup (:mod:`.cgroup`: a process still entering its namespace included), and
  whatever else still runs in the namespaces, then deletes the namespaces (their veths go
  with them) and the bridge. ``python -m loadtests.cluster --clean`` removes what a
  SIGKILLed run left.

It needs root (CAP_NET_ADMIN) and iproute2: :func:`unavailable` says so in one line.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..harness.procs import Place
from . import cgroup

NETWORK = ipaddress.ip_network("198.18.0.0/24")
#: /28 blocks: 16 clusters at once, 13 hosts each (the seat has the first address).
BLOCK = 28
BRIDGE = "labbr{slot}"
PREFIX = "lab{slot}-"


class ClusterError(RuntimeError):
    """An ``ip`` command failed; the message has the command and its error."""


def unavailable() -> str | None:
    """Why this machine cannot make the lab's hosts, in one line, else None."""
    if shutil.which("ip") is None:
        return "the lab's hosts need iproute2's ip: `sudo apt-get install iproute2`"
    if os.geteuid() != 0:
        return ("the lab's hosts are network namespaces: run as root (CAP_NET_ADMIN), "
                "e.g. `sudo make hosts`")
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``ip ARGS``; a failure raises :class:`ClusterError` (unless ``check=False``)."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode:
        raise ClusterError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


@dataclass(frozen=True)
class Host(Place):
    """One host: a namespace, its address, the switch port its cable plugs into."""

    name: str = ""
    switch_port: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"


class Cluster:
    """``with Cluster("web", "broker", ...) as hosts:`` -- the named hosts, joined."""

    def __init__(self, *names: str):
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"hosts need distinct names, got {names!r}")
        if len(names) > 2 ** (32 - BLOCK) - 3:
            raise ValueError(f"at most {2 ** (32 - BLOCK) - 3} hosts, got {len(names)}")
        self.names = names
        self.slot: int | None = None
        self.hosts: dict[str, Host] = {}

    # -- what it is -----------------------------------------------------------------
    @property
    def bridge(self) -> str:
        return BRIDGE.format(slot=self.slot)

    @property
    def block(self) -> ipaddress.IPv4Network:
        return list(NETWORK.subnets(new_prefix=BLOCK))[self.slot]

    @property
    def seat(self) -> str:
        """The lab's own address on the switch (the runner's, the tests')."""
        return str(self.block[1])

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    # -- making and unmaking it -----------------------------------------------------
    def __enter__(self) -> Cluster:
        if why := unavailable():
            raise ClusterError(why)
        self._claim()
        try:
            for index, name in enumerate(self.names):
                self._add(index, name)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _claim(self) -> None:
        for slot in range(2 ** (BLOCK - NETWORK.prefixlen)):
            if ip("link", "add", BRIDGE.format(slot=slot), "type", "bridge",
                  check=False).returncode == 0:
                self.slot = slot
                break
        else:
            raise ClusterError("every block of 198.18.0.0/24 is taken: "
                               "`python -m loadtests.cluster --clean` removes stale ones")
        ip("addr", "add", f"{self.seat}/{BLOCK}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def _add(self, index: int, name: str) -> None:
        netns = PREFIX.format(slot=self.slot) + name
        port = f"lab{self.slot}p{index}"
        group = cgroup.create(netns)
        host = Host(address=str(self.block[index + 2]), netns=netns,
                    cgroup=group and str(group), name=name, switch_port=port)
        self.hosts[name] = host  # from here on, close() removes it, whatever fails next
        ip("netns", "add", netns)
        ip("link", "add", port, "type", "veth", "peer", "name", f"lab{self.slot}h{index}")
        ip("link", "set", f"lab{self.slot}h{index}", "netns", netns)
        ip("-n", netns, "link", "set", f"lab{self.slot}h{index}", "name", "eth0")
        ip("-n", netns, "addr", "add", f"{host.address}/{BLOCK}", "dev", "eth0")
        ip("-n", netns, "link", "set", "lo", "up")
        ip("-n", netns, "link", "set", "eth0", "up")
        ip("link", "set", port, "master", self.bridge)
        ip("link", "set", port, "up")

    def close(self) -> None:
        """Delete the hosts (and kill what runs on them), then the switch. Idempotent; one
        host that cannot be emptied does not keep the others (or the switch) from going."""
        stuck = []
        for host in self.hosts.values():
            try:
                if host.cgroup:
                    cgroup.empty(Path(host.cgroup))
                delete_netns(host.netns)
            except (ClusterError, TimeoutError) as error:
                stuck.append(str(error))
            ip("link", "del", host.switch_port, check=False)
        self.hosts = {}
        if self.slot is not None:
            ip("link", "del", self.bridge, check=False)
            self.slot = None
        if stuck:
            raise ClusterError("; ".join(stuck))

    # -- breaking it ----------------------------------------------------------------
    def cut(self, name: str) -> None:
        """Pull ``name``'s cable: its switch port down."""
        ip("link", "set", self.hosts[name].switch_port, "down")

    def rejoin(self, name: str) -> None:
        ip("link", "set", self.hosts[name].switch_port, "up")


def delete_netns(netns: str, grace: float = 5.0) -> None:
    """Delete ``netns``'s name, then SIGTERM, then SIGKILL, every process still in it, until
    none is.

    The name goes first, so that nothing new can enter (``ip netns exec`` then fails with
    255): killing first, by ``ip netns pids``, missed a process that was still entering --
    not yet listed -- and it ran on in the nameless namespace (a ``sleep 600`` outlived its
    cluster in a clean-clone CI run). The namespace is then found by its inode, as ``ip
    netns pids`` finds it, in every process's ``/proc/PID/ns/net``.
    """
    try:
        identity = _identity(f"/run/netns/{netns}")
    except OSError:
        return
    ip("netns", "del", netns, check=False)
    deadline = time.monotonic() + grace
    sent_kill = False
    while pids := _pids_in(identity):
        late = time.monotonic() > deadline
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL if late else signal.SIGTERM)
        if late and sent_kill and time.monotonic() > deadline + grace:
            raise ClusterError(f"processes {pids} in {netns} survive SIGKILL")
        sent_kill = sent_kill or late
        time.sleep(0.05)  # polling interval


def netns_pids(netns: str) -> list[int]:
    """The processes in ``netns`` now (none once it is gone)."""
    try:
        return _pids_in(_identity(f"/run/netns/{netns}"))
    except OSError:
        return []


def _identity(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


def _pids_in(identity: tuple[int, int]) -> list[int]:
    """The processes whose network namespace is the one with this (device, inode)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if _identity(f"/proc/{entry}/ns/net") == identity:
                    pids.append(int(entry))
    return pids


def leftovers(slot: int | None = None) -> list[str]:
    """The lab's namespaces, links and host cgroups still present (of one block, or of
    every block): only names of the lab's own patterns (``lab3-web``, ``labbr3``, ``lab3p0``,
    ``cgroup:lab3-web``)."""
    block = r"\d+" if slot is None else str(slot)
    netns = re.compile(rf"lab{block}-\S+")
    link = re.compile(rf"labbr{block}|lab{block}[ph]\d+")
    names = [line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line]
    left = [name for name in names if netns.fullmatch(name)]
    for line in ip("-o", "link").stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if link.fullmatch(name):
            left.append(name)
    left += [f"cgroup:{group.name}" for group in cgroup.stale() if netns.fullmatch(group.name)]
    return left


def clean() -> list[str]:
    """Remove every namespace and link of the lab's hosts, live or stale; say what."""
    left = leftovers()
    for name in left:
        if name.startswith("cgroup:"):
            cgroup.empty(cgroup.root() / name.removeprefix("cgroup:"))
        elif name in ip("netns", "list").stdout.split():
            delete_netns(name)
        else:
            ip("link", "del", name, check=False)
    return left
