"""PNG charts of a matrix run, drawn with matplotlib (no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _ok(rows: list[dict]) -> list[dict]:
    return [r for r in rows if "error" not in r]


def _by_scenario(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in _ok(rows):
        groups.setdefault(row["scenario"], []).append(row)
    return groups


def _bars(ax, labels, series: dict[str, list[float]], *, log=False):
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        ax.bar(xs, [v or 0 for v in values], width, label=name)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def _save(fig, out: Path, name: str, charts: list[str]) -> None:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    charts.append(name)


def write_charts(rows: list[dict], out: Path, spinner: list[dict] = ()) -> list[str]:
    """Write the charts that the rows support; return their file names."""
    charts: list[str] = []
    groups = _by_scenario(rows)
    if not groups:
        return charts

    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    for ax, (scenario, cells) in zip(axes[0], groups.items(), strict=True):
        labels = [r["label"] for r in cells]
        _bars(ax, labels, {"measured rps": [r["rps"] for r in cells],
                           "bound rps": [r["bound_rps"] for r in cells]})
        ax.set_title(f"{scenario}: throughput vs model bound")
        ax.set_ylabel("requests / s")
    _save(fig, out, "throughput.png", charts)

    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    for ax, (scenario, cells) in zip(axes[0], groups.items(), strict=True):
        labels = [r["label"] for r in cells]
        _bars(ax, labels, {p: [r[f"{p}_ms"] for r in cells] for p in ("p50", "p95", "p99")},
              log=True)
        ax.set_title(f"{scenario}: latency percentiles")
        ax.set_ylabel("ms (log)")
    _save(fig, out, "latency.png", charts)

    beats = [r for r in _ok(rows) if r.get("heartbeat_p50_ms") is not None]
    if beats:
        fig, ax = plt.subplots(figsize=(max(7, 0.8 * len(beats)), 4))
        _bars(ax, [f"{r['scenario']}: {r['label']}" for r in beats],
              {"p50": [r["heartbeat_p50_ms"] for r in beats],
               "p99": [r["heartbeat_p99_ms"] for r in beats],
               "max": [r["heartbeat_max_ms"] for r in beats]}, log=True)
        ax.set_title("/health latency while 2 users keep /prime busy")
        ax.set_ylabel("ms (log)")
        _save(fig, out, "heartbeat.png", charts)

    switch = sorted(
        [r for r in _ok(rows) if r["scenario"] in ("switch", "heartbeat")
         and r["label"].startswith("gthread -w1 --threads 4")],
        key=lambda r: r["switch_interval"] or 0.005)
    if any(r["scenario"] == "switch" for r in switch):
        fig, ax = plt.subplots(figsize=(6, 4))
        xs = [r["switch_interval"] or 0.005 for r in switch]
        for key in ("p50", "p99", "max"):
            ax.plot(xs, [r[f"heartbeat_{key}_ms"] for r in switch], marker="o", label=key)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sys.setswitchinterval (s)")
        ax.set_ylabel("/health latency, ms (log)")
        ax.set_title("gthread -w1 --threads 4: heartbeat vs switch interval")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        _save(fig, out, "switch_interval.png", charts)

    hub = [r for r in _ok(rows) if r.get("hub_blocked_pct") is not None]
    if hub:
        fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(hub)), 4))
        _bars(ax, [f"{r['scenario']}: {r['label']}" for r in hub],
              {"hub blocked, % of window": [r["hub_blocked_pct"] for r in hub]})
        ax.set_title("gevent's monitor: how long the event loop was frozen")
        ax.set_ylabel("% of the measured window")
        _save(fig, out, "hub_blocked.png", charts)

    if spinner:
        fig, ax = plt.subplots(figsize=(7, 4))
        _bars(ax, [f"{r['label']} {r['query']}".replace(" —", "") for r in spinner],
              {"frames per second": [r["frames_per_s"] for r in spinner]})
        ax.set_title("/spin: spinner frames while is_prime runs (10/s = never blocked)")
        ax.set_ylabel("frames / s")
        _save(fig, out, "spinner.png", charts)

    cells = _ok(rows)
    fig, ax = plt.subplots(figsize=(max(7, 0.6 * len(cells)), 4))
    _bars(ax, [f"{r['scenario']}: {r['label']}" for r in cells],
          {"server": [r["server_cpu_pct"] for r in cells],
           "locust": [r["locust_cpu_pct"] for r in cells]})
    ax.set_title("CPU per process group (% of one core)")
    ax.set_ylabel("% of one core")
    _save(fig, out, "cpu.png", charts)
    return charts
