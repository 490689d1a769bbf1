"""The lab's model applied to someone else's app: a throughput ceiling per configuration.

Pure arithmetic over a :class:`Profile` (R and S_cpu of the app's mix of paths, each
model's worker memory) and this machine's cores, with :mod:`loadtests.model.queueing`'s bounds:

* slots: a configuration holds ``slots`` requests at once (sync w; gthread w × t; gevent
  w × connections; asgi: no cap; another server's own, :mod:`loadtests.servers`), so by
  Little's law X <= min(users, slots) ÷ R;
* cores: only processes run Python at once, no more than the cores, so
  X <= min(users, workers, cores) ÷ S_cpu -- threads and greenlets add no CPU.

Near the knee, where both nearly bind, the asymptotes overstate: a worker's requests in
progress cycle between their wait (R − S_cpu) and the worker's one GIL, a closed network
whose exact throughput mean value analysis gives (:func:`loadtests.model.closed_rps`; the
matrix's convoy lesson). The ceiling is that, per worker, summed, and at most the cores.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..model.queueing import closed_network_rps, io_bound_rps
from ..model.simulate import Twin
from ..servers import ServerSpec
from .stall import Overlap

#: Slots beyond the knee (where the cores, not the slots, bind) that a right-sized
#: configuration keeps: requests do not arrive evenly, nor spread evenly over workers.
HEADROOM = 1.5
#: Threads per gthread worker above which greenlets are the cheaper way to hold slots.
MAX_THREADS = 64
#: CPU per request on an event loop that the lab counts as freezing it (its heartbeat
#: lessons: every other request on that worker waits ≈ S_cpu).
FREEZE_S = 0.005
#: The models whose worker runs one event loop: a wait that does not yield holds all of it.
EVENT_LOOPS = ("gevent", "asgi")
#: Ceilings this close to the best count as equal; the simpler, leaner one wins.
TIE = 0.05


def ties(prediction: Prediction, best_rps: float) -> bool:
    """Whether a prediction's ceiling counts as equal to the best one."""
    return prediction.rps >= (1 - TIE) * best_rps
#: Simplest first: among equal ceilings and memory, the earlier model is advised ...
PREFERENCE = ("sync", "gthread", "gevent", "asgi")
#: Among equal ceilings gunicorn (the lab's own config, hooks and graceful restarts) comes
#: before the servers people pick instead, whatever their memory: one of those is advised
#: where its ceiling is higher, or where its measurement backs it and gunicorn's does not.
SERVER_PREFERENCE = ("gunicorn", "uvicorn", "granian", "waitress")


@dataclass(frozen=True)
class Profile:
    """The app as the model sees it: its paths in equal mix."""

    latency_s: float  # R: mean latency at one user
    cpu_s: float  # S_cpu: server CPU seconds per request
    #: per worker model the app serves under: (RSS, USS) of one warm worker, MiB
    memory: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: the paths whose waiting holds an asyncio event loop (:mod:`.stall`'s probe)
    stalls: tuple[Overlap, ...] = ()

    @property
    def loop_blocked(self) -> bool:
        """Whether a request's waiting holds an event loop: each event-loop worker is then
        one slot."""
        return bool(self.stalls)

    @property
    def wait_fraction(self) -> float:
        return wait_fraction(self.latency_s, self.cpu_s)

    def knee(self, cores: int) -> float:
        """Requests in progress that keep every core busy: cores × R ÷ S_cpu."""
        return math.inf if self.cpu_s <= 0 else cores * self.latency_s / self.cpu_s


def wait_fraction(latency_s: float, cpu_s: float) -> float:
    """The waiting share of R, (R − S_cpu) ÷ R, within [0, 1].

    >>> wait_fraction(0.1, 0.02), wait_fraction(0.05, 0.06)
    (0.8, 0.0)
    """
    if latency_s <= 0:
        return 0.0
    return round(min(1.0, max(0.0, (latency_s - cpu_s) / latency_s)), 12)


@dataclass(frozen=True)
class Candidate:
    """One server configuration: gunicorn's by default, or another server's (``server``,
    whose ``worker_class`` is then the app interface, asgi or wsgi)."""

    worker_class: str
    workers: int
    threads: int = 1
    worker_connections: int = 1000
    #: gunicorn's ``reuse_port``: each worker listens on its own SO_REUSEPORT socket and the
    #: kernel spreads new connections over them (the matrix's balance lesson)
    reuse_port: bool = False
    note: str = ""  # why it is on the list ("gunicorn's default advice")
    server: str = "gunicorn"

    @property
    def spec(self) -> ServerSpec:
        return ServerSpec(self.worker_class, self.workers, self.threads,
                          worker_connections=self.worker_connections, server=self.server,
                          env=(("REUSE_PORT", "1"),) if self.reuse_port else ())

    @property
    def model(self) -> str:
        """Its concurrency model in the lab's terms (granian's WSGI, waitress: gthread)."""
        return self.spec.model

    @property
    def served(self) -> str:
        """What it serves the app with: gunicorn's worker class, or "server interface" --
        the key of the app's memory under it, and its class when the advisor measures."""
        return self.worker_class if self.server == "gunicorn" else \
            f"{self.server} {self.worker_class}"

    @property
    def slots(self) -> float:
        return self.spec.slots

    def twin(self, cores: int) -> Twin:
        """Its simulated twin on ``cores`` (:mod:`loadtests.model.simulate`). A sync worker
        answers one request a connection and closes it, so every request waits in the one
        accept queue; the others keep the connections they accept, which an open-loop
        client's pool reuses, a new one going to a worker at random (the open-traffic
        lesson's measured split, evenly here: nothing is measured yet)."""
        slots = self.slots
        twin = Twin.of(self.model, workers=self.workers, threads=self.threads,
                       connections=1000 if slots == math.inf else int(slots) // self.workers,
                       cores=cores, server=self.server)
        return dataclasses.replace(twin, keepalive=self.model != "sync" and self.workers > 1)

    def command(self, app: str, chdir: str | None) -> str:
        """The command line that serves ``app`` this way."""
        if self.server == "gunicorn":
            where = ["--chdir", chdir] if chdir else []
            return " ".join(["gunicorn", *self.flags(), *where, app])
        spec = dataclasses.replace(self.spec, app=app, chdir=chdir)
        return spec.runs_on.command(spec, 8000)

    @property
    def label(self) -> str:
        if self.server != "gunicorn":
            return self.spec.label
        text = f"{self.worker_class} -w{self.workers}"
        if self.worker_class == "gthread":
            text += f" --threads {self.threads}"
        if self.worker_class == "gevent":
            text += f" --worker-connections {self.worker_connections}"
        return text + (" --reuse-port" if self.reuse_port else "")

    def flags(self) -> list[str]:
        flags = ["-k", self.worker_class, "-w", str(self.workers)]
        if self.worker_class == "gthread":
            flags += ["--threads", str(self.threads)]
        if self.worker_class == "gevent":
            flags += ["--worker-connections", str(self.worker_connections)]
        return flags + (["--reuse-port"] if self.reuse_port else [])

    def conf_lines(self) -> list[str]:
        """gunicorn.conf.py's lines for it (none for another server: it has no such file)."""
        if self.server != "gunicorn":
            return []
        lines = [f'worker_class = "{self.worker_class}"', f"workers = {self.workers}"]
        if self.worker_class == "gthread":
            lines.append(f"threads = {self.threads}")
        if self.worker_class == "gevent":
            lines.append(f"worker_connections = {self.worker_connections}")
        if self.reuse_port:
            lines.append("reuse_port = True")
        return lines


def ceiling(candidate: Candidate, latency_s: float, cpu_s: float, *, cores: int,
            users: int, held: bool = False) -> float:
    """Per worker, the closed network of its requests in progress (its slots, or its share
    of the users if fewer) between their wait and its GIL, summed; at most the cores' bound.
    Far from the knee that is min(users, slots) ÷ R or min(users, workers, cores) ÷ S_cpu.
    ``held``: the wait holds an event-loop worker, which then holds one request at a time.

    >>> sync2, gthread = Candidate("sync", 2), Candidate("gthread", 2, threads=8)
    >>> round(ceiling(sync2, 0.1, 0.02, cores=2, users=50), 6)
    20.0
    >>> round(ceiling(gthread, 0.1, 0.02, cores=2, users=50), 1)  # the asymptote says 100
    97.0
    """
    slots = candidate.workers if held and candidate.model in EVENT_LOOPS else candidate.slots
    if cpu_s <= 0:
        return io_bound_rps(users, slots, latency_s)
    return closed_network_rps(slots, candidate.workers, users, cores,
                              max(0.0, latency_s - cpu_s), cpu_s)


def memory_mb(candidate: Candidate, profile: Profile) -> float | None:
    """Every worker's own memory plus what they share once: w × USS + (RSS − USS)."""
    if candidate.served not in profile.memory:
        return None
    rss, uss = profile.memory[candidate.served]
    return candidate.workers * uss + (rss - uss)


def risk(candidate: Candidate, profile: Profile, cores: int) -> str:
    """What the lab has measured going wrong with this configuration for this app, briefly
    (README, "Your own app", says each at length)."""
    model = candidate.model
    if model in EVENT_LOOPS and profile.loop_blocked:
        return "loop held by a blocking wait: one request a worker"
    if model in EVENT_LOOPS and profile.cpu_s >= FREEZE_S:
        return f"loop frozen ≈ {profile.cpu_s * 1000:.0f} ms a request"
    if candidate.workers > cores and profile.wait_fraction < 0.5:
        return f"{candidate.workers} processes, {cores} cores: memory, no CPU"
    if candidate.workers < cores and profile.wait_fraction < 0.5:
        return f"{candidate.workers} process for {cores} cores: one core of Python"
    if model == "sync":
        return "slow clients: needs a buffering proxy"
    if model == "gthread" and profile.cpu_s >= FREEZE_S:
        return "GIL: one thread runs Python per worker"
    return ""


def candidates(profile: Profile, *, cores: int, users: int, kind: str) -> list[Candidate]:
    """The configurations worth predicting for a ``kind`` ("wsgi" or "asgi") app."""
    if kind == "asgi":  # gunicorn's asyncio worker, uvicorn's and granian's loops
        # a loop its waits hold serves one request a worker: more workers, as sync's
        counts = {1, cores, 2 * cores + 1, 4 * cores} if profile.loop_blocked else {1, cores}
        return [*(Candidate("asgi", w) for w in sorted(counts)),
                Candidate("asgi", cores, server="uvicorn"),
                Candidate("asgi", cores, server="granian")]
    default = 2 * cores + 1
    found = [Candidate("sync", w, note="gunicorn's default advice (2 × cores + 1)"
                       if w == default else "")
             for w in sorted({cores, default, 4 * cores})]
    wanted = math.ceil(HEADROOM * min(users, profile.knee(cores)))
    need = max(2, math.ceil(wanted / cores))
    threads = {t for t in (2, 4, 8, 16, 32, 64) if t < need} | {min(need, MAX_THREADS)}
    found += [Candidate("gthread", cores, threads=t) for t in sorted(threads)]
    # A gevent worker accepts up to max_accept (100) pending connections at once, and keeps
    # them: without reuse_port the first to wake took most users' keep-alive connections
    # (measured: busiest worker 93 % of a core, the server 159 %, fidelity 0.77).
    found.append(Candidate("gevent", cores, worker_connections=1000, reuse_port=cores > 1))
    # The thread pools of other servers: granian's blocking threads (its I/O in Rust), and
    # waitress's threads in its one process
    found.append(Candidate("wsgi", cores, threads=min(need, MAX_THREADS), server="granian"))
    found.append(Candidate("wsgi", 1, threads=min(wanted, MAX_THREADS), server="waitress"))
    return found


@dataclass(frozen=True)
class Prediction:
    candidate: Candidate
    rps: float
    memory_mb: float | None
    risk: str


def predict(profile: Profile, *, cores: int, users: int, kind: str) -> list[Prediction]:
    """Every candidate under a model the app serves under, best first (:func:`rank`)."""
    found = [Prediction(c, ceiling(c, profile.latency_s, profile.cpu_s, cores=cores,
                                   users=users, held=profile.loop_blocked),
                        memory_mb(c, profile), risk(c, profile, cores))
             for c in candidates(profile, cores=cores, users=users, kind=kind)
             if c.served in profile.memory]
    return rank(found)


def rank(predictions: list[Prediction]) -> list[Prediction]:
    """Best first: ceilings within :data:`TIE` of the best are equal; among equals, no
    frozen loop, then gunicorn before another server, then less memory, then the simpler
    model, then more slots (headroom)."""
    if not predictions:
        return []
    best = max(p.rps for p in predictions)

    def key(p: Prediction):
        equal = ties(p, best)
        c = p.candidate
        freezes = c.model in EVENT_LOOPS and "frozen" in p.risk
        return (not equal, -p.rps if not equal else 0, freezes, c.server != "gunicorn",
                round(p.memory_mb or 0, -1), PREFERENCE.index(c.model),
                SERVER_PREFERENCE.index(c.server), -c.slots)

    return sorted(predictions, key=key)
