"""Every by-hand block of the docs (``docs/try/*.sh``, shown on its page by the site) runs
as a reader would paste it, against real servers: exit status 0 within a deadline.

Each page's scripts run in one ``bash -e`` inside a network namespace of their own (the
lab's hosts' machinery: root), so that the fixed ports a reader types (8000-8003) never
meet another test's, and whatever the script leaves running is killed with the namespace.
The changes from the page, both of run time only: Locust's ``-t 20s``, as a reader would
wait, runs 2 s here, and ``make lesson``'s cells get 1 s windows.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys

import pytest

from loadtests.cluster.network import delete_netns, ip, unavailable
from loadtests.servers import ROOT
from loadtests.site.scripts import groups

from .helpers import missing

pytestmark = pytest.mark.integration

#: Seconds a page's scripts may take together.
DEADLINE_S = 90
#: Run times on the pages, and in the test: Locust's, and ``make lesson``'s windows.
SHORTER = ((re.compile(r"(?<= )-t \d+s\b"), "-t 2s"),
           (re.compile(r"^make lesson (L=\w+)$", re.M),
            r'make lesson \1 ARGS="--warmup 0.5 --duration 1"'))
_names = itertools.count()


@pytest.fixture
def namespace():
    """A network namespace of the test's own with its loopback up; deleted after, with
    every process in it."""
    if why := unavailable():
        missing(RuntimeError(why))
    name = f"labtry-{os.getpid()}-{next(_names)}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        delete_netns(name)


@pytest.mark.parametrize("page", sorted(groups()), ids=str)
def test_a_pages_by_hand_commands_run_as_written(page, namespace, tmp_path):
    text = "\n".join(path.read_text() for path in groups()[page])
    script = tmp_path / f"{page}.sh"
    for pattern, shorter in SHORTER:
        text = pattern.sub(shorter, text)
    script.write_text(text)
    venv = os.path.dirname(sys.executable)  # the pages say: after `. .venv/bin/activate`
    env = {**os.environ, "PATH": f"{venv}:{os.environ['PATH']}", "VIRTUAL_ENV":
           os.path.dirname(venv)}
    log = tmp_path / "out.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["ip", "netns", "exec", namespace, "bash", "-e", str(script)],
                                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            status = proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            status = None
        finally:
            delete_netns(namespace)  # the servers it started, whatever happened
            proc.kill()
            proc.wait()
    tail = log.read_text(errors="replace")[-3000:]
    assert status == 0, f"docs/try/{page}*.sh: status {status}\n{tail}"
