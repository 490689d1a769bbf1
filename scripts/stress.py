"""Run the timing tests (``-m timing``) several times in a row beside a CPU hog.

    python scripts/stress.py --rounds 5        # make stress (ROUNDS=5)
    python scripts/stress.py --rounds 1 -k asgi

A timing test must hold on a noisy machine: CI's two cores are shared with the server
under test and, on a busy host, with other work. The hog is one process spinning pure
Python, so one core is always busy while the tests run. Most timing tests run beside it
at normal priority: it takes a whole core. The tests marked ``two_cores`` claim that two
cores compute at once (hashing threads, two dirty workers, the advisor's cores ÷ S): with
a core taken that is no longer true, so they run beside the same hog at nice 19, which
keeps the other core busy whenever they leave it idle but yields it when they want it.
Every process is stopped and reaped at the end, on failure and on Ctrl-C. Exit 0 only
when every round passed.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from loadtests.harness.procs import run_main, stop_tree, tree  # noqa: E402

#: The hog, niced with its session's autogroup (``lower_priority``: a nice value alone
#: ranks a process only within its session's group).
HOG = """from loadtests.harness.procs import lower_priority
lower_priority({nice})
while True:
    pass
"""
#: (pytest -m expression, the hog's niceness) per pass of a round.
PASSES = (("timing and not two_cores", 0), ("timing and two_cores", 19))


def _beside_hog(marks: str, nice: int, pytest_args: list[str]) -> int:
    hog = subprocess.Popen([sys.executable, "-c", HOG.format(nice=nice)], cwd=ROOT,
                           start_new_session=True)
    tests = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-m", marks, *pytest_args],
                             cwd=ROOT, start_new_session=True)
    started: dict[int, psutil.Process] = {}  # every process the tests start, as they start
    try:
        while tests.poll() is None:
            started.update((p.pid, p) for p in tree(tests.pid))
            time.sleep(0.2)  # polling interval
        return 0 if tests.returncode == 5 else tests.returncode  # 5: -k chose none here
    finally:  # Ctrl-C or SIGTERM: pytest tears its fixtures down on SIGINT; whatever the
        # tests started in their own sessions and left is stopped too
        stop_tree(tests, grace=30.0, whole_group=False, first_signal=signal.SIGINT,
                  known=started.values())
        stop_tree(hog, grace=1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs in a row (default 5)")
    args, pytest_args = parser.parse_known_args(argv)
    failed = 0
    for round_ in range(1, args.rounds + 1):
        started = time.monotonic()
        codes = [_beside_hog(marks, nice, pytest_args) for marks, nice in PASSES]
        failed += any(codes)
        print(f"stress: round {round_}/{args.rounds}: "
              f"{'passed' if not any(codes) else f'FAILED (exits {codes})'} "
              f"in {time.monotonic() - started:.0f} s, beside a CPU hog", flush=True)
    print(f"stress: {args.rounds - failed} of {args.rounds} rounds passed")
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
