"""A timeline as Chrome trace-event JSON: open it in ``chrome://tracing`` or Perfetto.

The format ("Trace Event Format", the JSON object form): ``{"traceEvents": [...],
"displayTimeUnit": "ms"}``. Each request is a complete event (``"ph": "X"``, ``ts`` and
``dur`` in microseconds) on its worker (``pid``) and its lane (``tid``: the OS thread,
or under gevent and asgi a small number per greenlet or task); each worker's thread CPU
is a counter event (``"ph": "C"``) every sample; metadata events (``"ph": "M"``) name the
processes and lanes. Times count from the measured window's start.
"""

from __future__ import annotations

from .data import Timeline
from .lanes import client_lane, lanes

#: Chrome's metadata and event phases this module writes.
PHASES = ("X", "C", "M")


def _us(ns: int, origin: int) -> float:
    return round((ns - origin) / 1000, 3)


def trace_events(timeline: Timeline) -> dict:
    """The whole timeline as one trace-event JSON object."""
    origin = timeline.window_ns[0]
    events: list[dict] = []
    for worker in lanes(timeline):
        events.append({"name": "process_name", "ph": "M", "pid": worker.pid, "tid": 0,
                       "args": {"name": worker.title}})
        for index, lane in enumerate(worker.lanes):
            events.append({"name": "thread_name", "ph": "M", "pid": worker.pid,
                           "tid": lane.tid, "args": {"name": lane.name}})
            events.append({"name": "thread_sort_index", "ph": "M", "pid": worker.pid,
                           "tid": lane.tid, "args": {"sort_index": index}})
            events += [{"name": s.endpoint, "cat": "request", "ph": "X",
                        "ts": _us(s.start_ns, origin), "dur": _us(s.end_ns, s.start_ns),
                        "pid": worker.pid, "tid": lane.tid,
                        "args": {"status": s.status, "thread": s.tid}}
                       for s in lane.spans]
        for t_ns, shares in worker.cpu:
            events.append({"name": "CPU per thread (cores)", "ph": "C", "pid": worker.pid,
                           "tid": 0, "ts": _us(t_ns, origin),
                           "args": {worker.thread_names.get(tid, str(tid)): round(share, 4)
                                    for tid, share in shares.items()}})
    if client := client_lane(timeline):
        pid = timeline.client_pid or 0
        events.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                       "args": {"name": client.name}})
        events += [{"name": name, "cat": "client", "ph": "X", "ts": _us(a, origin),
                    "dur": _us(b, a), "pid": pid, "tid": 1, "args": {}}
                   for a, b, name in client.spans]
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {key: str(value) for key, value in timeline.cell.items()
                          if key != "window_ns"}}
