"""``python -m loadtests.cluster --clean``: remove the namespaces and links a killed run left."""

from __future__ import annotations

import argparse
import sys

from .network import clean, leftovers, unavailable


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.cluster", description=__doc__)
    parser.add_argument("--clean", action="store_true",
                        help="delete every lab namespace and link (processes in them killed)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if why := unavailable():
        print(why, file=sys.stderr)
        return 2
    left = clean() if args.clean else leftovers()
    verb = "removed" if args.clean else "present"
    print(f"{verb}: {', '.join(left)}" if left else "no lab namespace or link is left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
