"""The docs' inline command blocks: the long commands that are not a docs/try script (make
demo and make test, the matrix, the advisor, make hosts), which take minutes to run, are
checked as far as can be without running them.

A ``make`` line is dry-run (``make -n``: its target and variables exist), and each lab
command it would run, like each ``python -m loadtests...`` line of a page, is parsed by that
command's own parser (the matrix's then chooses its cells, as its run would). A wrong flag,
a missing target or a lesson that is not there fails here instead of in a reader's shell.
A block holding anything else fails too: such a block belongs in docs/try/, run by
test_try.py. The quick runs of what these commands do are the tests of the matrix, the
advisor and the hosts.
"""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from loadtests.advise.__main__ import parse_args as advise_args
from loadtests.cluster.__main__ import parse_args as cluster_args
from loadtests.matrix.command import choose_cells
from loadtests.matrix.command import parse_args as matrix_args
from loadtests.servers import ROOT

PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "docs" / "lessons").glob("*.md")))
#: ``VAR=value`` before a command.
ASSIGNMENT = re.compile(r"[A-Z_][A-Z0-9_]*=.*")
#: A lab command make would run: ``.venv/bin/python -m loadtests.NAME ...``.
MADE = re.compile(r"^\S*python -m (loadtests\.\S+)(.*)$", re.M)


def _matrix(argv: list[str]) -> None:
    assert not isinstance(choose_cells(matrix_args(argv)), int), "no cells to run"


#: Each lab command's check: its parser, and what its run would decide before starting.
LAB = {"loadtests.matrix": _matrix, "loadtests.advise": advise_args,
       "loadtests.cluster": cluster_args}


def inline_commands() -> list[tuple[str, str]]:
    """(page, command line) for every line of every sh block that is not generated."""
    found = []
    for page in PAGES:
        generated = fenced = False
        line = ""
        for raw in page.read_text().splitlines():
            if raw.startswith("% generated:"):
                generated = raw != "% generated: end"
            elif raw.startswith("```") and not generated:
                fenced = raw == "```sh"
            elif fenced and not generated:
                line += raw.rstrip("\\")
                if not raw.endswith("\\") and shlex.split(line, comments=True):
                    found.append((str(page.relative_to(ROOT)), line))
                line = "" if not raw.endswith("\\") else line
    return found


@pytest.mark.parametrize("page,line", inline_commands(), ids=lambda value: value[:60])
def test_an_inline_command_is_one_the_lab_has(page, line, capsys):
    words = shlex.split(line, comments=True)
    while words[0] == "sudo" or ASSIGNMENT.fullmatch(words[0]):
        words = words[1:]
    if words[0] == "make":
        made = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert made.returncode == 0, f"{page}: {line}\n{made.stderr}"
        commands = [(found[1], shlex.split(found[2])) for found in MADE.finditer(made.stdout)]
    elif words[:2] in (["python", "-m"], [".venv/bin/python", "-m"]):
        commands = [(words[2], words[3:])]
    else:
        pytest.fail(f"{page}: {line!r} is not a command this test can check: make its block "
                    "a docs/try script (test_try.py runs those)")
    for module, argv in commands:
        if module not in LAB:
            continue  # make's own tools (pytest, ruff, sphinx, the site): run by .ci/run
        try:
            LAB[module](argv)
        except SystemExit as exit_:
            pytest.fail(f"{page}: {line}\n{module} {shlex.join(argv)}: exit {exit_.code}\n"
                        f"{capsys.readouterr().err}")


def test_the_inline_blocks_are_found():
    """The reader above finds the blocks it checks (a page's ``make demo``, say)."""
    lines = inline_commands()
    assert any(page == "README.md" and line.startswith("make demo") for page, line in lines)
    assert not any("% generated" in line for _, line in lines)
