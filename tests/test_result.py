"""A cell's typed result and results.json's schema: written with its version, older files
upgraded in one place, a cell's key derived from the fields its result records."""

from __future__ import annotations

import dataclasses
import json

import pytest

from loadtests.lessons import LESSONS
from loadtests.matrix import presets
from loadtests.matrix.result import (
    DEFAULTS,
    IDENTITY,
    SCHEMA,
    CellResult,
    dump,
    load,
    row_key,
    upgrade,
)
from loadtests.servers import ROOT

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests

SAMPLES = ROOT / "docs" / "sample"


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*/results.json")),
                         ids=lambda p: p.parent.name)
def test_every_committed_sample_loads_with_every_field(path):
    data = load(path)
    assert data["schema"] == SCHEMA
    for row in data["cells"]:
        assert "error" in row or row.keys() >= DEFAULTS.keys()


def test_an_old_row_gets_what_its_missing_fields_meant():
    """Rows written before a field existed (the oldest samples have no server, pinned cores
    or trace) read as what that field meant then."""
    old = {"machine": {}, "settings": {}, "cells": [{"scenario": "cpu", "worker_class": "sync",
                                                      "workers": 1, "threads": 1, "rps": 5.0}]}
    (row,) = upgrade(old)["cells"]
    assert row["server"] == "gunicorn" and row["server_options"] == []
    assert row["pin_cores"] is False and row["offload"] == "pool" and row["slow_clients"] == 0
    assert row["timeline"] is None and row["rps"] == 5.0
    assert upgrade(upgrade(old)) == upgrade(old)  # idempotent


def test_a_file_from_a_newer_lab_is_refused():
    with pytest.raises(ValueError, match=f"schema {SCHEMA + 1}; this lab reads up to {SCHEMA}"):
        upgrade({"schema": SCHEMA + 1, "cells": []})


def test_results_json_is_written_with_its_version_first(tmp_path):
    dump({"machine": {}, "cells": []}, tmp_path / "results.json")
    text = (tmp_path / "results.json").read_text()
    assert next(iter(json.loads(text))) == "schema" and json.loads(text)["schema"] == SCHEMA


def test_a_field_the_result_does_not_declare_is_refused():
    with pytest.raises(TypeError, match="unexpected keyword argument 'hub_blocked_secs'"):
        CellResult(scenario="cpu", worker_class="sync", workers=1, threads=1,
                   hub_blocked_secs=1.0)


def test_a_cells_key_is_its_rows_key():
    """Cell.key is derived from the fields a cell's result records: the key of a row built
    from any cell of any lesson is that cell's key, and no two cells share one but with other
    users (``--users`` moves them: the Celery cell runs at 3 and at 5)."""
    cells = presets.cells("full")
    for cell in cells:
        row = CellResult(**cell.identity()).as_row()
        assert row_key(row) == cell.key()
        assert set(cell.identity()) == set(IDENTITY)
    assert len({(c.key(), c.users) for c in cells}) == len(cells)
    every = {c.key() for lesson in LESSONS for c in (*lesson.quick, *lesson.full)}
    assert {c.key() for c in cells} == every


def test_every_field_has_a_default_but_what_the_cell_is():
    required = {f.name for f in dataclasses.fields(CellResult)
                if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING}
    assert required == {"scenario", "worker_class", "workers", "threads"}
