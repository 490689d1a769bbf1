"""``python -m loadtests.site [--check]``: rewrite the docs' generated blocks, or check them."""

from __future__ import annotations

import argparse
import sys

from .blocks import DOCS
from .pages import PageError, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.site", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="only list the pages whose generated blocks are out of date")
    args = parser.parse_args(argv)
    try:
        changed = stale(write=not args.check)
    except PageError as error:
        print(f"site: {error}", file=sys.stderr)
        return 2
    for path in changed:
        verb = "out of date" if args.check else "rewritten"
        print(f"site: {path.relative_to(DOCS.parent)} {verb}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
