"""PNG charts of a matrix run, drawn with matplotlib (no display needed).

The charts every run has -- throughput, latency, CPU -- live here, with the
helpers (:func:`figure`, :func:`bars`, :func:`save`) that lessons use for
their own.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def figure(width: float, height: float = 4):
    """A figure with one axes, ``width`` × ``height`` inches."""
    return plt.subplots(figsize=(width, height))


def bars(ax, labels, series: dict[str, list[float]], *, log=False):
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        ax.bar(xs, [v or 0 for v in values], width, label=name)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def save(fig, out: Path, name: str) -> str:
    """Write ``fig`` as ``out/name``, close it, and return ``name``."""
    fig.tight_layout()
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return name


def _by_scenario(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["scenario"], []).append(row)
    return groups


#: Panels per row in the per-scenario figures (issue: one row of 8 panels was 4400 px wide).
COLUMNS = 3


def _grid(count: int):
    """A figure with ``count`` panels laid out ``COLUMNS`` to a row; unused panels hidden."""
    rows = -(-count // COLUMNS)
    cols = min(count, COLUMNS)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def overview(rows: list[dict], out: Path) -> list[str]:
    """Throughput beside the bound, and latency percentiles: a panel per scenario, in a grid."""
    groups = _by_scenario(rows)
    if not groups:
        return []
    charts = []
    fig, axes = _grid(len(groups))
    for ax, (scenario, cells) in zip(axes, groups.items(), strict=True):
        labels = [r["label"] for r in cells]
        bars(ax, labels, {"measured rps": [r["rps"] for r in cells],
                          "bound rps": [r["bound_rps"] for r in cells]})
        ax.set_title(f"{scenario}: throughput vs model bound", fontsize=10)
        ax.set_ylabel("requests / s")
    charts.append(save(fig, out, "throughput.png"))

    fig, axes = _grid(len(groups))
    for ax, (scenario, cells) in zip(axes, groups.items(), strict=True):
        labels = [r["label"] for r in cells]
        bars(ax, labels, {p: [r[f"{p}_ms"] for r in cells] for p in ("p50", "p95", "p99")},
             log=True)
        ax.set_title(f"{scenario}: latency percentiles", fontsize=10)
        ax.set_ylabel("ms (log)")
    charts.append(save(fig, out, "latency.png"))
    return charts


def fidelity(rows: list[dict], out: Path, band: tuple[float, float]) -> list[str]:
    """Every cell's fidelity as a dot with its min–max bar, against the shaded band:
    the one picture that says whether the model holds."""
    cells = [r for r in rows if r.get("fidelity") is not None]
    if not cells:
        return []
    fig, ax = figure(max(7, 0.38 * len(cells)), 4.2)
    xs = range(len(cells))
    mid = [r["fidelity"] for r in cells]
    low = [r["fidelity"] - r.get("fidelity_min", r["fidelity"]) for r in cells]
    high = [r.get("fidelity_max", r["fidelity"]) - r["fidelity"] for r in cells]
    ax.axhspan(*band, color="tab:green", alpha=0.15, label=f"expected {band[0]}–{band[1]}")
    ax.axhline(1.0, color="tab:green", linewidth=0.8)
    inside = [band[0] <= f <= band[1] for f in mid]
    ax.errorbar(xs, mid, yerr=[low, high], fmt="none", ecolor="0.4", capsize=3)
    ax.scatter([x for x, ok in zip(xs, inside, strict=True) if ok],
               [f for f, ok in zip(mid, inside, strict=True) if ok], color="tab:blue", zorder=3,
               label="median, inside")
    ax.scatter([x for x, ok in zip(xs, inside, strict=True) if not ok],
               [f for f, ok in zip(mid, inside, strict=True) if not ok], color="tab:red",
               zorder=3, label="median, outside")
    ax.set_xticks(list(xs), [f"{r['scenario']}: {r['label']}" for r in cells], rotation=70,
                  ha="right", fontsize=7)
    repeats = max(r.get("repeats", 1) for r in cells)
    ax.set_title(f"fidelity = measured ÷ bound, per cell (bars: min–max of {repeats} runs)"
                 if repeats > 1 else "fidelity = measured ÷ bound, per cell")
    ax.set_ylabel("fidelity")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    return [save(fig, out, "fidelity.png")]


def cpu(rows: list[dict], out: Path) -> list[str]:
    """CPU of the server and of Locust per cell."""
    if not rows:
        return []
    fig, ax = figure(max(7, 0.6 * len(rows)))
    bars(ax, [f"{r['scenario']}: {r['label']}" for r in rows],
         {"server": [r["server_cpu_pct"] for r in rows],
          "locust": [r["locust_cpu_pct"] for r in rows]})
    ax.set_title("CPU per process group (% of one core)")
    ax.set_ylabel("% of one core")
    return [save(fig, out, "cpu.png")]


def cells(rows: list[dict], out: Path, name: str, title: str) -> list[str]:
    """Some cells' measured rps beside their bound (where they have one): a lesson's own
    cells, for a lesson with no chart of its own."""
    if not rows:
        return []
    fig, ax = figure(max(6, 1.1 * len(rows)), 3.6)
    bars(ax, [f"{r['scenario']}: {r['label']}" for r in rows],
         {"measured rps": [r["rps"] for r in rows],
          "bound rps": [r["bound_rps"] for r in rows]})
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("requests / s")
    return [save(fig, out, name)]
