"""What an open load's requests came to: each counted once, and timed from when it was due.

:class:`Run` holds one run's counts (answered by status, failed, timed out, dropped) and two
HDR histograms (``hdrhistogram``): the latency from the due time, and the generator's own
send lag; :meth:`Run.summary` is the JSON the generator prints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

#: Histograms in microseconds, from 1 µs to 10 minutes, three significant digits.
LOWEST_US, HIGHEST_US, DIGITS = 1, 600_000_000, 3
#: The percentiles every run reports.
PERCENTILES = (50, 90, 99, 99.9)


def _histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def record(histogram: HdrHistogram, seconds: float) -> None:
    """``seconds`` into ``histogram`` in microseconds, clamped to its range."""
    histogram.record_value(min(HIGHEST_US, max(LOWEST_US, round(seconds * 1e6))))


@dataclass
class Run:
    """What one run counted and measured; :meth:`summary` is its JSON."""

    mode: str
    scheduled: int
    duration_s: float
    latency: HdrHistogram = field(default_factory=_histogram)
    lag: HdrHistogram = field(default_factory=_histogram)
    statuses: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    timed_out: int = 0
    dropped: int = 0
    sent: int = 0
    #: Answers counted by one field of their JSON body (``--by FIELD``: which worker process
    #: answered, from the lab's ``pid``), as ``{value: count}``.
    by: Counter = field(default_factory=Counter)
    #: ``--over MS``: the answers slower than this (seconds) are counted (None: not counted).
    over_s: float | None = None
    #: Each answered request's due time (``time.perf_counter()``) and latency in seconds,
    #: in the order they were answered.
    answers: list[tuple[float, float]] = field(default_factory=list)

    def summary(self) -> dict:
        answered = sum(self.statuses.values())
        return {
            "mode": self.mode, "scheduled": self.scheduled, "duration_s": self.duration_s,
            "offered_rps": self.scheduled / self.duration_s,
            "sent": self.sent, "answered": answered, "achieved_rps": answered / self.duration_s,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failed": dict(self.failed), "timed_out": self.timed_out, "dropped": self.dropped,
            "latency_ms": _percentiles(self.latency),
            "send_lag_ms": _percentiles(self.lag),
            **({"by": {str(k): v for k, v in self.by.most_common()}} if self.by else {}),
            **({"over": {"ms": self.over_s * 1000, "count": sum(
                latency > self.over_s for _, latency in self.answers)}}
               if self.over_s is not None else {}),
        }


def _percentiles(histogram: HdrHistogram) -> dict[str, float]:
    if not histogram.get_total_count():
        return {}
    values = {f"p{p:g}": histogram.get_value_at_percentile(p) / 1000 for p in PERCENTILES}
    return {**values, "max": histogram.get_max_value() / 1000}
