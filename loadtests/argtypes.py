"""argparse types shared by the lab's commands: positive numbers, comma-separated choices."""

from __future__ import annotations

import argparse


def positive(kind):
    """An argparse type: ``kind(text)``, refused unless it is above zero."""
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value
    return parse


def csv_choice(allowed: tuple[str, ...]):
    """An argparse type: a non-empty comma-separated subset of ``allowed``."""
    def parse(text: str) -> set[str]:
        chosen = {part.strip() for part in text.split(",") if part.strip()}
        unknown = chosen - set(allowed)
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"choose from {', '.join(allowed)} (comma-separated), got {text!r}")
        return chosen
    return parse
