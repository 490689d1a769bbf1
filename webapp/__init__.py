"""A small Flask app for measuring gunicorn worker models (Fluent Python 2e, ch. 19).

Flask is imported by the factory, not by this package: the load side imports the pure
workload modules (``webapp.work``) and the offload's names, and need not pay for Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory: JSON endpoints and JSON errors."""
    from flask import Flask

    app = Flask(__name__)
    app.json.sort_keys = False
    if test_config:
        app.config.update(test_config)

    from . import admission, dbviews, errors, views
    from .instrument import hubmonitor, runtime

    app.register_blueprint(views.bp)
    app.register_blueprint(dbviews.bp)
    errors.register(app)
    if limit := admission.from_env():
        _admit(app, limit)
    if runtime.gevent_patched():
        hubmonitor.install()
    return app


def _admit(app: Flask, limit) -> None:
    """Every request takes a slot of ``limit`` (:mod:`.admission`) or is answered 503 at once."""
    from flask import g, jsonify

    from .admission import RETRY_AFTER_S

    @app.before_request
    def _enter():
        if not limit.enter():
            return jsonify(limit.refusal()), 503, {"Retry-After": str(RETRY_AFTER_S)}
        g.admitted = True
        return None

    @app.teardown_request
    def _leave(_exc):
        if g.pop("admitted", False):
            limit.leave()
