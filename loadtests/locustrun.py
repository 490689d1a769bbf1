"""Run Locust headless as a subprocess and read back its ``--csv`` statistics.

Locust monkey-patches everything with gevent when imported, so the runner
keeps it in its own process (or ``--processes N`` of them) and talks to it
through its command line, its log and its CSV files.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from webapp.primes import QUICK_PRIME

from .cpu import CpuMeter
from .procs import stop_tree
from .server import ROOT

LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
# Logged by the locustfile when the warm-up ends and statistics restart.
RESET_MESSAGE = "lab: warm-up over, statistics reset"
# Logged by Locust itself when -t runs out.
STOP_MESSAGE = "--run-time limit reached"


@dataclass(frozen=True)
class Load:
    """What Locust should do: which scenario (tag), how many users, for how long."""

    tag: str
    users: int
    duration: float
    warmup: float = 1.0
    delay: float = 0.1
    prime_n: int = QUICK_PRIME
    heartbeat_interval: float = 0.05
    processes: int = 1
    mb: int = 64
    extra: tuple[str, ...] = ()  # more locustfile flags, e.g. ("--nap",)

    def argv(self, host: str, csv_prefix: Path) -> list[str]:
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--host", host, "--tags", self.tag,
            "-u", str(self.users), "-r", str(self.users),
            # Locust takes whole seconds; the measured window is read back, not assumed.
            "-t", f"{math.ceil(self.warmup + self.duration)}s",
            "--warmup", f"{self.warmup:g}", "--delay", f"{self.delay:g}",
            "--prime-n", str(self.prime_n), "--mb", str(self.mb),
            "--heartbeat-interval", f"{self.heartbeat_interval:g}", *self.extra,
            "--summary", str(csv_prefix), "--only-summary", "--exit-code-on-error", "0",
        ]
        if self.processes > 1:
            command += ["--processes", str(self.processes)]
        return command


@dataclass
class Summary:
    """Locust's final statistics, one row per request name ("Aggregated" included)."""

    rows: dict[str, dict[str, str]]
    window_s: float  # from the warm-up reset to the stop

    @classmethod
    def read(cls, prefix: Path) -> Summary:
        with open(f"{prefix}_stats.csv", newline="") as handle:
            rows = {row["Name"]: row for row in csv.DictReader(handle)}
        window = json.loads(Path(f"{prefix}_window.json").read_text())
        return cls(rows, window["stopped"] - window["started"])


def run_locust(load: Load, host: str, csv_prefix: Path, log_path: Path, meter: CpuMeter,
               locust_group: list[int]) -> Summary:
    """Run one Locust load; ``meter`` measures from the end of its warm-up to its stop.

    ``locust_group`` receives the Locust pid, so the meter's "locust" group can find it.
    """
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            load.argv(host, csv_prefix), cwd=ROOT, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    locust_group.append(proc.pid)
    deadline = time.monotonic() + load.warmup + load.duration + 60
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"locust did not finish; see {log_path}")
            log = log_path.read_text(errors="replace")
            if not meter.is_open and not meter.closed and RESET_MESSAGE in log:
                meter.open()
            elif meter.is_open and STOP_MESSAGE in log:
                meter.close()  # Locust stops its users now; all its processes still run
            time.sleep(0.05)  # polling interval
        if proc.returncode != 0:
            raise RuntimeError(f"locust exited with {proc.returncode}; see {log_path}")
        if not meter.closed:
            raise RuntimeError(f"locust's log never showed its warm-up and stop; see {log_path}")
    finally:
        stop_tree(proc)
    return Summary.read(csv_prefix)
