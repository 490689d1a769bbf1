"""The harness: free ports (LAB_PORTS keeps a process's ports inside a range of its own), the
one poll-with-deadline, and the one process lifecycle."""

from __future__ import annotations

import socket
import sys

import pytest

from loadtests.harness.ports import free_port
from loadtests.harness.process import Process, ProcessError

from .helpers import alive


def test_lab_ports_draws_free_ports_from_its_range_only(monkeypatch):
    with socket.socket() as taken:  # a port of the range that is in use is never handed out
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        taken.listen()
        monkeypatch.setenv("LAB_PORTS", f"{port}-{port + 40}")
        ports = [free_port() for _ in range(20)]
    assert all(port < p <= port + 40 for p in ports), ports
    assert len(set(ports)) == len(ports)


def test_wait_until_returns_the_first_true_result_and_names_what_it_waited_for():
    from loadtests.harness.poll import wait_until

    calls = []
    assert wait_until(lambda: calls.append(1) or (len(calls) >= 3 and "ready"), 5,
                      interval=0) == "ready"
    assert len(calls) == 3
    with pytest.raises(TimeoutError, match=r"the moon after 0\.1 s"):
        wait_until(lambda: False, 0.1, "the moon", interval=0.01)
    assert wait_until(lambda: 0, 0.05, interval=0.01, fail=None) == 0


class _Sleeper(Process):
    """A process that is ready once it has written its line, and that ignores SIGTERM."""

    name = "sleeper"
    stop_grace = 0.5

    def __init__(self, code: str, **kwargs):
        super().__init__(**kwargs)
        self.code = code

    def launch_argv(self) -> list[str]:
        return [sys.executable, "-c", self.code]

    def is_ready(self) -> bool:
        return "up" in self.log_text()


STUBBORN = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "print('up', flush=True); time.sleep(60)")


def test_a_process_and_what_it_started_are_reaped_even_when_it_ignores_sigterm():
    with _Sleeper(STUBBORN) as proc:
        family = proc.processes()
        assert len(family) == 2  # the process and its child
        log = proc.log_path
        assert log.exists()
    assert proc.proc is None and not alive(family) and not log.exists()


def test_a_process_that_never_starts_leaves_no_log_file(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    _Sleeper("pass")  # as a service whose program is missing: built, then dropped
    read_only = _Sleeper("pass")
    assert read_only.log_text() == ""  # its log read before a start makes the file ...
    read_only.stop()  # ... and a stop without a start removes it
    assert list(tmp_path.iterdir()) == []


def test_a_process_that_exits_before_it_is_ready_fails_with_its_log():
    proc = _Sleeper("import sys; print('no luck'); sys.exit(3)")
    with pytest.raises(ProcessError, match="sleeper exited with 3:\nno luck"):
        proc.start()
    assert proc.proc is None


def test_a_process_never_ready_is_stopped_after_its_timeout():
    proc = _Sleeper("import time; time.sleep(60)")
    proc.ready_timeout = 0.3
    with pytest.raises(ProcessError, match=r"sleeper not ready after 0\.3 s"):
        proc.start()
    assert proc.proc is None


def test_the_longest_files_exist_and_are_listed_longest_first():
    """make test's parallel pass starts them first (tests/conftest.py): a renamed file would
    silently fall back to collection order."""
    from pathlib import Path

    from .helpers import LONGEST

    here = Path(__file__).parent
    assert all((here / name).is_file() for name in LONGEST), LONGEST
    assert list(LONGEST.values()) == sorted(LONGEST.values(), reverse=True)
