"""Charts for people: text inside the figure, no bar that vanishes, a timeout drawn as no
answer, and every chart also as SVG. (Every committed sample's charts are drawn by the
golden-report tests, where a cut-off text fails: pyproject.toml's filterwarnings.)"""

from __future__ import annotations

import pytest

from loadtests.matrix.charts import ChartOverflow, bars, cells, figure, names_only, save

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests


def test_a_text_past_the_figure_warns_and_both_files_are_written(tmp_path):
    fig, ax = figure(2, 1.5)
    ax.set_title("a title far too long for a figure two inches wide: the image would cut it")
    fig.set_layout_engine("none")  # nothing may move the title back in
    with pytest.warns(ChartOverflow, match="too-narrow.png"):
        save(fig, tmp_path, "too-narrow.png")
    assert (tmp_path / "too-narrow.png").stat().st_size > 0
    svg = (tmp_path / "too-narrow.svg").read_text()
    assert "a title far too long" in svg  # its text kept as text, for slides


def test_names_only_writes_nothing_and_names_the_chart_as_drawing_would(tmp_path):
    """What the site's pages need of a lesson's chart: its name, not its drawing."""
    import matplotlib.pyplot as plt  # here, not at collection: charts import it when they draw

    fig, ax = figure(2, 1.5)
    ax.set_title("a title far too long for a figure two inches wide: the image would cut it")
    with names_only():
        assert save(fig, tmp_path, "named.png") == "named.png"  # and no ChartOverflow
    assert list(tmp_path.iterdir()) == [] and not plt.fignum_exists(fig.number)
    fig, _ = figure(2, 1.5)
    assert save(fig, tmp_path, "drawn.png") == "drawn.png"  # drawing again after it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drawn.png", "drawn.svg"]


def test_the_lab_layout_keeps_the_same_title_inside(tmp_path):
    fig, ax = figure(5, 2)
    bars(ax, ["sync -w2", "gevent -w1"], {"measured rps": [20, 950], "bound rps": [20, 1000]})
    ax.set_title("io: throughput against the bound, with a long title", fontsize=10)
    save(fig, tmp_path, "fits.png")  # a ChartOverflow here fails the test


def test_bars_that_span_decades_go_on_a_log_axis_and_none_is_said_not_drawn(tmp_path):
    fig, ax = figure(6, 3)
    bars(ax, ["sync -w2", "gevent -w1", "asgi -w1"],
         {"measured": [20, 950, None], "bound": [20, 1000, None]}, missing="no answer")
    assert ax.get_yscale() == "log"  # 20 beside 950 would vanish on a linear one
    said = [t.get_text() for t in ax.texts]
    assert said.count("no answer") == 2  # one per missing bar, none drawn as zero
    save(fig, tmp_path, "log.png")


def test_a_cell_without_a_bound_says_so(tmp_path):
    rows = [{"scenario": "db", "label": "gthread -w2 --threads 10 psycopg pool 5 max 13",
             "rps": 97.0, "bound_rps": 100.0},
            {"scenario": "dbbudget", "label": "gthread -w2 --threads 10 psycopg2 pool 10 max 13",
             "rps": 354.0, "bound_rps": None}]
    assert cells(rows, tmp_path, "budget.png", "measured beside the bound") == ["budget.png"]
    svg = (tmp_path / "budget.svg").read_text()
    assert "no bound" in svg and svg.count("354") == 1
