"""Every by-hand block of the pages (``docs/try/*.sh``, shown on its page by the site) runs
as a reader would paste it, against real servers: exit status 0 within a deadline, no
traceback or 5xx answer printed, nothing left running (``helpers.run_page``). Here the
pages that need only Python; the pages whose scripts start Redis or PostgreSQL:
test_try_services.py; the teaching page's class script: test_teaching.py.

Each page's scripts run in one ``bash -e`` inside a network namespace of their own (root),
so that the fixed ports a reader types (8000-8003) never meet another test's, and whatever
the script leaves running is killed with the namespace. The changes from the page, both of
run time only: Locust's ``-t 20s``, as a reader would wait, runs 2 s here, and ``make
lesson``'s cells get 1 s windows.
"""

from __future__ import annotations

import pytest

from loadtests.site.scripts import groups, services

from .helpers import run_page

pytestmark = pytest.mark.integration

#: Pages whose scripts have a test module of their own (a long one, in a file apart so that
#: make test's parallel pass can give it a worker of its own).
APART = ("teaching",)


@pytest.mark.parametrize("page", sorted(page for page in set(groups()) - set(APART)
                                         if not services(page)), ids=str)
def test_a_pages_by_hand_commands_run_as_written(page, namespace, tmp_path):
    run_page(page, namespace, tmp_path)
