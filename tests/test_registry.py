"""Lessons as units: the registry, the presets derived from it, and the golden reports."""

import copy
import json

import pytest

from loadtests.lessons import ASSUMPTIONS, LESSONS, SCENARIO, Lesson, Results
from loadtests.matrix import charts, presets
from loadtests.matrix.cells import Scenario, cell
from loadtests.matrix.report import render_markdown, write_report
from loadtests.servers import ROOT

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests

SAMPLES = ROOT / "docs" / "sample"
PEER_SCENARIOS = ("peerio", "peercpu", "peerbeat", "peerhealth", "peerslow")

#: make demo's budget: the quick preset's windows (warm-up + measured) add up to at most this
#: (the README promises at most 3 minutes with the open-traffic cells, which take about 30 s;
#: each cell also starts its server and Locust).
QUICK_WINDOWS_BUDGET_S = 110


def _own(lesson: Lesson, preset: str) -> tuple:
    return (*lesson.quick, *(lesson.full if preset == "full" else ()))


@pytest.mark.parametrize("preset", presets.NAMES)
def test_a_preset_is_its_lessons_cells_each_once_in_teaching_order(preset):
    """The presets are derived, not listed: every cell a lesson asks for, once (a cell two
    lessons need runs once), where the first lesson that asks for it puts it."""
    chosen = presets.cells(preset)
    assert len(set(chosen)) == len(chosen)
    assert set(chosen) == {c for lesson in LESSONS for c in _own(lesson, preset)}
    first = {}
    for index, lesson in enumerate(LESSONS):
        for c in _own(lesson, preset):
            first.setdefault(c, index)
    assert [first[c] for c in chosen] == sorted(first[c] for c in chosen)


def test_the_quick_preset_is_within_the_full_one_and_make_demos_budget():
    quick, full = presets.cells("quick"), presets.cells("full")
    assert set(quick) < set(full)
    windows = presets.windows("quick")
    spent = sum(sum(windows.get(c.scenario, windows["other"])) for c in quick)
    assert spent <= QUICK_WINDOWS_BUDGET_S, spent


def test_every_lesson_renders_from_a_committed_sample_and_shows_its_own_timelines():
    """Each lesson's section renders from at least one committed sample (a lesson may read
    other lessons' cells, as the hub lesson does, or its observation's rows), and a timeline
    it shows is of a cell it runs."""
    samples = [Results(json.loads(path.read_text()))
               for path in sorted(SAMPLES.glob("*/results.json"))]
    for lesson in LESSONS:
        assert any(lesson.section(sample) for sample in samples), lesson.name
        for c in lesson.timelines:
            assert c in (*lesson.quick, *lesson.full), (lesson.name, c.label)


def test_windows_come_from_the_lessons():
    assert presets.windows("quick") == {"io": (0.5, 2.0), "nap": (0.5, 5.5),
                                        "slowclients": (0.5, 2.5), "convoy": (0.5, 3.0),
                                        "convoylong": (0.5, 3.0),
                                        **dict.fromkeys(PEER_SCENARIOS, (0.5, 2.0)),
                                        "other": (0.5, 3.5)}
    assert presets.windows("full") == {"io": (2.0, 8.0), "slowclients": (2.0, 8.0),
                                       "convoy": (2.0, 8.0), "convoylong": (2.0, 8.0),
                                       **dict.fromkeys(PEER_SCENARIOS, (2.0, 8.0)),
                                       "other": (2.0, 10.0)}


def test_registry_is_consistent():
    names = [lesson.name for lesson in LESSONS]
    assert len(names) == len(set(names))
    assert set(ASSUMPTIONS) == set(SCENARIO)  # every scenario states its bound's assumptions
    for lesson in LESSONS:
        for c in (*lesson.quick, *lesson.full):
            assert c.scenario in SCENARIO, (lesson.name, c)


def test_a_new_lesson_is_one_module_and_one_registry_line(monkeypatch):
    """A lesson added to the registry brings its cells to the presets, after the others';
    a cell another lesson already runs is not run twice."""
    before = presets.cells("quick")
    shared = next(c for c in before if c.scenario == "cpu")
    new_cell = cell("cpu", "sync", 3, users=8)
    new = Lesson(name="extra", section=lambda results: "### Extra", quick=(shared, new_cell))
    monkeypatch.setattr(presets, "LESSONS", (*LESSONS, new))
    assert presets.cells("quick") == (*before, new_cell)


def test_a_lesson_with_an_unknown_scenario_is_refused(monkeypatch):
    stray = Lesson(name="stray", section=lambda r: "", quick=(cell("nope", "sync", users=1),))
    monkeypatch.setattr(presets, "LESSONS", (stray,))
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        presets.cells("quick")


def test_scenarios_name_known_bounds():
    kinds = {s.bound for s in SCENARIO.values()}
    assert kinds <= {"io", "db", "cpu", "nap", "offload", "gilfree", "closed", None}
    assert all(isinstance(s, Scenario) for s in SCENARIO.values())


def test_traced_cells_are_those_the_lessons_show_and_every_full_cell():
    quick = presets.cells("quick")
    traced = presets.traced("quick", quick)
    shown = {c.key() for lesson in LESSONS for c in lesson.timelines}
    assert traced == shown & {c.key() for c in quick} and len(traced) >= 10
    assert presets.traced("full", presets.cells("full")) == {
        c.key() for c in presets.cells("full")}


#: The samples whose reports are checked with their charts drawn (the rest: below).
GOLDEN = ("full", "quick", "slowwatch", "database", "convoy", "servers", "hosts")


@pytest.mark.parametrize("preset", GOLDEN)
def test_golden_report(preset, tmp_path):
    """The committed results render to the committed report, byte for byte (its charts
    drawn as PNG and checked for text past their edge; the SVG copies are not compared)."""
    results = json.loads((SAMPLES / preset / "results.json").read_text())
    with charts.png_only():
        write_report(results, tmp_path)
    assert list(tmp_path.rglob("*.png"))  # drawn, and checked for overflow
    assert not list(tmp_path.rglob("*.svg"))
    assert (tmp_path / "report.md").read_text() == (SAMPLES / preset / "report.md").read_text()


@pytest.mark.parametrize("sample", sorted(
    {path.parent.name for path in SAMPLES.glob("*/results.json")} - set(GOLDEN)))
def test_every_other_samples_report_is_what_its_results_render_to(sample, tmp_path):
    """The lessons' own samples (open traffic, its replays and pairs, the burst, wrk's
    connections): their committed report.md is what the code renders from their
    results.json today, byte for byte (charts named, not drawn: the site draws the pages'
    own; a fraction of a CPU-second each)."""
    results = json.loads((SAMPLES / sample / "results.json").read_text())
    with charts.names_only():
        write_report(results, tmp_path)
    assert (tmp_path / "report.md").read_text() == (SAMPLES / sample / "report.md").read_text()


def test_sections_find_cells_by_what_they_are_not_by_label():
    results = json.loads((SAMPLES / "full" / "results.json").read_text())
    relabelled = copy.deepcopy(results)
    for row in relabelled["cells"]:
        row["label"] = row["label"].replace("--threads", "-t")
    before, after = render_markdown(results, []), render_markdown(relabelled, [])
    for title in ("### The GIL", "### Multiple cores", "### Power napping",
                  "### Offload to processes", "### The switch interval"):
        assert title in before and title in after


def test_results_view_finds_twins():
    results = Results(json.loads((SAMPLES / "full" / "results.json").read_text()))
    nap = results.scenario("nap")[0]
    twin = results.twin(nap, "heartbeat")
    assert twin["scenario"] == "heartbeat"
    assert (twin["worker_class"], twin["workers"], twin["threads"]) == (
        nap["worker_class"], nap["workers"], nap["threads"])


def test_every_lesson_names_a_section_of_the_chapter_and_the_teaching_table_lists_it():
    from loadtests.site.teaching import section, teaching

    table = teaching("lessons")
    for lesson in LESSONS:
        *_, detail = section(lesson)  # raises on a section the chapter lacks
        assert detail, lesson.name
        assert table.count(f"](lessons/{lesson.name}.md)") == 1
    with pytest.raises(ValueError, match="names no section of chapter 19"):
        section(Lesson(name="x", section=lambda results: "", book="Chapter 20 — futures"))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_one_lesson_alone_runs_its_cells_and_its_observation(lesson, capsys):
    """``make lesson L=<name>`` (``--lesson``): the lesson's cells in the preset, its
    observation on and every other one off; one line where it has nothing to run."""
    from loadtests.matrix.command import choose_cells, parse_args
    from loadtests.site.teaching import live

    preset = "full" if "ARGS=--full" in live(lesson) else "quick"
    args = parse_args(["--lesson", lesson.name, f"--{preset}"])
    observing = {other.name for other in LESSONS
                 if other.observation and getattr(args, other.observation.dest)}
    assert observing == ({lesson.name} if lesson.observation else set())
    cells = choose_cells(args)
    if live(lesson).startswith("by hand"):
        assert cells == 2 and "run by hand" in capsys.readouterr().err
    elif isinstance(cells, list):  # all of them, or those whose programs are here
        assert cells == list(lesson.cells(preset)) or (
            set(cells) < set(lesson.cells(preset)) and lesson.needs())
    else:  # CI=true and a program a cell needs is missing: the one line that says so
        assert cells == 2 and lesson.needs(), capsys.readouterr().err
    if preset == "full" and not lesson.cells("quick") and not lesson.observation:
        assert choose_cells(parse_args(["--lesson", lesson.name])) == 2
        assert f"--lesson {lesson.name} --full" in capsys.readouterr().err
