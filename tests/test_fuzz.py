"""Property-based bad input: every endpoint, every parameter, never a 5xx.

About 1,100 examples through Flask's test client, and a few hundred per worker
model against real gunicorn servers. A 4xx is always JSON with an ``error``;
the server still answers ``/health`` afterwards.
"""

from __future__ import annotations

import contextlib
from unittest import mock
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from loadtests.load.client import get
from webapp import create_app
from webapp.params import MAX_N, BadParam, parse_delay, parse_n

from .helpers import MODELS

app = create_app({"TESTING": True})
client = app.test_client()

NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**9),
    st.integers(min_value=MAX_N + 1, max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
).map(str)
SPECIAL = st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "1e999", "0x1f", "1_0", "+1",
                           "٣", "１", "\x00", "%00", "..", "/", "?", "#", "\\", "null", "[]"])
TEXT = st.text(max_size=60)
LONG = st.text(min_size=500, max_size=3000)
RAW = st.one_of(NUMBERS, SPECIAL, TEXT, LONG)


def _json_4xx_or_2xx(status: int, body: dict | None) -> None:
    assert status < 500
    if status >= 400:
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]


def _check(response) -> None:
    _json_4xx_or_2xx(response.status_code, response.get_json(silent=True))


FAST = settings(max_examples=300, deadline=None)


@pytest.mark.inprocess
@FAST
@given(raw=RAW)
def test_prime_path_never_5xx(raw):
    with contextlib.suppress(BadParam):
        assume(parse_n(raw) < 10**12)  # admissible and slow: not bad input
    _check(client.get("/prime/" + quote(raw, safe="")))


@pytest.mark.inprocess
@FAST
@given(raw=RAW)
def test_io_delay_never_5xx(raw):
    with mock.patch("time.sleep"):  # validation is under test, not sleeping
        _check(client.get("/io", query_string={"delay": raw}))


@pytest.mark.inprocess
@settings(max_examples=250, deadline=None)
@given(path=st.lists(RAW, min_size=1, max_size=4).filter(lambda parts: parts[0] != ""))
def test_any_path_never_5xx(path):
    # (a path starting "//" would name a host to the test client, not a route)
    with mock.patch("time.sleep"):
        _check(client.get("/" + "/".join(quote(p, safe="") for p in path)))


@pytest.mark.inprocess
@settings(max_examples=250, deadline=None)
@given(endpoint=st.sampled_from(["/health", "/info", "/io", "/prime/7"]),
       params=st.dictionaries(RAW, RAW, max_size=4),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]))
def test_any_query_and_method_never_5xx(endpoint, params, method):
    with mock.patch("time.sleep"):
        response = client.open(endpoint, method=method, query_string=params)
    if method == "HEAD":
        assert response.status_code < 500
    else:
        _check(response)


# -- the same against real gunicorn servers ---------------------------------------------

def _admissible_and_slow(raw: str) -> bool:
    for parse, limit in ((parse_n, 10**12), (parse_delay, 0.05)):
        try:
            if parse(raw) > limit:
                return True
        except BadParam:
            pass
    return False


SHORT_RAW = st.one_of(NUMBERS, SPECIAL, st.text(max_size=40))


@pytest.mark.integration
@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=SHORT_RAW, where=st.sampled_from(["prime", "delay", "path", "query"]))
def test_real_server_fuzz(serve, model, raw, where):
    assume(not _admissible_and_slow(raw))
    server = serve(MODELS[model])
    quoted = quote(raw, safe="")
    path = {
        "prime": f"/prime/{quoted}",
        "delay": f"/io?delay={quoted}",
        "path": f"/{quoted}",
        "query": f"/info?{quoted}={quoted}",
    }[where]
    reply = get(server.url + path, timeout=30)
    _json_4xx_or_2xx(reply.status, reply.body)


@pytest.mark.integration
@pytest.mark.parametrize("model", MODELS)
def test_real_server_answers_after_fuzzing(serve, model):
    assert get(serve(MODELS[model]).url + "/health").status == 200
