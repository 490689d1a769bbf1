"""Every error is JSON ``{"error": ...}``; no stack trace ever reaches a client."""

from __future__ import annotations

from flask import Flask, current_app, json
from werkzeug.exceptions import HTTPException, InternalServerError


def _json_error(exc: HTTPException):
    response = exc.get_response()  # keeps headers such as Allow on a 405
    response.data = json.dumps({"error": exc.description, "status": exc.code})
    response.content_type = "application/json"
    return response


def _unexpected(exc: Exception):
    # (HTTPExceptions reach _json_error, the more specific handler.) Logged server-side
    # with its traceback; the client learns nothing internal.
    current_app.logger.exception("unhandled error")
    return _json_error(InternalServerError("internal server error"))


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, _json_error)
    app.register_error_handler(Exception, _unexpected)
