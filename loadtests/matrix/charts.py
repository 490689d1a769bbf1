"""Charts of a matrix run, drawn with matplotlib (no display needed), as PNG and SVG.

The charts every run has -- throughput, latency, CPU, fidelity -- live here, with the
helpers (:func:`figure`, :func:`bars`, :func:`save`) that lessons use for their own. Every
chart is laid out by matplotlib's constrained layout, keeps its legend off the data, labels
its bars' values, and goes to a log axis where its values span more than
:data:`LOG_SPAN`. :func:`save` warns (:class:`ChartOverflow`) when any text reaches past the
figure's edge, which would be cut off in the image; the tests turn that warning into a
failure. Within :func:`names_only`, charts are built but neither drawn nor written: what a
report's text needs of them is their names.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

#: Positive values spanning more than this ratio go on a log axis: on a linear one the
#: small bars vanish (20 rps beside 950).
LOG_SPAN = 20
#: Characters per line of a cell's label beside a horizontal bar (longer ones wrap).
LABEL_WIDTH = 30
#: Bars per panel up to which each bar of a linear axis carries its value (a log axis shows
#: the small ones without).
LABELLED_BARS = 24


#: False within :func:`names_only`.
_DRAWING = contextvars.ContextVar("drawing", default=True)
#: False within :func:`png_only`.
_SVG = contextvars.ContextVar("svg", default=True)


@contextlib.contextmanager
def _setting(var: contextvars.ContextVar, value) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def names_only() -> contextlib.AbstractContextManager[None]:
    """Charts built but not drawn or written (drawing is most of a chart's cost: 10 s of a
    full report's): for the report's or a page's text, which names its charts."""
    return _setting(_DRAWING, False)


def png_only() -> contextlib.AbstractContextManager[None]:
    """Charts drawn as PNG, and checked for text past their edge, but not drawn again as
    SVG (about half a report's drawing): for a check of the report's text and charts."""
    return _setting(_SVG, False)


@functools.cache
def _pyplot():
    """matplotlib's pyplot on its Agg backend (no display), imported when the first chart
    is: a command or test that draws none does not pay for it (about 0.3 CPU-seconds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def subplots(*args, **kwargs):
    """``matplotlib.pyplot.subplots``: a figure and its axes."""
    return _pyplot().subplots(*args, **kwargs)


class ChartOverflow(UserWarning):
    """A chart's text reaches past its figure: it would be cut off in the image."""


def figure(width: float, height: float = 4):
    """A figure with one axes, ``width`` × ``height`` inches, laid out by constrained layout."""
    return subplots(figsize=(width, height), layout="constrained")


def _value(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 else f"{v:.1f}" if abs(v) >= 1 else f"{v:.2f}"


def bars(ax, labels, series: dict[str, list[float | None]], *, log: bool | None = None,
         missing: str = "—", colors: dict[str, str] | None = None):
    """Grouped bars, one group per label, one bar per series; ``None`` is drawn as the
    ``missing`` text, not as a zero bar; ``log=None`` chooses by :data:`LOG_SPAN`."""
    width = 0.8 / max(1, len(series))
    positive = [v for values in series.values() for v in values if v and v > 0]
    if log is None:
        log = bool(positive) and max(positive) > LOG_SPAN * min(positive)
    labelled = not log and len(labels) * len(series) <= LABELLED_BARS
    for i, (name, values) in enumerate(series.items()):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        drawn = ax.bar(xs, [v or 0 for v in values], width, label=name,
                       color=(colors or {}).get(name))
        if labelled:
            ax.bar_label(drawn, [_value(v) if v else "" for v in values], fontsize=6,
                         padding=1)
        for x, v in zip(xs, values, strict=True):
            if v is None:
                ax.annotate(missing, (x, 0), xytext=(0, 2), textcoords="offset points",
                            xycoords=("data", "axes fraction"), rotation=90, ha="center",
                            va="bottom", fontsize=7, color="0.2")
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    if log:
        plain_log(ax)
    outside_legend(ax)
    ax.grid(axis="y", alpha=0.3)


def plain_log(ax, which: str = "y") -> None:
    """A log scale on ``ax``'s ``which`` axis, ticked in plain numbers (20, 100, 1000), not
    powers of ten."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def outside_legend(ax, **kwargs) -> None:
    """The legend to the right of the axes, off the data (constrained layout makes room)."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              frameon=False, **kwargs)


def overflow(fig, *, drawn: bool = False) -> list[str]:
    """What of ``fig`` is drawn past its edge (more than a pixel): each axes by its title
    (its tick labels, axis labels and texts, as matplotlib draws them: ticks outside the
    view are not) and each figure-level text or legend. ``drawn``: the figure has just
    been drawn (saved) at its own dpi, so its layout stands."""
    if not drawn:
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    edge = fig.bbox

    def past(box) -> bool:
        return (box.x0 < edge.x0 - 1 or box.y0 < edge.y0 - 1 or box.x1 > edge.x1 + 1
                or box.y1 > edge.y1 + 1)

    cut = [f"axes {ax.get_title() or ax.get_ylabel()!r}" for ax in fig.axes
           if ax.get_visible() and past(ax.get_tightbbox(renderer))]
    cut += [text.get_text() for text in fig.texts if text.get_visible() and text.get_text()
            and past(text.get_window_extent(renderer))]
    cut += ["a legend" for legend in fig.legends if past(legend.get_window_extent(renderer))]
    return cut


def save(fig, out: Path, name: str) -> str:
    """Write ``fig`` as ``out/name`` (PNG) and beside it as SVG (for slides; not within
    :func:`png_only`), close it, and
    return ``name``; warn with :class:`ChartOverflow` if any text is cut off. Within
    :func:`names_only`, only close it and return ``name``."""
    if not _DRAWING.get():
        _pyplot().close(fig)
        return name
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(out / name, dpi=fig.dpi)  # 100, matplotlib's default
    if cut := overflow(fig, drawn=True):
        warnings.warn(ChartOverflow(f"{name}: text past the figure's edge: {cut[:4]}"),
                      stacklevel=2)
    # SVG text stays text: a slide can edit it, and the file is far smaller than glyph paths;
    # no date and fixed ids, so that the same chart redrawn is the same file
    if _SVG.get():
        with _pyplot().rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
            fig.savefig((out / name).with_suffix(".svg"), metadata={"Date": None})
    _pyplot().close(fig)
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
    fig, axes = subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False,
                         layout="constrained")
    flat = [ax for row in axes for ax in row]
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def panels(rows: list[dict], draw) -> object:
    """A figure with a panel per scenario of ``rows`` (a grid), each drawn by
    ``draw(ax, scenario, its rows)``: how a chart of many cells stays readable."""
    groups = _by_scenario(rows)
    fig, axes = _grid(len(groups))
    for ax, (scenario, cells) in zip(axes, groups.items(), strict=True):
        draw(ax, scenario, cells)
    return fig


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
                          "bound rps": [r["bound_rps"] for r in cells]}, missing="no bound")
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
    fig, ax = figure(max(8, 0.38 * len(cells) + 2), 4.6)
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
    outside_legend(ax)
    ax.grid(axis="y", alpha=0.3)
    return [save(fig, out, "fidelity.png")]


def cpu(rows: list[dict], out: Path) -> list[str]:
    """CPU of the server and of Locust per cell: a panel per scenario, in a grid."""
    groups = _by_scenario(rows)
    if not groups:
        return []
    fig, axes = _grid(len(groups))
    for ax, (scenario, cells) in zip(axes, groups.items(), strict=True):
        bars(ax, [r["label"] for r in cells],
             {"server": [r["server_cpu_pct"] for r in cells],
              "locust": [r["locust_cpu_pct"] for r in cells]}, log=False)
        ax.set_title(f"{scenario}: CPU (% of one core)", fontsize=10)
        ax.set_ylabel("% of one core")
    return [save(fig, out, "cpu.png")]


def cells(rows: list[dict], out: Path, name: str, title: str) -> list[str]:
    """Some cells' measured rps beside their bound (where they have one), a row per cell:
    a lesson's own cells, for a lesson with no chart of its own."""
    if not rows:
        return []
    labels = [textwrap.fill(f"{r['scenario']}: {r['label']}", LABEL_WIDTH) for r in rows]
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, ax = figure(8, 1.2 + 0.25 * max(lines, 2 * len(rows)))
    series = {"measured rps": [r["rps"] for r in rows],
              "bound rps": [r["bound_rps"] for r in rows]}
    height = 0.4
    positive = [v for values in series.values() for v in values if v and v > 0]
    for i, (label, values) in enumerate(series.items()):
        ys = [y + (i - 0.5) * height for y in range(len(rows))]
        drawn = ax.barh(ys, [v or 0 for v in values], height, label=label)
        ax.bar_label(drawn, [_value(v) if v else "no bound" for v in values], fontsize=7,
                     padding=2)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()  # the first cell on top
    if positive and max(positive) > LOG_SPAN * min(positive):
        plain_log(ax, "x")
        ax.set_xlabel("requests / s (log)")
    else:
        ax.set_xlabel("requests / s")
    ax.margins(x=0.15)
    ax.set_title(title, fontsize=10)
    outside_legend(ax)
    ax.grid(axis="x", alpha=0.3)
    return [save(fig, out, name)]
