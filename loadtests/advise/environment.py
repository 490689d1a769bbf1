"""The app's own environment (``--python PATH``): its interpreter runs every server, with the
app's packages and its own gunicorn; the lab's runs only the load and the measurement.

An app imported into the lab's ``.venv`` runs behind the lab's pinned gunicorn and gevent
and beside the lab's packages, not its own. With ``--python``, the advisor asks that
interpreter (in a child process) for its gunicorn's version -- the lab's config relies on
gunicorn 27's worker internals (its header deadline, its asgi worker), so an older one is
refused in one line -- and for which of the servers people pick instead are installed
there: those are offered, and one line says how to add the others.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .target import BadInput

#: The oldest gunicorn the advisor serves an app with (the lab's config needs 27's workers).
MIN_GUNICORN = (27, 0)
#: The package each other model needs, by the advisor's name for it.
NEEDS = {"gevent": "gevent", "granian wsgi": "granian", "granian asgi": "granian",
         "waitress wsgi": "waitress", "uvicorn asgi": "uvicorn"}
#: Prints the interpreter's gunicorn version (or null) and which of NEEDS' packages it has.
PROBE = """
import importlib.util, json, sys
from importlib import metadata
try:
    gunicorn = metadata.version("gunicorn")
except metadata.PackageNotFoundError:
    gunicorn = None
print(json.dumps({"gunicorn": gunicorn, "python": sys.version.split()[0],
                  "installed": [m for m in sys.argv[1:] if importlib.util.find_spec(m)]}))
"""


@dataclass(frozen=True)
class Environment:
    """Where the servers run: ``python`` (None: the lab's own), its gunicorn's version, its
    Python's, and the packages of :data:`NEEDS` installed there."""

    python: str | None
    gunicorn: str
    python_version: str
    installed: frozenset[str]

    def serves(self, model: str) -> bool:
        """Whether ``model`` (an advisor's "other model") can run here."""
        return NEEDS.get(model, "") in self.installed or model not in NEEDS

    def add_line(self, models: list[str]) -> str:
        """One line: how to offer ``models``, not installed here."""
        packages = sorted({NEEDS[m] for m in models})
        return (f"not installed in {self.python}'s environment, so not offered: "
                f"{', '.join(models)}; `{self.python} -m pip install {' '.join(packages)}` "
                "there to compare them")


def supported(version: str) -> bool:
    """Whether gunicorn ``version`` is one the advisor serves apps with.

    >>> supported("27.0.1"), supported("23.0.0"), supported("28.1")
    (True, False, True)
    """
    numbers = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    return numbers >= MIN_GUNICORN


def inspect(python: str | None) -> Environment:
    """The environment ``python`` runs servers in (None: the lab's own, everything
    installed); :class:`BadInput` when it cannot run them."""
    if python is None:
        from importlib import metadata

        return Environment(None, metadata.version("gunicorn"), sys.version.split()[0],
                           frozenset(NEEDS.values()))
    if not Path(python).is_file():
        raise BadInput(f"--python {python}: no such interpreter")
    try:
        done = subprocess.run([python, "-c", PROBE, *sorted(set(NEEDS.values()))],
                              capture_output=True, text=True, timeout=60)
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        raise BadInput(f"--python {python}: not a Python interpreter that runs") from None
    minimum = ".".join(map(str, MIN_GUNICORN))
    if found["gunicorn"] is None:
        raise BadInput(f"--python {python}: gunicorn is not installed there "
                       f"(`{python} -m pip install 'gunicorn>={minimum}'`)")
    if not supported(found["gunicorn"]):
        raise BadInput(f"--python {python}: its gunicorn {found['gunicorn']} is older than "
                       f"{minimum}, the oldest the advisor serves apps with "
                       f"(`{python} -m pip install 'gunicorn>={minimum}'`)")
    return Environment(python, found["gunicorn"], found["python"],
                       frozenset(found["installed"]))
