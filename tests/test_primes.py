"""The book's is_prime against a sieve, random numbers and its 20-number fixture, and the
fixture itself against an independent primality test.

Trial division of the fixture's 16-digit numbers takes 1 to 7 s each (35 CPU seconds in
all on the CI machine); what those runs showed, that ``is_prime`` says what the fixture
says, is shown here without them: ``is_prime`` agrees with a deterministic Miller-Rabin on
every fixture number below 10**15 and on random 12-digit numbers (the same loop, over a
shorter range), and Miller-Rabin agrees with the whole fixture.
"""

import random

import pytest

from webapp.work.primes import FIXTURE, MEDIUM_PRIME, QUICK_PRIME, SLOW_PRIME, is_prime

pytestmark = pytest.mark.inprocess  # no process: make test runs it beside the timing tests

#: Fixture numbers below this are run through is_prime here (the rest take a second or more).
QUICK_BELOW = 10**15
#: The first 13 primes as Miller-Rabin bases: no strong pseudoprime to all of them below
#: 3.3 × 10**24 (Sorenson and Webster, 2015), far above the fixture.
BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)


def miller_rabin(n: int, bases: tuple[int, ...] = BASES) -> bool:
    """Deterministic for n < 3.3 × 10**24: an oracle independent of trial division."""
    if n < 2:
        return False
    for p in bases:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


@pytest.mark.parametrize(("n", "expected"), list(FIXTURE.items()), ids=str)
def test_the_fixture_is_what_miller_rabin_says(n, expected):
    assert miller_rabin(n) is expected


@pytest.mark.parametrize(("n", "expected"),
                         [(n, prime) for n, prime in FIXTURE.items() if n < QUICK_BELOW],
                         ids=str)
def test_is_prime_on_the_fixture_below_10e15(n, expected):
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


def test_agrees_with_miller_rabin_on_random_12_digit_numbers():
    numbers = random.Random(19).sample(range(10**11, 10**12), 300)
    numbers += [10**12 - 11, 10**12 + 39]  # primes, whatever the sample drew
    found = [is_prime(n) for n in numbers]
    assert found == [miller_rabin(n) for n in numbers]
    assert sum(found) >= 2  # primes too, which run the loop to its end


def test_miller_rabin_needs_its_thirteen_bases():
    """3215031751 = 151 × 751 × 28351 passes the strong test to bases 2, 3, 5 and 7: four
    bases would call it prime, the thirteen do not."""
    assert miller_rabin(3215031751, bases=BASES[:4])
    assert not miller_rabin(3215031751) and not is_prime(3215031751)


@pytest.mark.parametrize("n", [QUICK_PRIME, MEDIUM_PRIME, SLOW_PRIME])
def test_named_numbers_are_fixture_primes(n):
    assert FIXTURE[n] is True
