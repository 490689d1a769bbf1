"""Request timelines of a cell: who served which request when, and which thread ran Python.

* :mod:`.sampler` reads each worker thread's CPU time every 15 ms from ``/proc``;
* :mod:`.data` gathers one cell's spans (``webapp/instrument/trace.py``, one file per worker), the
  heartbeat's own view of its requests (the locustfile) and the CPU samples, and answers
  what the tests and the lessons ask of them (overlap, CPU per thread, coverage);
* :mod:`.chrome` writes the Chrome trace-event JSON (``chrome://tracing``, Perfetto);
* :mod:`.draw` draws the timeline PNG.

    python -m loadtests.timeline traces/      # spans a TRACE=1 gunicorn wrote: PNG + JSON
"""

from __future__ import annotations

import json
from pathlib import Path

PNG, JSON = "timeline.png", "trace.json"


def write(folder: Path, out: Path | None = None, png: Path | None = None
          ) -> tuple[Path, Path, dict]:
    """Draw ``folder``'s traced data as ``timeline.png`` (or ``png``) and ``trace.json`` in
    ``out`` (default: beside ``folder``); return both paths and the data's summary."""
    from .chrome import trace_events
    from .data import Timeline
    from .draw import draw

    out = out or folder.parent
    timeline = Timeline.load(folder)
    (out / JSON).write_text(json.dumps(trace_events(timeline)))
    return draw(timeline, png or out / PNG), out / JSON, timeline.summary()
