"""The servers the lab starts and measures, one module per server.

* :mod:`.base`: what they share -- free loopback ports, ServerError, and :class:`Server`'s
  lifecycle (start in a session, ready over HTTP, stop and reap on every path);
* :mod:`.spec`: :class:`ServerSpec`, a server and its knobs;
* :mod:`.gunicorn`: gunicorn with the lab's config, one worker model per spec;
* :mod:`.uvicorn`: uvicorn standalone, and gunicorn with uvicorn-worker's UvicornWorker;
* :mod:`.granian`: granian's WSGI and ASGI interfaces;
* :mod:`.waitress`: waitress's thread pool behind its buffering I/O thread.

:func:`launch` starts the server a spec names; nothing outside these modules asks which.
"""

from .base import ROOT, Server, ServerError, free_port
from .granian import GranianServer
from .gunicorn import CONFIG, DIRTY_READY_LINE, READY_LINE, GunicornServer
from .registry import NAMES, server_class
from .spec import MODELS, ServerSpec
from .uvicorn import UvicornServer, UvicornWorkerServer
from .waitress import WaitressServer

#: Each server class by the name a :class:`ServerSpec` gives in ``server`` (:mod:`.registry`).
SERVERS: dict[str, type[Server]] = {name: server_class(name) for name in NAMES}


def launch(spec: ServerSpec, **kwargs) -> Server:
    """The (not yet started) server for ``spec``: a context manager like GunicornServer."""
    return SERVERS[spec.server](spec, **kwargs)


__all__ = ["CONFIG", "DIRTY_READY_LINE", "MODELS", "READY_LINE", "ROOT", "SERVERS", "GranianServer",
           "GunicornServer", "Server", "ServerError", "ServerSpec", "UvicornServer",
           "UvicornWorkerServer", "WaitressServer", "free_port", "launch"]
