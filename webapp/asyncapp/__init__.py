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
from starlette.middleware import Middleware
from starlette.responses import JSONResponse

from .. import admission
from ..instrument import loopwatchdog
from . import dbviews
from .errors import HANDLERS
from .views import ROUTES


def create_app(debug: bool = False) -> Starlette:
    """Application factory: JSON endpoints and JSON errors."""
    loopwatchdog.install()
    limit = admission.from_env()
    return Starlette(debug=debug, routes=ROUTES + dbviews.ROUTES, exception_handlers=HANDLERS,
                     lifespan=loopwatchdog.lifespan,
                     middleware=[Middleware(Admit, limit=limit)] if limit else [])


class Admit:
    """ASGI middleware: each HTTP request takes a slot of ``limit`` (:mod:`..admission`) or is
    answered 503 at once."""

    def __init__(self, app, limit: admission.Admission):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self.limit.enter():
            refusal = JSONResponse(self.limit.refusal(), status_code=503,
                                   headers={"Retry-After": str(admission.RETRY_AFTER_S)})
            return await refusal(scope, receive, send)
        try:
            return await self.app(scope, receive, send)
        finally:
            self.limit.leave()
