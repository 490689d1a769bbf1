"""Lessons as units: the registry, the presets derived from it, and the golden reports."""

import copy
import json

import pytest

from loadtests.lessons import ASSUMPTIONS, LESSONS, SCENARIO, Lesson, Results
from loadtests.matrix import presets
from loadtests.matrix.cells import Scenario, cell
from loadtests.matrix.report import render_markdown, write_report
from loadtests.servers import ROOT

SAMPLES = ROOT / "docs" / "sample"
PEER_SCENARIOS = ("peerio", "peercpu", "peerbeat", "peerhealth", "peerslow")

# The presets as they stood before lessons became modules: (scenario, worker class,
# workers, threads, switch interval, users). Since then make demo's 2.5-minute budget moved
# four -w2 cells to the full preset (MOVED_TO_FULL) when the asgi cells came in.
QUICK = {
    ("io", "sync", 2, 1, None, 100), ("io", "gthread", 2, 8, None, 100),
    ("io", "gevent", 1, 1, None, 100), ("io", "gevent", 2, 1, None, 100),
    ("cpu", "sync", 1, 1, None, 8), ("cpu", "sync", 2, 1, None, 8),
    ("cpu", "gthread", 1, 1, None, 8), ("cpu", "gthread", 1, 4, None, 8),
    ("cpu", "gevent", 1, 1, None, 8), ("cpu", "gevent", 2, 1, None, 8),
    ("heartbeat", "sync", 1, 1, None, 3), ("heartbeat", "sync", 2, 1, None, 3),
    ("heartbeat", "gthread", 1, 4, None, 3), ("heartbeat", "gevent", 1, 1, None, 3),
    ("heartbeat", "gevent", 2, 1, None, 3),
    ("nap", "gevent", 1, 1, None, 3), ("offload", "gevent", 1, 1, None, 3),
    ("gilfree", "gthread", 1, 4, None, 4), ("switch", "gthread", 1, 4, 0.0005, 3),
}
FULL = QUICK | {
    ("io", "sync", 1, 1, None, 100), ("io", "gthread", 1, 4, None, 100),
    ("cpu", "sync", 4, 1, None, 8), ("cpu", "gthread", 2, 4, None, 8),
    ("nap", "gthread", 1, 4, None, 3), ("offload", "gthread", 1, 4, None, 3),
    ("gilfree", "gthread", 1, 1, None, 4), ("gilfree", "sync", 2, 1, None, 4),
    ("switch", "gthread", 1, 4, 0.005, 3), ("switch", "gthread", 1, 4, 0.05, 3),
    ("mixed", "sync", 2, 1, None, 20), ("mixed", "gthread", 2, 8, None, 20),
    ("mixed", "gevent", 1, 1, None, 20), ("mixed", "gevent", 2, 1, None, 20),
}


MOVED_TO_FULL = {("cpu", "gevent", 2, 1, None, 8), ("heartbeat", "gevent", 2, 1, None, 3),
                 ("heartbeat", "sync", 2, 1, None, 3), ("io", "gevent", 2, 1, None, 100)}
# Added since, by the lessons that came after the split: asyncio (coroutines) and overhead.
ASGI_QUICK = {
    ("io", "asgi", 1, 1, None, 100), ("heartbeat", "asgi", 1, 1, None, 3),
    ("nap", "asgi", 1, 1, None, 3), ("offload", "asgi", 1, 1, None, 3),
}
ASGI_FULL = ASGI_QUICK | {
    ("io", "asgi", 2, 1, None, 100), ("cpu", "asgi", 1, 1, None, 8),
    ("cpu", "asgi", 2, 1, None, 8),
    ("thread", "asgi", 1, 1, None, 3), ("gilfree", "asgi", 1, 1, None, 4),
    ("health", "sync", 1, 1, None, 20), ("health", "gthread", 1, 4, None, 20),
    ("health", "gevent", 1, 1, None, 20), ("health", "asgi", 1, 1, None, 20),
}
# The balance lesson: gevent -w2 with gunicorn's reuse_port.
BALANCE_FULL = {("cpu", "gevent", 2, 1, None, 8, "reuse_port"),
                ("heartbeat", "gevent", 2, 1, None, 3, "reuse_port")}

# Offload backends (issue 9): Celery beside the pool in make demo (for its time, asgi's nap
# and offload cells moved to the full preset); dirty workers, Celery's
# pools and scale-out in the full preset.
ASGI_MOVED_TO_FULL = {("nap", "asgi", 1, 1, None, 3), ("offload", "asgi", 1, 1, None, 3)}
BACKENDS_QUICK = {("offload", "gevent", 1, 1, None, 3, "celery", ("prefork", 2, 1))}
BACKENDS_FULL = BACKENDS_QUICK | {
    ("offload", "gevent", 1, 1, None, 3, "dirty"),
    ("offload", "gevent", 1, 1, None, 5, "celery", ("prefork", 2, 1)),
    ("offload", "gevent", 1, 1, None, 5, "celery", ("threads", 2, 1)),
    ("offload", "gevent", 1, 1, None, 5, "celery", ("gevent", 2, 1)),
    ("offload", "gevent", 1, 1, None, 5, "celery", ("solo", 1, 1)),
    ("offload", "gevent", 1, 1, None, 5, "celery", ("prefork", 1, 1)),
    ("offload", "gevent", 1, 1, None, 5, "celery", ("prefork", 1, 2)),
}


# Slow clients and nginx (issue 12): make demo's direct-vs-proxy pair (for its time, cpu gevent
# -w1 moved to the full preset); every model direct and behind nginx, gthread below its
# threads, and /health and /io with and without nginx in the full preset.
SLOW_QUICK = {("slowclients", "sync", 1, 1, None, 1, "slow5"),
              ("slowclients", "sync", 1, 1, None, 1, "slow5", "nginx")}
GIL_MOVED_TO_FULL = {("cpu", "gevent", 1, 1, None, 8)}
SLOW_FULL = SLOW_QUICK | {
    ("slowclients", m, 1, t, None, 1, "slow5", *proxy)
    for m, t in (("gthread", 4), ("gevent", 1), ("asgi", 1)) for proxy in ((), ("nginx",))
} | {("slowclients", "gthread", 1, 4, None, 1, "slow2"),
     ("health", "gevent", 1, 1, None, 20, "nginx"), ("io", "gevent", 1, 1, None, 100, "nginx")}


# PostgreSQL (issue 20): make demo's gevent pair, psycopg2 beside psycopg 3; in the full preset
# psycogreen, gthread, asyncio (awaited and blocking), the pool as a slot, and the budget.
def _db(driver, pool=10, max_connections=100, sync=False):
    return ("db", (driver, pool, max_connections, sync))


DB_QUICK = {("dbbeat", "gevent", 1, 1, None, 21, *_db("psycopg2")),
            ("dbbeat", "gevent", 1, 1, None, 21, *_db("psycopg"))}
DB_FULL = DB_QUICK | {
    ("dbbeat", "gevent", 1, 1, None, 21, *_db("psycopg2-green")),
    ("dbbeat", "gthread", 1, 20, None, 21, *_db("psycopg2")),
    ("dbbeat", "asgi", 1, 1, None, 21, *_db("psycopg")),
    ("dbbeat", "asgi", 1, 1, None, 21, *_db("psycopg", sync=True)),
    ("db", "gthread", 1, 16, None, 20, *_db("psycopg", 4)),
    ("db", "gthread", 1, 16, None, 20, *_db("psycopg", 16)),
    ("db", "gevent", 1, 1, None, 20, *_db("psycopg")),
    ("db", "asgi", 1, 1, None, 20, *_db("psycopg")),
    ("dbbudget", "gthread", 2, 10, None, 20, "reuse_port", *_db("psycopg2", 10, 13)),
    ("dbbudget", "gthread", 2, 10, None, 20, "reuse_port", *_db("psycopg", 10, 13)),
    ("db", "gthread", 2, 10, None, 20, "reuse_port", *_db("psycopg", 5, 13)),
}


# Request timelines and the convoy (issue 21): gthread -w2 --threads 8 on /mixed at the default
# switch interval and at 0.5 ms in make demo; threads, workers, 50 ms, pinning, reuse_port and
# gevent in the full preset.
CONVOY_QUICK = {("convoy", "gthread", 2, 8, None, 50), ("convoy", "gthread", 2, 8, 0.0005, 50)}
CONVOY_FULL = CONVOY_QUICK | {
    ("convoy", "gthread", 1, 4, None, 50), ("convoy", "gthread", 1, 8, None, 50),
    ("convoy", "gthread", 1, 16, None, 50), ("convoy", "gthread", 2, 4, None, 50),
    ("convoy", "gthread", 2, 16, None, 50, "reuse_port"), ("convoy", "gthread", 2, 8, 0.05, 50),
    ("convoy", "gthread", 2, 8, None, 50, "pinned"),
    ("convoy", "gthread", 2, 8, None, 50, "reuse_port"),
    ("convoy", "gevent", 2, 1, None, 50, "reuse_port"),
    ("convoylong", "gthread", 2, 8, None, 50), ("convoylong", "gthread", 2, 8, 0.0005, 50),
}


# The servers people pick instead (issue 22): make demo's uvicorn beside gunicorn's asgi on /io;
# in the full preset every server on waiting, computing, the frozen loop, the cost of a request
# and slowloris.
def _peer(scenario, server, model, workers, threads, users, *more):
    return (scenario, model, workers, threads, None, users, *more,
            *((server,) if server != "gunicorn" else ()))


SERVERS_QUICK = {_peer("peerio", "gunicorn", "asgi", 1, 1, 50),
                 _peer("peerio", "uvicorn", "asgi", 1, 1, 50)}
SERVERS_FULL = SERVERS_QUICK | {
    _peer("peerio", "gunicorn", "gevent", 1, 1, 50),
    _peer("peerio", "uvicorn-worker", "asgi", 1, 1, 50),
    _peer("peerio", "granian", "asgi", 1, 1, 50),
    _peer("peerio", "granian", "wsgi", 1, 8, 50), _peer("peerio", "waitress", "wsgi", 1, 4, 50),
    _peer("peerio", "uvicorn", "asgi", 2, 1, 50),
    _peer("peercpu", "uvicorn-worker", "asgi", 2, 1, 4),
    _peer("peercpu", "uvicorn-worker", "asgi", 2, 1, 4, "reuse_port"),
    _peer("peercpu", "gunicorn", "gthread", 1, 4, 4), _peer("peercpu", "uvicorn", "asgi", 1, 1, 4),
    _peer("peercpu", "granian", "wsgi", 1, 4, 4), _peer("peercpu", "waitress", "wsgi", 1, 4, 4),
    _peer("peercpu", "uvicorn", "asgi", 2, 1, 4), _peer("peercpu", "granian", "wsgi", 2, 4, 4),
    *(_peer("peerbeat", s, m, 1, t, 3) for s, m, t in (
        ("gunicorn", "asgi", 1), ("uvicorn", "asgi", 1), ("granian", "asgi", 1),
        ("granian", "wsgi", 4), ("waitress", "wsgi", 4))),
    *(_peer("peerhealth", s, m, 1, t, 20) for s, m, t in (
        ("gunicorn", "sync", 1), ("gunicorn", "gthread", 4), ("gunicorn", "gevent", 1),
        ("gunicorn", "asgi", 1), ("uvicorn", "asgi", 1), ("uvicorn-worker", "asgi", 1),
        ("granian", "asgi", 1), ("granian", "wsgi", 4), ("waitress", "wsgi", 4))),
    _peer("peerhealth", "uvicorn", "asgi", 1, 1, 20, "--no-access-log"),
    *(_peer("peerslow", s, m, 1, t, 1, "slow5") for s, m, t in (
        ("gunicorn", "gthread", 4), ("uvicorn", "asgi", 1), ("granian", "asgi", 1),
        ("granian", "wsgi", 4), ("waitress", "wsgi", 4))),
}


def _keys(cells):
    def offload(c):
        if c.celery:
            return ("celery", c.celery.key())
        return () if c.spec.offload == "pool" else (c.spec.offload,)

    def front(c):
        return ((f"slow{c.slow}",) if c.slow else ()) + ((c.proxy,) if c.proxy else ())
    return [(*c.key()[:5], c.users, *(("reuse_port",) if c.reuse_port else ()), *offload(c),
             *front(c), *(("db", c.db.key()) if c.db else ()),
             *(("pinned",) if c.pin_cores else ()), *c.spec.options,
             *((c.spec.server,) if c.spec.server != "gunicorn" else ())) for c in cells]


@pytest.mark.parametrize(("preset", "expected"), [
    ("quick", QUICK - MOVED_TO_FULL - GIL_MOVED_TO_FULL | ASGI_QUICK - ASGI_MOVED_TO_FULL
     | BACKENDS_QUICK | SLOW_QUICK | DB_QUICK | CONVOY_QUICK | SERVERS_QUICK),
    ("full", FULL | ASGI_FULL | BALANCE_FULL | BACKENDS_FULL | SLOW_FULL | DB_FULL
     | CONVOY_FULL | SERVERS_FULL)])
def test_presets_hold_the_same_cells_as_before_and_the_new_lessons(preset, expected):
    keys = _keys(presets.cells(preset))
    assert len(keys) == len(set(keys))  # a cell two lessons need runs once
    assert set(keys) == expected


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
    new = Lesson(name="extra", section=lambda results: "### Extra",
                 quick=(cell("cpu", "sync", 1, users=8), cell("cpu", "sync", 3, users=8)))
    monkeypatch.setattr(presets, "LESSONS", (*LESSONS, new))
    keys = _keys(presets.cells("quick"))
    assert set(keys) == (QUICK - MOVED_TO_FULL - GIL_MOVED_TO_FULL
                         | ASGI_QUICK - ASGI_MOVED_TO_FULL | BACKENDS_QUICK | SLOW_QUICK
                         | DB_QUICK | CONVOY_QUICK | SERVERS_QUICK
                         | {("cpu", "sync", 3, 1, None, 8)})  # sync -w1 runs once


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


@pytest.mark.parametrize("preset", ["full", "quick", "slowwatch", "database", "convoy",
                                    "servers", "hosts"])
def test_golden_report(preset, tmp_path):
    """The committed results render to the committed report, byte for byte."""
    results = json.loads((SAMPLES / preset / "results.json").read_text())
    write_report(results, tmp_path)
    assert (tmp_path / "report.md").read_text() == (SAMPLES / preset / "report.md").read_text()


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
