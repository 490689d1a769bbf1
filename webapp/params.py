"""Parse and cap request parameters before any work starts.

Every bad value raises :class:`BadParam` (a 400), so a client never gets a
500, and a worker is never tied up by a request it should have refused.
The caps are documented in the README ("Caps").
"""

from __future__ import annotations

import os
import re

from werkzeug.exceptions import BadRequest

#: Longest `/io` sleep, in seconds.
MAX_DELAY = 10.0
#: Default `/io` sleep, in seconds.
DEFAULT_DELAY = 0.1
#: Largest `n` for `/prime/<n>`: admits every fixture number (the largest is
#: 9_999_999_999_999_999, about 1.6 s of trial division).  The environment
#: variable PRIME_MAX_N raises or lowers it (the worker-timeout tests need
#: longer work); every 100x costs 10x the time.
DEFAULT_MAX_N = 10**16


def _max_n_from_env() -> int:
    raw = os.environ.get("PRIME_MAX_N", "").strip()
    if not raw:
        return DEFAULT_MAX_N
    if not raw.isascii() or not raw.isdigit() or int(raw) < 2:
        raise ValueError(f"PRIME_MAX_N must be an integer of at least 2, got {raw!r}")
    return int(raw)


MAX_N = _max_n_from_env()

_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
_INTEGER = re.compile(r"[0-9]+")
# Far more characters than any admissible value has; longer input is refused unparsed.
_MAX_CHARS = 32


class BadParam(BadRequest):
    """A parameter that is malformed or outside its cap (HTTP 400)."""


def parse_delay(raw: str | None) -> float:
    """Seconds to sleep: a plain decimal in [0, MAX_DELAY]; None means the default."""
    if raw is None:
        return DEFAULT_DELAY
    text = raw.strip()
    if len(text) > _MAX_CHARS or not _DECIMAL.fullmatch(text):
        raise BadParam(f"delay must be a plain decimal number of seconds, got {raw[:_MAX_CHARS]!r}")
    delay = float(text)
    if delay > MAX_DELAY:
        raise BadParam(f"delay must be at most {MAX_DELAY:g} s, got {delay:g}")
    return delay


def _parse_int(raw: str, name: str, low: int, high: int) -> int:
    """An integer written in ASCII digits, in [low, high]."""
    if len(raw) > _MAX_CHARS or not _INTEGER.fullmatch(raw):
        kind = "a non-negative" if low == 0 else "a positive"
        raise BadParam(f"{name} must be {kind} integer, got {raw[:_MAX_CHARS]!r}")
    value = int(raw)
    if value > high:
        raise BadParam(f"{name} must be at most {high}, got {value}")
    if value < low:
        raise BadParam(f"{name} must be at least {low}, got {value}")
    return value


def parse_n(raw: str) -> int:
    """A non-negative integer written in ASCII digits, at most MAX_N."""
    return _parse_int(raw, "n", 0, MAX_N)


#: Default `/hash` buffer, in MiB (about 40 ms of SHA-256).
DEFAULT_MB = 64


def parse_flag(raw: str | None, name: str) -> bool:
    """An on/off switch: absent, ``0`` or ``1``."""
    if raw is None or raw == "0":
        return False
    if raw == "1":
        return True
    raise BadParam(f"{name} must be 0 or 1, got {raw[:_MAX_CHARS]!r}")


def parse_one_of(get, names: tuple[str, ...]) -> str | None:
    """Which of the on/off flags ``names`` is on (``get(name)`` reads one); at most one may be."""
    on = [name for name in names if parse_flag(get(name), name)]
    if len(on) > 1:
        raise BadParam(f"choose {' or '.join(f'{name}=1' for name in on)}, not both")
    return on[0] if on else None


#: What a WSGI worker answers to ``/prime/<n>?thread=1``.
THREAD_IS_ASGI_ONLY = ("thread=1 (asyncio.to_thread) is for the asgi model; a WSGI worker "
                       "already runs each request in its own thread, process or greenlet")


def parse_mb(raw: str | None, cap: int, default: int = DEFAULT_MB) -> int:
    """MiB to hash or to send: an integer in [1, cap]; None means ``default``."""
    return default if raw is None else _parse_int(raw, "mb", 1, cap)


def parse_ms(raw: str | None, cap: int, default: int) -> int:
    """Milliseconds of ``pg_sleep``: an integer in [0, cap]; None means ``default``."""
    return default if raw is None else _parse_int(raw, "ms", 0, cap)


def parse_rows(raw: str | None, cap: int, default: int) -> int:
    """Rows to read: an integer in [1, cap]; None means ``default``."""
    return default if raw is None else _parse_int(raw, "n", 1, cap)
