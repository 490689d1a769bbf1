"""ASGI entry point for gunicorn's asyncio worker: ``webapp.asgi:app`` (``-k asgi``)."""

from webapp.asyncapp import create_app

app = create_app()
