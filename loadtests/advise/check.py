"""``--check gunicorn.conf.py``: does a configuration already in use meet the goal here?

For a team's own pipeline: the configuration file is read by gunicorn's own machinery (in a
child process, as gunicorn would read it), served as written but for where it listens and
logs, and loaded with open traffic at the goal's rate (:func:`.atrate.serve_at_rate`, no
runs past it). One line says what was measured against the goal, and the exit status says
whether it met it: 0 met, 1 not met, 2 a mistake in what was asked (said in one line).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..servers import MODELS, ServerSpec
from .atrate import serve_at_rate
from .environment import inspect
from .target import BadInput, resolve

#: Reads a gunicorn config file as gunicorn does (Application.load_config_from_file) and
#: prints the settings the check needs, as JSON; an unreadable file exits 1 with
#: gunicorn's own message.
READ_CONFIG = """
import json, sys
from gunicorn.app.wsgiapp import WSGIApplication
from gunicorn.config import Config
app = WSGIApplication.__new__(WSGIApplication)
app.cfg = Config()
app.load_config_from_file(sys.argv[1])
c = app.cfg
print(json.dumps({"worker_class": c.worker_class_str, "workers": c.workers,
                  "threads": c.threads, "worker_connections": c.worker_connections,
                  "timeout": c.timeout, "wsgi_app": c.wsgi_app}))
"""


def read_config(path: str, python: str | None = None) -> dict:
    """The settings of gunicorn config file ``path``, as ``python``'s gunicorn (None: the
    lab's) reads them."""
    if not Path(path).is_file():
        raise BadInput(f"--check {path}: no such file")
    done = subprocess.run([python or sys.executable, "-c", READ_CONFIG, path],
                          capture_output=True,
                          text=True, timeout=60)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BadInput(f"--check {path}: gunicorn cannot read it: "
                       f"{lines[-1] if lines else done.returncode}")
    return json.loads(done.stdout.splitlines()[-1])


def label(settings: dict) -> str:
    """The configuration in gunicorn's flags (a sync worker with threads is gthread, as
    gunicorn makes it).

    >>> label({"worker_class": "sync", "workers": 2, "threads": 4})
    'gthread -w2 --threads 4'
    """
    kind = settings["worker_class"]
    if kind == "sync" and settings["threads"] > 1:
        kind = "gthread"
    return f"{kind} -w{settings['workers']}" + (
        f" --threads {settings['threads']}" if kind == "gthread" else "")


def check(args, seconds: float) -> int:
    """Measure ``args.check`` at ``args.goal`` for ``seconds``; print one line; its exit
    status."""
    try:
        inspect(args.python)  # its gunicorn is one the check can serve with
        settings = read_config(args.check, args.python)
        app = args.app or settings["wsgi_app"]
        if not app:
            raise BadInput(f"--check {args.check}: it names no wsgi_app: give --app")
        target = resolve(app, args.paths, args.chdir, args.body, args.headers,
                         args.server_cpus, args.python)
        kind = label(settings).split()[0]
        spec = ServerSpec(kind if kind in MODELS else "sync", workers=settings["workers"],
                          timeout=settings["timeout"], app=app, chdir=target.chdir,
                          config=str(Path(args.check).resolve()), cpus=target.cpus,
                          python=target.python)
        at = serve_at_rate(spec, label(settings), target, args.goal, seconds=seconds,
                           timeout=args.timeout, headroom_rps=None)
    except BadInput as error:
        print(f"check: {error}", file=sys.stderr)
        return 2
    run = at.at_goal
    missed = run.scheduled - run.good
    measured = (f"p99 {run.p99_ms:.0f} ms, p50 {run.p50_ms:.0f} ms" if run.p99_ms is not None
                else "no answer") + (f", {missed} of {run.scheduled} requests not answered "
                                     "2xx in time" if missed else "")
    verdict = "meets" if at.meets else "does not meet"
    print(f"check: {args.check} ({label(settings)}) {verdict} {args.goal} on this machine: "
          f"{measured}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "check.json").write_text(json.dumps(
            {"config": args.check, "settings": settings, "app": app, "paths": args.paths,
             "goal": str(args.goal), **at.as_row()}, indent=2) + "\n")
    return 0 if at.meets else 1
