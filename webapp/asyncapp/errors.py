"""Every error is JSON ``{"error": ..., "status": ...}``, worded as the Flask app words it.

The parameter checks (``webapp.params``) raise werkzeug's ``BadRequest``; the
router raises Starlette's ``HTTPException`` for an unknown route (404) or a
wrong method (405, with ``Allow``). Both become the JSON body the Flask app
sends, with werkzeug's description for the status, so a client cannot tell
the two apps apart by their errors. Anything else is a 500 that says only
``internal server error``; the traceback goes to the server log.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from werkzeug.exceptions import HTTPException, default_exceptions

log = logging.getLogger("gunicorn.error")


def _json(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status,
                        headers=headers)


async def _werkzeug(request: Request, exc: HTTPException) -> JSONResponse:
    return _json(exc.code, exc.description)


async def _starlette(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    twin = default_exceptions.get(exc.status_code)
    message = twin.description if twin else exc.detail
    return _json(exc.status_code, message, exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return _json(500, "internal server error")


HANDLERS = {HTTPException: _werkzeug, StarletteHTTPException: _starlette,
            Exception: _unexpected}
