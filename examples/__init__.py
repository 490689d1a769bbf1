"""Three small apps with known profiles for ``python -m loadtests.advise`` (see README)."""
