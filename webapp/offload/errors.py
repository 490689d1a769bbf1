"""What an offload backend's failures become: HTTP errors with JSON bodies (errors.py)."""

from __future__ import annotations

from werkzeug.exceptions import GatewayTimeout, ServiceUnavailable


class Unavailable(ServiceUnavailable):
    """The offload backend cannot be reached (HTTP 503)."""


class TimedOut(GatewayTimeout):
    """The offloaded task did not finish within ``OFFLOAD_TIMEOUT`` (HTTP 504)."""
