"""How a timeline is laid out: worker process → OS thread → lane (the thread itself, or
its greenlets or tasks), each OS thread with its CPU beneath; the heartbeat's client on top.

The PNG (:mod:`.draw`) and the trace-event JSON (:mod:`.chrome`) share this layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .data import Timeline

#: Synthetic lane ids for greenlets and tasks start here, above any Linux thread id.
SYNTHETIC_TID = 10_000_000
#: A thread that ran no request shows only if it used this much of a core in the window
#: (gthread's main thread, the poller, does; gevent's idle resolver threads do not).
CPU_ONLY_SHARE = 0.005


@dataclass
class Lane:
    tid: int  # the trace-event tid: the OS thread's, or synthetic for a greenlet or task
    name: str
    spans: list = field(default_factory=list)


@dataclass
class Thread:
    tid: int  # the OS thread (native id)
    name: str
    lanes: list[Lane] = field(default_factory=list)  # empty: CPU only


@dataclass
class WorkerLanes:
    pid: int
    title: str
    threads: list[Thread]
    #: (time_ns, {native tid: share of a core}) per sampling interval
    cpu: list[tuple[int, dict[int, float]]]
    thread_names: dict[int, str]  # every sampled thread's row name

    @property
    def lanes(self) -> list[Lane]:
        found = [lane for thread in self.threads for lane in thread.lanes]
        # a CPU-only thread still names its row in a trace viewer
        return found + [Lane(t.tid, t.name) for t in self.threads if not t.lanes]


def _cpu(timeline: Timeline, pid: int) -> list[tuple[int, dict[int, float]]]:
    return [((a + b) // 2, shares) for a, b, shares, _ in timeline.cpu_intervals(pid)]


def lanes(timeline: Timeline) -> list[WorkerLanes]:
    """Every worker's threads and lanes, each in order of its first request."""
    found = []
    for pid, worker in sorted(timeline.workers.items()):
        cpu = _cpu(timeline, pid)
        threads: dict[int, Thread] = {}
        by_lane: dict[int, Lane] = {}
        for span in (s for s in timeline.in_window() if s.pid == pid):
            thread = threads.get(span.tid)
            if thread is None:
                thread = threads[span.tid] = Thread(span.tid, _thread_name(span.tid, pid))
            lane = by_lane.get(span.lane)
            if lane is None:
                if worker.lanes == "thread":
                    lane = Lane(span.tid, thread.name)
                else:  # greenlets and tasks: numbered in order of their first request
                    lane = Lane(SYNTHETIC_TID + len(by_lane), f"{worker.lanes} {len(by_lane) + 1}")
                by_lane[span.lane] = lane
                thread.lanes.append(lane)
            lane.spans.append(span)
        for tid, share in timeline.thread_cpu(pid).items():  # threads that ran no request
            if tid not in threads and (share >= CPU_ONLY_SHARE or tid == pid):
                threads[tid] = Thread(tid, _thread_name(tid, pid))
        if pid not in threads:  # the main thread, always: idle, it says so
            threads[pid] = Thread(pid, _thread_name(pid, pid))
        number = len(found) + 1
        ordered = sorted(threads.values(), key=_first)
        names = _by_role(ordered, pid, number)
        for thread in ordered:
            thread.name = names[thread.tid]
            for lane in thread.lanes:
                if lane.tid == thread.tid:  # the thread is its own lane
                    lane.name = thread.name
                else:
                    lane.name = f"worker {number} {lane.name}"
        found.append(WorkerLanes(pid, f"worker {number} ({worker.model}, pid {pid})", ordered,
                                 cpu, {tid: names.get(tid, f"worker {number} thread, tid {tid}")
                                       for _, shares in cpu for tid in shares}))
    return found


def _thread_name(tid: int, pid: int) -> str:
    return "main thread" if tid == pid else f"thread {tid}"


def _by_role(threads: list[Thread], pid: int, number: int) -> dict[int, str]:
    """Each thread's row name by its role, not its id: "worker 1 main thread", then
    "worker 1 thread 1", "thread 2"... in order of their first request."""
    names, count = {}, 0
    for thread in threads:
        if thread.tid == pid:
            names[thread.tid] = f"worker {number} main thread"
        else:
            count += 1
            names[thread.tid] = f"worker {number} thread {count}"
    return names


def _first(thread: Thread) -> tuple:
    """Threads with requests first, by their first; the main thread first of the rest."""
    starts = [s.start_ns for lane in thread.lanes for s in lane.spans]
    return (not starts, min(starts, default=0), thread.tid)


def client_lane(timeline: Timeline) -> Lane | None:
    """The heartbeat's requests as its client saw them, or None when it had none."""
    low, high = timeline.window_ns
    spans = [c for c in timeline.clients if c[1] > low and c[0] < high]
    return Lane(1, "heartbeat (Locust's client)", spans) if spans else None
