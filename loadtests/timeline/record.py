"""Tracing one matrix cell: what the runner adds to a cell when its timeline is wanted.

:class:`CellTrace` gives the server ``TRACE=1`` and its folder, the locustfile
``--trace-clients``, samples the workers' threads through the measured window, lets
the workers write their spans as they quit, and then writes ``cell.json`` and draws
the cell's ``timeline.png`` and ``trace.json`` (:func:`loadtests.timeline.write`).
Untraced, it adds nothing and does nothing.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from . import write
from .sampler import ThreadCpuSampler

#: The report's folder of timeline PNGs, one per traced cell (named as its cell's folder).
TIMELINES = "timelines"

#: Seconds the workers get to write their spans once told to quit (a gevent worker busy in
#: a prime writes when the prime ends).
FLUSH_TIMEOUT_S = 10.0


class CellTrace:
    def __init__(self, cell_dir: Path, enabled: bool):
        self.enabled = enabled
        self.folder = cell_dir / "trace"
        self.cell_dir = cell_dir
        self.sampler: ThreadCpuSampler | None = None
        if enabled:
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in self.folder.glob("*.json"):
                old.unlink()

    @property
    def env(self) -> tuple[tuple[str, str], ...]:
        return (("TRACE", "1"), ("TRACE_DIR", str(self.folder))) if self.enabled else ()

    @property
    def locust_flags(self) -> tuple[str, ...]:
        return ("--trace-clients", str(self.folder)) if self.enabled else ()

    def sampling(self, worker_pids: list[int]):
        """Sample these workers' threads while the block runs (the load's whole run)."""
        if not self.enabled:
            return contextlib.nullcontext()
        pids = list(worker_pids)
        self.sampler = ThreadCpuSampler(lambda: pids)
        return self.sampler

    def save_samples(self) -> None:
        """Write the threads' CPU samples beside the spans (``cpu.json``), if it sampled."""
        if self.sampler is not None:
            (self.folder / "cpu.json").write_text(json.dumps(self.sampler.as_dict()))

    def flushed(self, worker_pids: list[int]) -> bool:
        """Whether each of these workers has written its spans."""
        return all((self.folder / f"requests-{pid}.json").exists() for pid in worker_pids)

    def finish(self, row: dict, window_wall: tuple[float, float]) -> None:
        """Write what the run measured beside the spans, and draw them; name the PNG in
        ``row`` (relative to the report's folder)."""
        if not self.enabled:
            return
        # Locust's window is wall-clock time (time.time()); the spans are monotonic
        offset = time.time_ns() - time.monotonic_ns()
        window_ns = [round(t * 1e9) - offset for t in window_wall]
        self.save_samples()
        (self.folder / "cell.json").write_text(json.dumps({
            "label": f"{row['scenario']} | {row['label']}", "users": row["users"],
            "rps": row["rps"], "bound_rps": row["bound_rps"], "fidelity": row["fidelity"],
            "window_ns": window_ns,
            "flushed": self.sampler is not None and self.flushed(self.sampler.pids())}))
        # the PNG where the report (and a committed sample) keeps it; the JSON with the cell
        report = self.cell_dir.parent.parent
        (report / TIMELINES).mkdir(exist_ok=True)
        png = report / TIMELINES / f"{self.cell_dir.name}.png"
        _, events, summary = write(self.folder, self.cell_dir, png)
        row["timeline"] = str(png.relative_to(report))
        row["trace_events"] = str(events.relative_to(report))
        row["trace"] = summary
