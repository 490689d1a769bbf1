"""The timeline PNG: a lane per thread, greenlet or task, a bar per request, the CPU beneath.

Bars are coloured by endpoint (the heartbeat's ``/health`` in red, so that it stands
out); under each OS thread a grey strip shows the share of a core it ran (0 to 1) in
each sampling interval; on top, the heartbeat's requests as its client waited for them.
1400 px wide, at most 4:1.
"""

from __future__ import annotations

from pathlib import Path

from ..matrix.charts import figure, save
from .data import Timeline
from .lanes import client_lane, lanes

COLOURS = {"/io": "tab:blue", "/prime": "tab:orange", "/health": "tab:red",
           "/hash": "tab:purple", "/db": "tab:brown", "/offload": "tab:olive",
           "/spin": "tab:cyan", "heartbeat": "tab:red"}
OTHER = "tab:gray"
#: Lanes drawn per worker; the rest are counted in its label (the JSON has them all).
MAX_LANES = 24
#: Seconds of the window drawn (from its start); the JSON has the whole window.
MAX_SECONDS = 4.0
WIDTH_IN, DPI = 14, 100  # 1400 px
BAR, STRIP = 0.8, 0.7  # heights, in lane rows


def _rows(timeline: Timeline):
    """(label, kind, payload) top to bottom: kind "client", "lane", "cpu" or "worker"."""
    rows = []
    if client := client_lane(timeline):
        rows.append((client.name, "client", client.spans))
    for worker in lanes(timeline):
        shown = 0
        hidden = sum(len(t.lanes) for t in worker.threads) - MAX_LANES
        idle = not any(thread.lanes for thread in worker.threads)
        rows.append((worker.title + (f" ({hidden} more lanes in the JSON)" if hidden > 0
                                     else "") +
                     (": no request reached the app in the window" if idle else ""),
                     "worker", None))
        for thread in worker.threads:
            for lane in thread.lanes:
                if shown < MAX_LANES:
                    rows.append((lane.name, "lane", lane.spans))
                shown += 1
            series = [(t, shares.get(thread.tid, 0.0)) for t, shares in worker.cpu]
            rows.append((f"CPU of {thread.name}", "cpu", series))
    return rows


def draw(timeline: Timeline, out: Path) -> Path:
    """Write the timeline PNG to ``out``; return it."""
    low, high = timeline.window_ns
    high = min(high, low + int(MAX_SECONDS * 1e9))
    rows = _rows(timeline)
    height = min(12.0, max(WIDTH_IN / 4, 1.4 + 0.2 * len(rows)))
    fig, ax = figure(WIDTH_IN, height)
    ticks, labels = [], []
    seen: set[str] = set()
    for index, (label, kind, payload) in enumerate(rows):
        y = len(rows) - index
        if kind == "worker":
            ax.axhline(y - 0.5, color="black", linewidth=0.6)
            ax.text(0, y - 0.3, label, fontsize=8, fontweight="bold", va="bottom")
            continue
        ticks.append(y)
        labels.append(label)
        if kind == "cpu":
            xs = [(t - low) / 1e9 for t, _ in payload]
            ax.fill_between(xs, y - STRIP / 2, [y - STRIP / 2 + STRIP * min(1.0, v)
                                                for _, v in payload],
                            step="mid", color="0.55", linewidth=0)
            ax.axhline(y - STRIP / 2, color="0.8", linewidth=0.4)
            continue
        by_colour: dict[str, list] = {}
        for item in payload:
            start, end, name = (item if kind == "client" else
                                (item.start_ns, item.end_ns, item.endpoint))
            if end < low or start > high:
                continue
            by_colour.setdefault(name, []).append(((start - low) / 1e9, (end - start) / 1e9))
        for name, bars in by_colour.items():
            ax.broken_barh(bars, (y - BAR / 2, BAR), facecolors=COLOURS.get(name, OTHER),
                           edgecolors="black", linewidth=0.3,
                           label=None if name in seen else
                           ("heartbeat, as its client waited" if kind == "client" else name))
            seen.add(name)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_ylim(0.4, len(rows) + 0.6)
    ax.set_xlim(0, (high - low) / 1e9)
    ax.set_xlabel("seconds into the measured window")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=4, frameon=False)
    ax.set_title(_title(timeline, (high - low) / 1e9), fontsize=9, loc="left")
    return out.parent / save(fig, out.parent, out.name)


def _title(timeline: Timeline, shown_s: float) -> str:
    cell = timeline.cell
    text = cell.get("label", "timeline")
    if cell.get("rps") is not None:
        text += f": {cell['rps']:.1f} rps"
        if cell.get("bound_rps"):
            text += f" against a bound of {cell['bound_rps']:.1f}"
    if cell.get("users"):
        text += f", {cell['users']} users"
    window_s = (timeline.window_ns[1] - timeline.window_ns[0]) / 1e9
    if window_s > shown_s + 0.01:
        text += f" (the first {shown_s:g} s of {window_s:.1f})"
    return text + "\nbars: requests; grey: the share of a core each thread ran"
