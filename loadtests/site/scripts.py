"""The pages' by-hand blocks: each a script of its own under ``docs/try/``, which a page
shows with ``% generated: try NAME`` and ``tests/test_try.py`` runs against real servers.

A page's scripts are ``NAME.sh``, or ``NAME-0.sh``, ``NAME-1.sh``... when the page's blocks
share a shell (the teaching page's class script: one block starts the servers, the last
stops them); the test runs those in order in one ``bash``. What a reader pastes is what
the test runs, but for the run times, which the test shortens (Locust's ``-t 20s`` and the
open load's ``--duration 20`` to 1 s, each ``--phase`` to 1 s, the slow prime of the
curls to the quick one: ``tests/helpers.SHORTER``).
"""

from __future__ import annotations

import re
from pathlib import Path

from .blocks import DOCS

TRY = DOCS / "try"
#: ``NAME-N.sh``: the Nth block of page NAME, in one shell with the others.
PART = re.compile(r"(?P<page>.+)-(?P<n>\d+)")
#: The Debian services a script starts itself: a page that needs one (Redis, the lab's
#: PostgreSQL, nginx) runs in tests/test_try_services.py.
SERVICES = re.compile(r"^\s*(?:\S+=\S+ )*(redis-server|nginx|python -m loadtests\.services\."
                      r"postgres)\b", re.M)
#: Each, by its name in ``Cell.needs``.
NEEDS = {"redis-server": "Redis", "nginx": "nginx",
         "python -m loadtests.services.postgres": "PostgreSQL"}


def script(name: str) -> Path:
    path = TRY / f"{name}.sh"
    if not path.is_file():
        raise ValueError(f"no by-hand script docs/try/{name}.sh")
    return path


def tried(arg: str, write: bool = False) -> str:
    """The script as the page shows it: a shell block, pasted as is."""
    return "```sh\n" + script(arg).read_text().rstrip() + "\n```"


def groups() -> dict[str, list[Path]]:
    """Every script, by the shell it runs in: a page's parts together, in order."""
    found: dict[str, list[Path]] = {}
    for path in sorted(TRY.glob("*.sh")):
        part = PART.fullmatch(path.stem)
        found.setdefault(part["page"] if part else path.stem, []).append(path)
    for paths in found.values():
        paths.sort(key=lambda p: int(m["n"]) if (m := PART.fullmatch(p.stem)) else 0)
    return found


def services(page: str) -> set[str]:
    """The services page ``page``'s scripts start themselves, by their ``Cell.needs`` names
    (empty: Python only)."""
    return {NEEDS[found[1]] for path in groups()[page]
            for found in SERVICES.finditer(path.read_text())}
