"""The by-hand blocks of the pages whose scripts start a service of their own (Redis, the
lab's PostgreSQL: ``loadtests.site.scripts.services``), run as test_try.py runs the others;
in a module apart so that make test's parallel pass gives them a worker of their own.
"""

from __future__ import annotations

import pytest

from loadtests.services.fleet import lacking
from loadtests.site.scripts import groups, services

from .helpers import missing, run_page

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("page", sorted(page for page in groups() if services(page)), ids=str)
def test_a_pages_by_hand_commands_run_as_written(page, namespace, tmp_path):
    if why := lacking(services(page)):
        missing(RuntimeError(why))
    run_page(page, namespace, tmp_path)
