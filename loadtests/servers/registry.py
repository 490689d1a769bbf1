"""The servers the lab can run, by the name a :class:`~.spec.ServerSpec` gives in ``server``:
each class named as ``module:Class`` here and imported on first use, as gunicorn names its
worker classes -- so that a spec can ask for its server's class without an import cycle.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Server

NAMES = {
    "gunicorn": "gunicorn:GunicornServer",
    "uvicorn": "uvicorn:UvicornServer",
    "uvicorn-worker": "uvicorn:UvicornWorkerServer",
    "granian": "granian:GranianServer",
    "waitress": "waitress:WaitressServer",
}


@cache
def server_class(name: str) -> type[Server]:
    """The class that runs the server ``name`` (KeyError: no such server)."""
    module, cls = NAMES[name].split(":")
    return getattr(import_module(f"{__package__}.{module}"), cls)
