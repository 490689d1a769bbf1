"""What an open load's requests came to: each counted once, and timed from when it was due.

:class:`Run` holds one run's counts and two HDR histograms (``hdrhistogram``): the latency
from the due time, and the generator's own send lag. Each request scheduled ends as exactly
one outcome (:meth:`Run.count`):

* **answered**, by its HTTP status (a 503 is a server shedding it);
* **failed**, by kind: ``refused`` (nothing listening, or a full accept queue that refuses),
  ``reset`` (the connection reset or a broken pipe), ``closed`` (the server hung up before a
  whole answer), or the error's class name;
* **timed out** at the client: no answer within its deadline (``--timeout``);
* **dropped** by the generator: due while its cap of requests in flight was out.

Their sum is what was scheduled (:attr:`Run.unaccounted` is 0), which the overload tests
check under every worker model. **Goodput** is the answers with a 2xx status within the
client's deadline. A client that retries (``--retries``) sends a request that timed out
again, with a deadline of its own: the request still ends once, as its last attempt did,
its latency counted from its first due time; the attempts beyond the first are the load
the retries added (:attr:`Run.retried`).

:meth:`Run.timeline` gives the same per second of due time: the load offered, the goodput,
the p99 of the 2xx answers and each outcome's count, from which :func:`recovery_s` reads
how long p99 took to come back under the deadline after a burst.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from hdrh.histogram import HdrHistogram

#: Histograms in microseconds, from 1 µs to 10 minutes, three significant digits.
LOWEST_US, HIGHEST_US, DIGITS = 1, 600_000_000, 3
#: The percentiles every run reports.
PERCENTILES = (50, 90, 99, 99.9)
#: A sleep until a due time that ends this many seconds past it, the generator's own CPU
#: meanwhile left out, is a late wake (the send lag's bound at 1,000/s on one core).
LATE_WAKE_S = 0.002


def histogram() -> HdrHistogram:
    """An empty histogram of microseconds, in the lab's range."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


class End(NamedTuple):
    """How one scheduled request ended."""

    due: float  # seconds from the run's start
    outcome: int | str  # its status, or "timeout", "dropped", or a failure's kind
    latency: float  # seconds from due to its end, its retries included
    attempt_s: float  # seconds its last attempt took (its latency, without retries)
    attempts: int  # times it was sent (0: dropped)
    fields: dict | None = None  # its answer's timed fields (--time), by name


def record(histogram: HdrHistogram, seconds: float) -> None:
    """``seconds`` into ``histogram`` in microseconds, clamped to its range."""
    histogram.record_value(min(HIGHEST_US, max(LOWEST_US, round(seconds * 1e6))))


@dataclass
class Run:
    """What one run counted and measured; :meth:`summary` is its JSON."""

    mode: str
    scheduled: int
    duration_s: float
    latency: HdrHistogram = field(default_factory=histogram)
    lag: HdrHistogram = field(default_factory=histogram)
    statuses: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    timed_out: int = 0
    dropped: int = 0
    sent: int = 0
    #: Answers counted by one field of their JSON body (``--by FIELD``: which worker process
    #: answered, from the lab's ``pid``), as ``{value: count}``.
    by: Counter = field(default_factory=Counter)
    #: ``--time FIELD``: a numeric field of the answers' JSON bodies, in seconds (the lab's
    #: ``elapsed`` and ``cpu``: the view's own time), in a histogram each, by name.
    fields: dict[str, HdrHistogram] = field(default_factory=dict)
    #: ``--over MS``: the answers slower than this (seconds) are counted (None: not counted).
    over_s: float | None = None
    #: The client's deadline (seconds): a 2xx answer within it is goodput.
    deadline_s: float = math.inf
    #: ``time.perf_counter()`` at the schedule's second 0.
    start: float = 0.0
    #: ``time.time()`` then: where another process's samples meet the timeline.
    started_at: float = 0.0
    #: Each request's end, in the order they ended.
    events: list[End] = field(default_factory=list)
    #: Times a request that timed out is sent again (``--retries``).
    retries: int = 0
    #: The schedule's sleeps that ended more than :data:`LATE_WAKE_S` past their due time,
    #: less the generator's own CPU meanwhile (:meth:`woke`).
    late_wakes: int = 0

    def woke(self, late: float, own: float) -> None:
        """A sleep until a due time ended ``late`` seconds past it, ``own`` of them the
        generator's own CPU (answers read meanwhile): the rest, past :data:`LATE_WAKE_S`,
        is a wake the machine gave late (its hypervisor, or another task on the core).

        >>> run = Run("open", 2, 1.0)
        >>> run.woke(0.0031, 0.0005), run.woke(0.0031, 0.0015), run.late_wakes
        (None, None, 1)
        """
        if late - own > LATE_WAKE_S:
            self.late_wakes += 1

    def count(self, due: float, outcome: int | str, latency: float,
              attempt_s: float | None = None, attempts: int = 1,
              fields: dict | None = None) -> None:
        """One request's end (``due`` in ``time.perf_counter()``): an int is the answer's
        status; "timeout", "dropped", or a failure's kind. ``attempt_s``: its last attempt's
        seconds, where it was sent more than once; ``fields``: its answer's timed ones."""
        if isinstance(outcome, int):
            self.statuses[outcome] += 1
            record(self.latency, latency)
        elif outcome == "timeout":
            self.timed_out += 1
        elif outcome == "dropped":
            self.dropped += 1
        else:
            self.failed[outcome] += 1
        self.events.append(End(due - self.start, outcome, latency,
                               latency if attempt_s is None else attempt_s,
                               0 if outcome == "dropped" else attempts, fields or None))

    @property
    def answers(self) -> list[tuple[float, float]]:
        """Each answered request's due time (``time.perf_counter()``) and latency."""
        return [(self.start + end.due, end.latency) for end in self.events
                if isinstance(end.outcome, int)]

    def records(self) -> list[dict]:
        """Each request's end in due order: due (seconds from the start), outcome, latency
        (seconds) and its answer's timed fields (``--records``)."""
        return [{"due": end.due, "outcome": end.outcome, "latency": end.latency,
                 **(end.fields or {})} for end in sorted(self.events, key=lambda e: e.due)]

    @property
    def unaccounted(self) -> int:
        """Requests scheduled that ended as no outcome: 0 unless one was lost uncounted."""
        ended = sum(self.statuses.values()) + sum(self.failed.values())
        return self.scheduled - ended - self.timed_out - self.dropped

    @property
    def good(self) -> int:
        """The 2xx answers within the client's deadline (a retried request's: within its last
        attempt's)."""
        return sum(_good(end, self.deadline_s) for end in self.events)

    @property
    def retried(self) -> int:
        """Attempts beyond each request's first: the load the retries added."""
        return sum(max(0, end.attempts - 1) for end in self.events)

    def timeline(self, width: float = 1.0) -> list[dict]:
        """Per ``width`` seconds of due time: the requests due, the goodput, the p99 of the
        2xx answers from due (ms; None without two of them) and each outcome's count; with
        retries, the attempts beyond the first ("retried")."""
        buckets: dict[int, list[End]] = {}
        for end in self.events:
            buckets.setdefault(max(0, math.floor(end.due / width)), []).append(end)
        rows = []
        for index in range(max(buckets, default=-1) + 1):
            ended = buckets.get(index, [])
            kinds = Counter(str(end.outcome) for end in ended)
            retried = sum(max(0, end.attempts - 1) for end in ended)
            rows.append({"t": index * width, "due": len(ended),
                         "good": sum(_good(end, self.deadline_s) for end in ended),
                         "p99_ms": _p99_ms([end.latency for end in ended if _ok(end.outcome)]),
                         **({"retried": retried} if self.retries else {}),
                         **dict(sorted(kinds.items()))})
        return rows

    def summary(self) -> dict:
        answered = sum(self.statuses.values())
        good = self.good
        return {
            "mode": self.mode, "scheduled": self.scheduled, "duration_s": self.duration_s,
            "started_at": self.started_at,
            "offered_rps": self.scheduled / self.duration_s,
            "sent": self.sent, "answered": answered, "achieved_rps": answered / self.duration_s,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failed": dict(self.failed), "timed_out": self.timed_out, "dropped": self.dropped,
            "unaccounted": self.unaccounted,
            **({"retries": self.retries, "retried": self.retried} if self.retries else {}),
            **({"deadline_ms": self.deadline_s * 1000, "good": good,
                "goodput_rps": good / self.duration_s} if self.deadline_s < math.inf else {}),
            "latency_ms": _percentiles(self.latency),
            "send_lag_ms": _percentiles(self.lag),
            **({"by": {str(k): v for k, v in self.by.most_common()}} if self.by else {}),
            **({"fields_ms": {name: _percentiles(histogram)
                              for name, histogram in self.fields.items()}}
               if self.fields else {}),
            **({"over": {"ms": self.over_s * 1000, "count": sum(
                isinstance(end.outcome, int) and end.latency > self.over_s
                for end in self.events)}}
               if self.over_s is not None else {}),
            "timeline": self.timeline(),
        }


def _ok(outcome: int | str) -> bool:
    return isinstance(outcome, int) and 200 <= outcome < 300


def _good(end: End, deadline_s: float) -> bool:
    return _ok(end.outcome) and end.attempt_s <= deadline_s


def _p99_ms(latencies: list[float]) -> float | None:
    if len(latencies) < 2:
        return None
    return statistics.quantiles(latencies, n=100, method="inclusive")[98] * 1000


def recovery_s(timeline: list[dict], after: float, deadline_ms: float) -> float | None:
    """Seconds from ``after`` (the burst's end) to the first second of the timeline from
    which on every second's p99 is within ``deadline_ms`` and nothing timed out; None if the
    run ended before that (a second without two 2xx answers has not recovered).

    >>> rows = [{"t": 0, "p99_ms": 900}, {"t": 1, "p99_ms": 3000}, {"t": 2, "p99_ms": 800},
    ...         {"t": 3, "p99_ms": 400}]
    >>> recovery_s(rows, 1.0, 1000)
    1.0
    >>> recovery_s(rows[:2], 1.0, 1000) is None
    True
    """
    recovered = None
    for row in timeline:
        if row["t"] + 1e-9 < after:
            continue
        well = row["p99_ms"] is not None and row["p99_ms"] <= deadline_ms \
            and not row.get("timeout")
        if not well:
            recovered = None
        elif recovered is None:
            recovered = row["t"]
    return None if recovered is None else max(0.0, recovered - after)


def _percentiles(histogram: HdrHistogram) -> dict[str, float]:
    if not histogram.get_total_count():
        return {}
    values = {f"p{p:g}": histogram.get_value_at_percentile(p) / 1000 for p in PERCENTILES}
    return {**values, "max": histogram.get_max_value() / 1000,
            "mean": histogram.get_mean_value() / 1000}


def report(summary: dict, url: str, *, timeline: bool = False) -> str:
    """The summary as the few lines the generator prints (``timeline``: a line a second)."""
    counts = ", ".join(f"{summary[key]} {key}"
                       for key in ("scheduled", "sent", "answered"))
    statuses = " ".join(f"{code}: {n}" for code, n in summary["statuses"].items()) or "none"
    failed = sum(summary["failed"].values())
    kinds = " ".join(f"{kind}: {n}" for kind, n in summary["failed"].items())
    lost = (f"{failed} failed{f' ({kinds})' if kinds else ''}, "
            f"{summary['timed_out']} timed out, {summary['dropped']} dropped")
    lines = [f"{summary['mode']} loop on {url} for {summary['duration_s']:g} s",
             f"offered {summary['offered_rps']:.1f}/s, achieved {summary['achieved_rps']:.1f}/s",
             f"{counts} ({statuses}); {lost}"]
    if "good" in summary:
        lines.append(f"goodput: {summary['good']} answered 2xx within "
                     f"{summary['deadline_ms']:g} ms ({summary['goodput_rps']:.1f}/s)")
    timed = [(f"answers' {name}", values) for name, values in summary.get("fields_ms", {}).items()]
    for name, values in [("latency from due", summary["latency_ms"]),
                         ("send lag", summary["send_lag_ms"]), *timed]:
        shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
        lines.append(f"{name + ' (ms):':<23}{shown or 'no answers'}")
    if over := summary.get("over"):
        lines.append(f"{'slower than ' + format(over['ms'], 'g') + ' ms:':<23}{over['count']}")
    if by := summary.get("by"):
        lines.append(f"{'answers by field:':<23}" + "  ".join(f"{k} {v}" for k, v in by.items()))
    if timeline:
        lines += ["", "second  due  good  p99 ms  outcomes"]
        for row in summary["timeline"]:
            p99 = "-" if row["p99_ms"] is None else f"{row['p99_ms']:.0f}"
            ends = "  ".join(f"{k}: {v}" for k, v in row.items()
                             if k not in ("t", "due", "good", "p99_ms"))
            lines.append(f"{row['t']:>6g}  {row['due']:>3}  {row['good']:>4}  {p99:>6}  {ends}")
    return "\n".join(lines)
