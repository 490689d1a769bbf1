"""Parameter parsing and caps, as pure functions."""

import pytest

from webapp.params import DEFAULT_DELAY, MAX_DELAY, MAX_N, BadParam, parse_delay, parse_n

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, DEFAULT_DELAY), ("0", 0.0), ("0.25", 0.25), (".5", 0.5), ("2.", 2.0),
     (" 1 ", 1.0), (f"{MAX_DELAY:g}", MAX_DELAY)],
)
def test_parse_delay(raw, expected):
    assert parse_delay(raw) == expected


@pytest.mark.parametrize("raw", ["", "-1", "nan", "inf", "1e1", "10.01", "x"])
def test_parse_delay_rejects(raw):
    with pytest.raises(BadParam):
        parse_delay(raw)


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("007", 7), (str(MAX_N), MAX_N)])
def test_parse_n(raw, expected):
    assert parse_n(raw) == expected


@pytest.mark.parametrize("raw", ["", "-1", "1.0", str(MAX_N + 1), "1" * 40])
def test_parse_n_rejects(raw):
    with pytest.raises(BadParam) as info:
        parse_n(raw)
    assert info.value.code == 400
