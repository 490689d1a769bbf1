"""The teaching page's ten-minute class script runs as a teacher would paste it, block by
block in one shell (``docs/try/teaching-*.sh``; see test_try.py), and its table lists
every lesson once under a section of the chapter (test_registry.py)."""

from __future__ import annotations

import pytest

from .helpers import run_page

pytestmark = pytest.mark.integration


def test_the_class_script_runs_as_written(namespace, tmp_path):
    run_page("teaching", namespace, tmp_path)
