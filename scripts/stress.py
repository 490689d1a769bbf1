"""Run the timing tests (``-m timing``) several times in a row beside a CPU hog.

    python scripts/stress.py --rounds 5        # make stress (ROUNDS=5)
    python scripts/stress.py --rounds 1 -- -k asgi

A timing test must hold on a noisy machine: CI's two cores are shared with the server
under test and, on a busy host, with other work. The hog is one process spinning pure
Python, so one core is always busy while the tests run; it is stopped and reaped at the
end, on failure and on Ctrl-C. Exit 0 only when every round passed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadtests.procs import run_main, stop_tree  # noqa: E402

HOG = "while True: pass"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs in a row (default 5)")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    hog = subprocess.Popen([sys.executable, "-c", HOG], start_new_session=True)
    results = []
    try:
        for round_ in range(1, args.rounds + 1):
            started = time.monotonic()
            code = subprocess.call([sys.executable, "-m", "pytest", "-m", "timing", "-q",
                                    *args.pytest_args], cwd=ROOT)
            results.append(code)
            print(f"stress: round {round_}/{args.rounds}: "
                  f"{'passed' if code == 0 else f'FAILED (exit {code})'} "
                  f"in {time.monotonic() - started:.0f} s, beside a CPU hog", flush=True)
    finally:
        stop_tree(hog, grace=1.0)
    failed = sum(code != 0 for code in results)
    print(f"stress: {len(results) - failed} of {len(results)} rounds passed")
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
