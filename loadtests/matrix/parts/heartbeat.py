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
        beat = run.summary.rows.get("heartbeat", {})
        return {"heartbeat_requests": int(beat.get("Request Count", 0)),
                "heartbeat_failures": int(beat.get("Failure Count", 0)),
                "heartbeat_p50_ms": number(beat.get("50%")),
                "heartbeat_p99_ms": number(beat.get("99%")),
                "heartbeat_max_ms": number(beat.get("100%"))}
