"""Shared fixtures: a Flask test client, and real gunicorn servers per worker model."""

from __future__ import annotations

import pytest

from loadtests.server import GunicornServer, ServerSpec
from webapp import create_app


@pytest.fixture
def app():
    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def serve():
    """Start (once per session) a gunicorn for a :class:`ServerSpec`; all stop at the end."""
    servers: dict[ServerSpec, GunicornServer] = {}

    def _serve(spec: ServerSpec) -> GunicornServer:
        if spec not in servers:
            server = GunicornServer(spec)
            server.start()
            servers[spec] = server
        return servers[spec]

    yield _serve
    for server in servers.values():
        server.stop()


SYNC = ServerSpec("sync", workers=1)
GTHREAD = ServerSpec("gthread", workers=1, threads=4)
GEVENT = ServerSpec("gevent", workers=1)
ASGI = ServerSpec("asgi", workers=1)
MODELS = {"sync": SYNC, "gthread": GTHREAD, "gevent": GEVENT, "asgi": ASGI}
