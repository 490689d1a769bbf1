"""Run the in-process tests at nice 19 beside a pytest run: make test's second pass.

    python scripts/beside.py -n 2 --dist worksteal -m "timing and not two_cores and not slow"

The timing tests run two at a time and wait on their servers much of that time: about
half of both cores is idle while they run (2026-12-07, 2 vCPUs: 159 CPU-seconds in 144 s).
The tests marked ``inprocess`` start no process: they compute in the pytest process
(the golden reports' charts, the simulations, the Flask test client's fuzzing). They run
here, in a pytest of their own, in a session of its own at nice 19 with its autogroup
(``lower_priority``): they take the CPU the timing tests leave idle and yield it whenever
a timing test's server or client wants it, as the hog of ``make stress``'s two-core pass
does. Their output is kept and printed after the timing tests' own (all of it if they
failed). Exit 0 only when both runs passed; on Ctrl-C or SIGTERM both are stopped and
reaped.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadtests.harness.procs import lower_priority, run_main, stop_tree  # noqa: E402

#: What runs beside: every in-process test that make test runs.
BESIDE = "inprocess and not timing and not slow"
NICE = 19


def main(argv: list[str] | None = None) -> int:
    pytest = [sys.executable, "-m", "pytest"]
    with tempfile.TemporaryFile("w+") as log:
        # each in a session of its own, as make stress starts its tests: only this script
        # signals them, once (SIGINT: pytest tears its fixtures down)
        beside = subprocess.Popen(
            [*pytest, "-q", "-p", "no:cacheprovider", "-m", BESIDE], cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=lambda: lower_priority(NICE))  # after setsid: its own autogroup
        tests = subprocess.Popen([*pytest, *(sys.argv[1:] if argv is None else argv)],
                                 cwd=ROOT, start_new_session=True)
        try:
            code = tests.wait()
            done = time.monotonic()
            beside_code = beside.wait()
        finally:
            for proc in (tests, beside):
                stop_tree(proc, grace=30.0, whole_group=False, first_signal=signal.SIGINT)
        log.seek(0)
        output = log.read()
    last = (output.strip().splitlines() or ["(no output)"])[-1].strip("= ")
    print(output if beside_code else "", end="")
    print(f"beside them at nice {NICE}, the in-process tests ({BESIDE}): {last}; waited "
          f"{time.monotonic() - done:.0f} s for them after the others", flush=True)
    return code or beside_code


if __name__ == "__main__":
    run_main(main)
