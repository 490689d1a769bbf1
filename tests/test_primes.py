"""The book's is_prime against its 20-number fixture and a sieve."""

import pytest

from webapp.work.primes import FIXTURE, MEDIUM_PRIME, QUICK_PRIME, SLOW_PRIME, is_prime

SLOW_ABOVE = 10**15  # fixture numbers above this take about a second or more when prime


FIXTURE_PARAMS = [
    pytest.param(n, expected, id=str(n), marks=[pytest.mark.slow] if n > SLOW_ABOVE else [])
    for n, expected in FIXTURE.items()
]


@pytest.mark.parametrize(("n", "expected"), FIXTURE_PARAMS)
def test_fixture(n, expected):
    assert is_prime(n) is expected


def _sieve(limit):
    flags = [False, False] + [True] * (limit - 1)
    for i in range(2, int(limit**0.5) + 1):
        if flags[i]:
            flags[i * i :: i] = [False] * len(flags[i * i :: i])
    return flags


def test_agrees_with_a_sieve_below_5000():
    flags = _sieve(5000)
    assert [n for n in range(5001) if is_prime(n)] == [n for n in range(5001) if flags[n]]


@pytest.mark.parametrize("n", [QUICK_PRIME, MEDIUM_PRIME, SLOW_PRIME])
def test_named_numbers_are_fixture_primes(n):
    assert FIXTURE[n] is True
