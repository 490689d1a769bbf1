"""Run Locust headless as a subprocess and read back its ``--csv`` statistics.

Locust monkey-patches everything with gevent when imported, so the runner
keeps it in its own process (or ``--processes N`` of them) and talks to it
through its command line, its log and its CSV files.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from webapp.work.primes import QUICK_PRIME

from ..harness.cpu import CpuMeter
from ..harness.poll import wait_until
from ..harness.process import Process
from .wire import DB_WAIT_ROW, RESET_MESSAGE, STOP_MESSAGE, WORK_ROW

__all__ = ["DB_WAIT_ROW", "RESET_MESSAGE", "WORK_ROW", "Load", "LocustRun", "Summary", "number"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


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
            # the locustfile stops the run at warm-up + duration; Locust's -t, which takes
            # whole seconds, is the backstop. The measured window is read back, not assumed.
            "--stop-after", f"{self.warmup + self.duration:g}",
            "-t", f"{math.ceil(self.warmup + self.duration)}s",
            "--warmup", f"{self.warmup:g}", "--delay", f"{self.delay:g}",
            "--prime-n", str(self.prime_n), "--mb", str(self.mb),
            "--heartbeat-interval", f"{self.heartbeat_interval:g}", *self.extra,
            "--summary", str(csv_prefix), "--only-summary", "--exit-code-on-error", "0",
        ]
        if self.processes > 1:
            command += ["--processes", str(self.processes)]
        return command


def number(text: str | None) -> float | None:
    """A number from Locust's CSV ("N/A" and blanks: None)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


@dataclass
class Summary:
    """Locust's final statistics, one row per request name ("Aggregated" included)."""

    rows: dict[str, dict[str, str]]
    window_s: float  # from the warm-up reset to the stop
    window_wall: tuple[float, float] = (0.0, 0.0)  # the same, as time.time() at each end

    @classmethod
    def read(cls, prefix: Path) -> Summary:
        with open(f"{prefix}_stats.csv", newline="") as handle:
            rows = {row["Name"]: row for row in csv.DictReader(handle)}
        window = json.loads(Path(f"{prefix}_window.json").read_text())
        return cls(rows, window["stopped"] - window["started"],
                   (window["started"], window["stopped"]))


class LocustRun(Process):
    """One Locust load as a subprocess, started early and held at a gate until :meth:`go`.

    Locust takes about a second to start; the runner starts it while the cell's
    server boots and its S is timed, then opens the gate (a file the locustfile
    waits for before any user or timer starts). Stopped like every process the lab
    starts: SIGTERM to its session, SIGKILL after the grace, all of it reaped.
    """

    name = "locust"

    def __init__(self, load: Load, host: str, csv_prefix: Path, log_path: Path):
        super().__init__(log_path=log_path)
        self.load, self.host, self.csv_prefix = load, host, csv_prefix
        self.gate = Path(f"{csv_prefix}.gate")
        self.gate.unlink(missing_ok=True)
        self.launch()

    def launch_argv(self) -> list[str]:
        return [*self.load.argv(self.host, self.csv_prefix), "--gate", str(self.gate)]

    def go(self) -> None:
        self.gate.touch()

    def wait(self, meter: CpuMeter) -> Summary:
        """Let the load run; ``meter`` measures from the end of its warm-up to its stop."""
        self.go()

        def finished() -> bool:
            # the log read before the exit is acted on: a run whose stop and exit fell
            # between two polls (a busy machine) still closes its meter
            exited = self.proc.poll() is not None
            log = self.log_path.read_text(errors="replace")
            if meter.is_open and STOP_MESSAGE in log:
                meter.close()  # Locust stops its users now; all its processes still run
            elif not (meter.is_open or meter.closed or exited) and RESET_MESSAGE in log:
                meter.open()
            return exited

        wait_until(finished, self.load.warmup + self.load.duration + 60, fail=lambda _: (
            TimeoutError(f"locust did not finish; see {self.log_path}")))
        if self.proc.returncode != 0:
            raise RuntimeError(f"locust exited with {self.proc.returncode}; see {self.log_path}")
        if not meter.closed:
            raise RuntimeError(f"locust's log never showed its warm-up and stop; "
                               f"see {self.log_path}")
        return Summary.read(self.csv_prefix)

    def cleanup(self) -> None:
        self.gate.unlink(missing_ok=True)

    def __enter__(self) -> LocustRun:
        return self
