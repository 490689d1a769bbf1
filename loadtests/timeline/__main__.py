"""Draw a traced server's timeline: ``python -m loadtests.timeline traces/``.

Serve with ``TRACE=1`` (each worker writes ``$TRACE_DIR/requests-<pid>.json``, default
``traces/``, when it exits), load it, stop it, then draw: ``timeline.png`` and the
Chrome trace-event ``trace.json`` are written beside the folder, or in ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.timeline",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the workers wrote requests-*.json")
    parser.add_argument("--out", type=Path, help="folder for the PNG and the JSON "
                                                 "(default: the traces' parent)")
    args = parser.parse_args(argv)
    if not any(args.folder.glob("requests-*.json")):
        print(f"timeline: no requests-*.json in {args.folder} (serve with TRACE=1 and "
              "stop the server: each worker writes its file as it exits)", file=sys.stderr)
        return 2
    (args.out or args.folder.parent).mkdir(parents=True, exist_ok=True)
    png, trace, _ = write(args.folder, args.out)
    print(f"timeline: {png}\ntrace events: {trace} (chrome://tracing or ui.perfetto.dev)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
