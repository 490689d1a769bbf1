"""The app to advise on: where it lives, which paths to load, and whether it imports.

A user mistake -- an app that does not import, a path that is not served, an app that
hangs -- is :class:`BadInput`: the command prints its one line and exits with status 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..load.traffic import Route, Traffic
from ..servers import ROOT


class BadInput(Exception):
    """A mistake in what the user asked for, said in one line."""


#: Imports the app the way gunicorn does (gunicorn.util.import_app), in a child process with
#: the app's folder first on sys.path, optionally after gevent's monkey-patching; prints what
#: kind of callable it is, or the error.
IMPORT_CHECK = """
import inspect, json, sys
app_uri, folder, patch = sys.argv[1:4]
sys.path.insert(0, folder)
if patch == "gevent":
    from gevent import monkey
    monkey.patch_all()
from gunicorn.util import import_app
try:
    app = import_app(app_uri)
except BaseException as error:
    print(json.dumps({"error": f"{type(error).__name__}: {error}".strip()}))
    raise SystemExit(0)
asynchronous = inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(
    getattr(app, "__call__", None))
print(json.dumps({"kind": "asgi" if asynchronous else "wsgi"}))
"""

#: Seconds an import may take before the app counts as hanging at import.
IMPORT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Target:
    """``app`` ("pkg.module:attr") imported from ``chdir``; ``traffic``: the routes loaded,
    in their proportions, with their body and headers."""

    app: str
    traffic: Traffic
    chdir: str
    kind: str = "wsgi"  # or "asgi"
    #: the CPUs every server of the app is held to (``--server-cpus``; empty: any)
    cpus: tuple[int, ...] = ()
    #: the interpreter that imports and serves it (``--python``; None: the lab's own)
    python: str | None = None

    @property
    def routes(self) -> tuple[Route, ...]:
        return self.traffic.routes


def check_import(app: str, chdir: str, *, patch: str = "", python: str | None = None) -> dict:
    """{"kind": "wsgi"|"asgi"} or {"error": one line}, from a child process of ``python``
    (None: the lab's own)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [chdir, str(ROOT), os.environ.get("PYTHONPATH", "")]))}
    try:
        done = subprocess.run([python or sys.executable, "-c", IMPORT_CHECK, app, chdir, patch],
                              cwd=chdir, env=env, capture_output=True, text=True,
                              timeout=IMPORT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"importing it did not finish within {IMPORT_TIMEOUT_S:g} s"}
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return {"error": tail}


def resolve(app: str, paths: list[str], chdir: str | None, body: str | None = None,
            headers: list[str] = (), cpus: tuple[int, ...] = (),
            python: str | None = None) -> Target:
    """Check what the user gave (``paths``: ``--path``'s [METHOD ]PATH[=WEIGHT]; ``body``
    and ``headers``: ``--body`` and ``--header``); the app must import (without patching)
    and be callable."""
    folder = Path(chdir or os.getcwd()).resolve()
    if not folder.is_dir():
        raise BadInput(f"--chdir {chdir}: no such folder")
    module = app.partition(":")[0]
    if not module or not all(part.isidentifier() for part in module.split(".")):
        raise BadInput(f"--app {app!r}: expected package.module:app (e.g. examples.waiting:app)")
    try:
        traffic = Traffic.parse(paths, body, headers)
    except ValueError as error:
        raise BadInput(str(error)) from None
    found = check_import(app, str(folder), python=python)
    if "error" in found:
        raise BadInput(f"--app {app}: cannot import it from {folder}: {found['error']}")
    return Target(app, traffic, str(folder), found["kind"], cpus, python)


def redacted(argv: list[str]) -> list[str]:
    """The command line as a report may keep it: each header's value left out (a token).

    >>> redacted(["--path", "/a", "--header", "Authorization: Bearer x", "--header=K: v"])
    ['--path', '/a', '--header', 'Authorization: …', '--header=K: …']
    """
    out, after_flag = [], False
    for arg in argv:
        if after_flag or arg.startswith("--header="):
            head, colon, _ = arg.partition(":")
            arg = f"{head}: …" if colon else arg
        after_flag = arg == "--header"
        out.append(arg)
    return out
