"""The heartbeat: one user asking ``/health`` beside the load, its latency recorded."""

from __future__ import annotations

from ...load.locustrun import number
from ...load.serve import Run
from .base import CellPart, Context


class Heartbeat(CellPart):
    @classmethod
    def of(cls, ctx: Context) -> Heartbeat | None:
        return cls(ctx) if ctx.scenario.heartbeat else None

    def fields(self, run: Run) -> dict:
        """Locust's percentiles are its buckets' values, rounded to two significant digits
        above 100 ms (a 685 ms p99 reads 690); its max is exact. A percentile is kept at
        most the max, which it is by definition."""
        beat = run.summary.rows.get("heartbeat", {})
        top = number(beat.get("100%"))
        return {"heartbeat_requests": int(beat.get("Request Count", 0)),
                "heartbeat_failures": int(beat.get("Failure Count", 0)),
                "heartbeat_p50_ms": at_most(number(beat.get("50%")), top),
                "heartbeat_p99_ms": at_most(number(beat.get("99%")), top),
                "heartbeat_max_ms": top}


def at_most(value: float | None, top: float | None) -> float | None:
    """``value``, no more than ``top`` (either may be missing)."""
    return value if value is None or top is None else min(value, top)
