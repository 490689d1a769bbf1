"""A small Flask app for measuring gunicorn worker models (Fluent Python 2e, ch. 19)."""

from __future__ import annotations

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory: JSON endpoints and JSON errors."""
    app = Flask(__name__)
    app.json.sort_keys = False
    if test_config:
        app.config.update(test_config)

    from . import dbviews, errors, views
    from .instrument import hubmonitor, runtime

    app.register_blueprint(views.bp)
    app.register_blueprint(dbviews.bp)
    errors.register(app)
    if runtime.gevent_patched():
        hubmonitor.install()
    return app
