"""The lab's app for asyncio: the same URL contract as the Flask app, as coroutines.

Served by gunicorn's own asyncio worker (``gunicorn -c gunicorn.conf.py -k
asgi``, entry point ``webapp.asgi:app``). Built on Starlette, a thin ASGI
toolkit: routing, requests and responses, nothing between the endpoint and the
event loop -- so what the lab measures is asyncio, not a framework. It shares
the pure modules with the Flask app (params, primes, gilfree, spinner,
offload, runtime): the same bad input gets the same 4xx JSON from both.
"""

from __future__ import annotations

from starlette.applications import Starlette

from ..instrument import loopwatchdog
from . import dbviews
from .errors import HANDLERS
from .views import ROUTES


def create_app(debug: bool = False) -> Starlette:
    """Application factory: JSON endpoints and JSON errors."""
    loopwatchdog.install()
    return Starlette(debug=debug, routes=ROUTES + dbviews.ROUTES, exception_handlers=HANDLERS,
                     lifespan=loopwatchdog.lifespan)
