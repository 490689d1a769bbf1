"""argparse types shared by the lab's commands: positive numbers, comma-separated choices,
the --quick/--full preset pair."""

from __future__ import annotations

import argparse
import math
import os


def positive(kind):
    """An argparse type: ``kind(text)``, refused unless it is a number above zero (and not
    infinite: ``float`` reads "nan" and "inf" too).

    >>> positive(float)("1.5")
    1.5
    >>> positive(float)("nan")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be a positive number, got 'nan'
    """
    def parse(text: str):
        value = kind(text)
        if not 0 < value < math.inf:
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
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


def add_presets(parser: argparse.ArgumentParser, *, quick: str, full: str) -> None:
    """--quick (the default) or --full, as ``args.preset``."""
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument("--quick", dest="preset", action="store_const", const="quick",
                        help=f"{quick} (default)")
    preset.add_argument("--full", dest="preset", action="store_const", const="full", help=full)
    parser.set_defaults(preset="quick")


def cpu_list(text: str) -> tuple[int, ...]:
    """``--server-cpus``: CPUs this process may use, comma-separated (0,1).

    >>> cpu_list("0")
    (0,)
    """
    allowed = os.sched_getaffinity(0)
    try:
        cpus = tuple(sorted({int(part) for part in text.split(",")}))
    except ValueError:
        cpus = ()
    if not cpus or not set(cpus) <= allowed:
        raise argparse.ArgumentTypeError(
            f"a comma-separated list of the CPUs this process may use "
            f"({','.join(map(str, sorted(allowed)))}), got {text!r}")
    return cpus
