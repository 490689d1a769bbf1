"""The advisor on an app in its own environment (``--python``): a fresh virtual environment
holding a third-party app from PyPI (httpbin) and nothing of the lab's; the servers run
under its interpreter and its gunicorn, the peer servers not installed there are named
with the line that adds them, and an older gunicorn is refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .helpers import missing, run_advise

#: The app and what the environment installs: a Flask app of PyPI's, and the lab's gunicorn.
PACKAGES = ("httpbin==0.10.2", "gunicorn==27.0.1")


def _pip(python, *packages: str) -> None:
    """``packages`` into ``python``'s environment, by the lab's pip (the environment is made
    without one: ensurepip's copy would cost the test seconds of CPU), without compiling
    their bytecode (as the lab's own bootstrap: the interpreter compiles what it imports)."""
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                           "-q", "--no-compile", *packages],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:  # no index reachable: the test cannot build its environment
        missing(RuntimeError(f"pip could not install {' '.join(packages)}: "
                             f"{done.stderr.strip().splitlines()[-1:]}"))


@pytest.mark.integration
def test_an_app_in_its_own_environment_is_advised_with_its_interpreter(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    _pip(python, *PACKAGES)
    lab = subprocess.run([sys.executable, "-c", "import httpbin"], capture_output=True)
    assert lab.returncode != 0  # the app is not importable where the lab runs
    done = run_advise("--python", str(python), "--app", "httpbin:app", "--path", "/get",
                      "--rate", "50", "--p99", "500", "--cores", "4", "--out",
                      str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr + done.stdout[-3000:]
    advice = json.loads((tmp_path / "out" / "advice.json").read_text())
    env = advice["environment"]
    assert (env["python"], env["gunicorn"]) == (str(python), "27.0.1")
    assert env["not_installed"] == ["gevent", "granian wsgi", "waitress wsgi"]
    assert advice["profile"]["/get"]["latency_s"] > 0  # served there: it imports only there
    rec = advice["recommended"]
    assert rec["meets"] and rec["command"].endswith("httpbin:app")
    assert f"`{python} -m pip install gevent granian waitress` there" in rec["reasons"]
    assert not any(row["server"] != "gunicorn" for row in advice["candidates"])
    # an older gunicorn there: refused in one line, exit status 2
    _pip(python, "gunicorn==23.0.0")
    old = run_advise("--python", str(python), "--app", "httpbin:app", "--path", "/get")
    assert old.returncode == 2 and old.stderr.count("\n") == 1, old.stderr
    assert "its gunicorn 23.0.0 is older than 27.0, the oldest the advisor serves" in old.stderr


def test_an_interpreter_that_is_not_there_is_one_line():
    done = run_advise("--python", "/nonexistent/bin/python", "--app", "x:app", "--path", "/")
    assert done.returncode == 2 and done.stderr == (
        "advise: --python /nonexistent/bin/python: no such interpreter\n")
