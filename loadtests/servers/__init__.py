"""The servers the lab starts and measures, one module per server.

* :mod:`.base`: what they share -- the repository root, free loopback ports, ServerError;
* :mod:`.gunicorn`: gunicorn with the lab's config, one worker model per :class:`ServerSpec`.
"""

from .base import ROOT, ServerError, free_port
from .gunicorn import CONFIG, DIRTY_READY_LINE, READY_LINE, GunicornServer, ServerSpec

__all__ = ["CONFIG", "DIRTY_READY_LINE", "READY_LINE", "ROOT", "GunicornServer", "ServerError",
           "ServerSpec", "free_port"]
