"""One traced cell's data, and what it says: overlap, CPU per thread, who waited for whom.

A traced run leaves a folder of JSON files:

* ``requests-<pid>.json``: one gunicorn worker's requests (``webapp/instrument/trace.py``);
* ``clients-<pid>.json``: the heartbeat's requests as its Locust process saw them
  (sent to answered, or to the run's stop for one still unanswered), the wait a frozen
  worker imposes that its own spans cannot show;
* ``cpu.json``: each worker thread's CPU time every 15 ms (:mod:`.sampler`);
* ``cell.json``: the cell's label, bound, measured rps and window (monotonic ns).

Every time is ``time.monotonic_ns()``, one clock for all the machine's processes.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

#: Requests that began this close together were read in one go (see Timeline.bursts).
BURST_NS = 1_000_000


@dataclass(frozen=True)
class Span:
    start_ns: int
    end_ns: int
    pid: int
    tid: int  # the OS thread (native id)
    lane: int  # the greenlet, task or thread it ran on
    endpoint: str
    status: int

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True)
class Worker:
    pid: int
    model: str
    lanes: str  # "thread", "greenlet" or "task"


@dataclass
class Timeline:
    workers: dict[int, Worker] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    #: (start_ns, end_ns, name) of the heartbeat's requests, as its client saw them
    clients: list[tuple[int, int, str]] = field(default_factory=list)
    cpu: dict = field(default_factory=dict)  # the sampler's as_dict(), or empty
    cell: dict = field(default_factory=dict)  # label, bound_rps, rps, window_ns
    client_pid: int | None = None

    @classmethod
    def load(cls, folder: Path) -> Timeline:
        timeline = cls()
        for path in sorted(folder.glob("requests-*.json")):
            data = json.loads(path.read_text())
            pid = data["pid"]
            timeline.workers[pid] = Worker(pid, data["model"], data["lanes"])
            timeline.spans += [Span(s[0], s[1], pid, *s[2:]) for s in data["spans"]]
        for path in sorted(folder.glob("clients-*.json")):
            data = json.loads(path.read_text())
            timeline.client_pid = timeline.client_pid or data["pid"]
            timeline.clients += [tuple(c) for c in data["requests"]]
        if (path := folder / "cpu.json").exists():
            timeline.cpu = json.loads(path.read_text())
        if (path := folder / "cell.json").exists():
            timeline.cell = json.loads(path.read_text())
        timeline.spans.sort(key=lambda s: s.start_ns)
        timeline.clients.sort()
        return timeline

    # -- what the data says ------------------------------------------------------------

    @property
    def window_ns(self) -> tuple[int, int]:
        """The measured window, else the span of every request."""
        if window := self.cell.get("window_ns"):
            return tuple(window)
        if not self.spans:
            return (0, 0)
        return (self.spans[0].start_ns, max(s.end_ns for s in self.spans))

    def in_window(self, spans=None) -> list[Span]:
        """The requests that overlap the window (cut by neither end)."""
        low, high = self.window_ns
        return [s for s in (self.spans if spans is None else spans)
                if s.end_ns > low and s.start_ns < high]

    def max_overlap(self, pid: int | None = None) -> int:
        """The most requests in progress at once in one worker (``pid``), or in any."""
        pids = [pid] if pid is not None else list(self.workers)
        return max((overlap([s for s in self.spans if s.pid == p]) for p in pids), default=0)

    def cpu_intervals(self, pid: int, step: int = 1) -> list[tuple[int, int, dict[int, float],
                                                                   float]]:
        """Per interval of ``step`` sampling periods: (start_ns, end_ns, {tid: share of a
        core}, sampling error).

        A thread's share is the CPU it gained over the interval's wall time. The error: a
        running thread's count in ``schedstat`` is brought up to date only at the
        scheduler's tick (:func:`.sampler.kernel_tick_s`, 4 ms here) or when it stops
        running, so each read can lag by a tick for each thread then on a CPU (no more than
        the cores), and the reads of a process's threads are not one instant (their span
        counts too). A sum of shares may exceed the truth by that much, over the wall time.
        """
        samples = self.cpu.get("samples", [])
        tick_ns = self.cpu.get("tick_s", 0.01) * 1e9
        on_cpu = self.cpu.get("cores", 1)
        key = str(pid)
        found = []
        for (a0, a1, a, *_), (b0, b1, b, *_) in zip(samples, samples[step:], strict=False):
            before, after = a.get(key), b.get(key)
            if not before or not after:
                continue
            wall = (b0 + b1) / 2 - (a0 + a1) / 2
            if wall <= 0:
                continue
            shares = {int(tid): (ns - before.get(tid, ns)) / wall for tid, ns in after.items()}
            lag = min(on_cpu, len(after)) * tick_ns
            found.append((a1, b0, shares, (lag + (a1 - a0) + (b1 - b0)) / wall))
        return found

    def thread_cpu(self, pid: int) -> dict[int, float]:
        """Each of a worker's threads' mean share of a core over the window."""
        low, high = self.window_ns
        used: dict[int, float] = {}
        wall = 0.0
        for a, b, shares, _ in self.cpu_intervals(pid):
            if a >= low and b <= high:
                wall += b - a
                for tid, share in shares.items():
                    used[tid] = used.get(tid, 0.0) + share * (b - a)
        return {tid: ns / wall for tid, ns in used.items()} if wall else {}

    def run_queue(self, pid: int) -> dict[int, float]:
        """Each of a worker's threads' share of the window spent runnable but waiting for a
        core (``schedstat``'s second field): the OS's queue, not the GIL's."""
        inside = [s for s in self.cpu.get("samples", [])
                  if len(s) > 3 and self.window_ns[0] <= s[0] and s[1] <= self.window_ns[1]]
        if len(inside) < 2:
            return {}
        first, last = inside[0], inside[-1]
        wall = (last[0] + last[1]) / 2 - (first[0] + first[1]) / 2
        before, after = first[3].get(str(pid), {}), last[3].get(str(pid), {})
        return {int(t): (ns - before.get(t, ns)) / wall for t, ns in after.items()}

    def bursts(self, pid: int, within_ns: int = BURST_NS) -> float:
        """The share of a worker's requests (in the window) that began within ``within_ns``
        of the one before: read together, as a loop that thaws reads every request that
        arrived while it computed."""
        low, high = self.window_ns
        starts = sorted(s.start_ns for s in self.spans if s.pid == pid and low <= s.start_ns < high)
        if len(starts) < 2:
            return 0.0
        return sum(b - a < within_ns for a, b in itertools.pairwise(starts)) / (len(starts) - 1)

    def idle_holding(self, pid: int, below: float = 0.2) -> float:
        """The share of the window's sampling intervals in which the worker ran under
        ``below`` of a core while it held requests: every one of them waiting (asleep, on
        I/O), none computing."""
        low, high = self.window_ns
        spans = [s for s in self.spans if s.pid == pid]
        intervals = [i for i in self.cpu_intervals(pid) if low <= i[0] and i[1] <= high]
        if not intervals:
            return 0.0
        idle = sum(1 for a, b, shares, _ in intervals if sum(shares.values()) < below
                   and any(s.start_ns < (a + b) // 2 < s.end_ns for s in spans))
        return idle / len(intervals)

    def phases(self, pid: int) -> dict:
        """Where a request's time went on a thread worker, in mean ms per request finished in
        the window: in the app (its span), on a CPU, runnable but waiting for one (the OS's
        run queue), and the rest -- blocked: its own waits (a sleep, I/O) and the GIL's.
        From the request threads' CPU and run-queue accounts (the main thread's aside);
        empty for greenlets and tasks, which share one thread's account."""
        worker = self.workers[pid]
        low, high = self.window_ns
        spans = [s for s in self.spans if s.pid == pid and low <= s.start_ns and s.end_ns <= high]
        if worker.lanes != "thread" or not spans or not self.cpu:
            return {}
        wall_ms = (high - low) / 1e6
        cpu = sum(v for t, v in self.thread_cpu(pid).items() if t != pid) * wall_ms
        queued = sum(v for t, v in self.run_queue(pid).items() if t != pid) * wall_ms
        in_app = sum(s.end_ns - s.start_ns for s in spans) / 1e6
        n = len(spans)
        # the request threads' share of the window outside any request (waiting for work)
        threads = {s.tid for s in spans}
        busy = sum(min(s.end_ns, high) - max(s.start_ns, low) for s in self.spans
                   if s.pid == pid and s.end_ns > low and s.start_ns < high) / 1e6
        return {"requests_ms": {"in_app": round(in_app / n, 2), "cpu": round(cpu / n, 2),
                                "run_queue": round(queued / n, 2),
                                "blocked": round((in_app - cpu - queued) / n, 2)},
                "idle_share": round(max(0.0, 1 - busy / (len(threads) * wall_ms)), 3)}

    def cpu_sum_peak(self, pid: int, step: int = 1) -> tuple[float, float]:
        """The highest sum of a worker's threads' CPU over one interval of ``step`` periods,
        in cores, and that interval's sampling error (:meth:`cpu_intervals`)."""
        intervals = self.cpu_intervals(pid, step)
        if not intervals:
            return (0.0, 0.0)
        peak = max(intervals, key=lambda i: sum(i[2].values()) - i[3])
        return sum(peak[2].values()), peak[3]

    def waited_through(self, endpoint: str, by: str = "heartbeat",
                       served: str = "/health") -> tuple[int, int]:
        """(the ``by`` client requests, how many of them waited -- from the client's send to
        the worker's start of it -- through at least one whole ``endpoint`` request): on a
        frozen loop the heartbeat waits out every prime it finds running, and more.

        The client's send time is exact (its answer time less Locust's response time; the
        answer's own time is when Locust got round to it, a few ms late when its core is
        busy); the request it became is the first ``served`` span the worker began after.
        """
        runs = [(s.start_ns, s.end_ns) for s in self.spans if s.endpoint == endpoint]
        starts = sorted(s.start_ns for s in self.spans if s.endpoint == served)
        asked = waited = 0
        for a, _, name in self.clients:
            began = next((t for t in starts if t >= a), None)
            if name != by or began is None:
                continue
            asked += 1
            waited += any(a <= start and end <= began for start, end in runs)
        return asked, waited


    def summary(self) -> dict:
        """What a report says of the timeline, in numbers: requests, the most in progress at
        once, each worker's threads' mean share of a core and their peak sum (over ~150 ms,
        with its sampling error), the heartbeat's waits."""
        workers = {}
        for pid in self.workers:
            busy = sorted(self.thread_cpu(pid).values(), reverse=True)
            peak, error = self.cpu_sum_peak(pid, PEAK_STEP)
            workers[str(pid)] = {"max_overlap": self.max_overlap(pid),
                                 "bursts": round(self.bursts(pid), 3),
                                 "idle_holding": round(self.idle_holding(pid), 3),
                                 "thread_cpu": [round(b, 3) for b in busy if b >= 0.005],
                                 "cpu_sum_peak": round(peak, 3), "cpu_sum_error": round(error, 3),
                                 **self.phases(pid)}
        asked, waited = self.waited_through("/prime")
        if not any(s.endpoint == "/prime" for s in self.spans):
            asked = waited = 0
        return {"requests": len(self.in_window()), "max_overlap": self.max_overlap(),
                "workers": workers, "heartbeats": asked, "heartbeats_through_a_prime": waited}


#: Sampling periods per interval where a sum of threads' CPU is judged (about 150 ms: the
#: tick's lag is then a few per cent of it, see Timeline.cpu_intervals).
PEAK_STEP = 10


def mean_request_ms(summary: dict | None) -> dict[str, float] | None:
    """From a traced cell's :meth:`Timeline.summary`: the mean over its thread workers of
    where a request's time went (:meth:`Timeline.phases`: in the app, CPU, run queue,
    blocked, in ms) and of their threads' idle share; None when it has no such account."""
    found = [w for w in (summary or {}).get("workers", {}).values() if w.get("requests_ms")]
    if not found:
        return None
    mean = {key: sum(w["requests_ms"][key] for w in found) / len(found)
            for key in found[0]["requests_ms"]}
    return mean | {"idle_share": sum(w["idle_share"] for w in found) / len(found)}


def overlap(spans: list[Span]) -> int:
    """The most spans in progress at once (one ending as another starts: not overlapping).

    >>> overlap([Span(0, 10, 1, 1, 1, "/io", 200), Span(10, 20, 1, 1, 1, "/io", 200)])
    1
    >>> overlap([Span(0, 10, 1, 1, 1, "/io", 200), Span(5, 20, 1, 2, 2, "/io", 200)])
    2
    """
    events = sorted([(s.start_ns, 1) for s in spans] + [(s.end_ns, -1) for s in spans])
    most = now = 0
    for _, step in events:  # at one instant, ends (-1) sort before starts
        now += step
        most = max(most, now)
    return most
