"""Reliability: reload and stop under load, worker timeouts, limits, safe defaults."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from loadtests.load.client import get
from loadtests.servers import CONFIG, ROOT, GunicornServer, ServerSpec, free_port

from .helpers import alive, descendants, wait_for

pytestmark = pytest.mark.integration


def _poll(condition, what: str, deadline_s: float = 30.0, interval: float = 0.05):
    return wait_for(condition, deadline_s, f"timed out waiting for {what}", interval=interval)


class SteadyClient:
    """Threads sending /io?delay=0.05 and /health back to back, recording every outcome."""

    def __init__(self, url: str, threads: int = 4):
        self.url, self.stop = url, threading.Event()
        self.outcomes: list[tuple[str, int | str, int | None]] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, args=(i,)) for i in range(threads)]

    def _loop(self, index: int) -> None:
        path = "/io?delay=0.05" if index % 2 == 0 else "/health"
        while not self.stop.is_set():
            try:
                reply = get(self.url + path, timeout=30)
                outcome = (path, reply.status, reply.body.get("pid"))
            except OSError as error:  # refused, reset, timed out: all failures
                outcome = (path, repr(error), None)
            with self._lock:
                self.outcomes.append(outcome)

    def count(self) -> int:
        with self._lock:
            return len(self.outcomes)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self._threads:
            thread.join()


SPECS = {
    "sync": ServerSpec("sync", workers=2),
    "gthread": ServerSpec("gthread", workers=2, threads=4),
    "gevent": ServerSpec("gevent", workers=2),
    "asgi": ServerSpec("asgi", workers=2),
}


@pytest.mark.parametrize("model", SPECS)
def test_sighup_under_load_loses_no_request(model):
    with GunicornServer(SPECS[model]) as server, SteadyClient(server.url) as client:
        old = set(server.worker_pids())
        _poll(lambda: client.count() >= 20, "traffic before the reload")
        os.kill(server.proc.pid, signal.SIGHUP)
        _poll(lambda: len(new := set(server.worker_pids()) - old) == 2 and new,
              "two new workers after SIGHUP")
        new = set(server.worker_pids())
        _poll(lambda: server.log_text().count("worker ready:") >= 4, "the new workers' app")
        before = client.count()
        _poll(lambda: client.count() >= before + 40, "traffic after the reload")
    failures = [o for o in client.outcomes if o[1] != 200]
    assert not failures, failures[:5]
    served_by = {o[2] for o in client.outcomes if o[2]}
    assert served_by & old and served_by & new  # both generations answered


GRACEFUL = {
    "sync": ServerSpec("sync", workers=3),
    "gthread": ServerSpec("gthread", workers=1, threads=4),
    "gevent": ServerSpec("gevent", workers=1),
    "asgi": ServerSpec("asgi", workers=1),
}


def _in_flight(server: GunicornServer) -> int:
    """Connections the workers have accepted (a request in progress on each)."""
    count = 0
    for pid in server.worker_pids():
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        count += sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED
                     and c.laddr and c.laddr.port == server.port)
    return count


@pytest.mark.parametrize("model", GRACEFUL)
def test_sigterm_lets_in_flight_requests_finish(model):
    server = GunicornServer(GRACEFUL[model])
    server.start()
    try:
        replies = []
        threads = [threading.Thread(target=lambda: replies.append(
            get(server.url + "/io?delay=2", timeout=60))) for _ in range(3)]
        for thread in threads:
            thread.start()
        _poll(lambda: _in_flight(server) >= 3, "three requests in progress")
        stopped_at = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(timeout=30 + 10)  # graceful_timeout + margin
        for thread in threads:
            thread.join()
        assert code == 0
        assert [r.status for r in replies] == [200, 200, 200]
        assert all(r.body["delay"] == 2 for r in replies)
        assert time.monotonic() - stopped_at < 30  # well inside graceful_timeout
    finally:
        server.stop()


# A prime above the default cap: about 5 s of trial division, longer than TIMEOUT=2.
LONG_PRIME = 10**17 - 3


@pytest.mark.parametrize(("model", "killed"), [
    ("sync", True),
    # a claim on scheduling: the worker's main thread takes the GIL back from the computing
    # one and notifies within the 2 s timeout. In the CPU-bound first pass, at its start
    # (five workers starting on two cores), its worker was once killed after 3-5 s; so it
    # runs with the timing tests, where each holds its claim beside one other test
    pytest.param("gthread", False, marks=pytest.mark.timing),
    ("gevent", True), ("asgi", True)])
def test_worker_timeout_kills_only_a_worker_that_cannot_notify(model, killed):
    spec = ServerSpec(model, threads=2 if model == "gthread" else 1, timeout=2,
                      env=(("PRIME_MAX_N", str(10**18)),))
    with GunicornServer(spec) as server:
        (pid,) = server.worker_pids()
        try:
            reply = get(f"{server.url}/prime/{LONG_PRIME}", timeout=60)
            outcome = reply.status
        except OSError:  # the connection died with the worker
            outcome = "disconnected"
        if killed:
            assert outcome != 200
            assert "WORKER TIMEOUT" in server.log_text()
            _poll(lambda: server.worker_pids() and pid not in server.worker_pids(),
                  "a respawned worker")
        else:
            assert outcome == 200
            assert "WORKER TIMEOUT" not in server.log_text()
            assert server.worker_pids() == [pid]
        health = _poll(lambda: _health(server.url), "/health after the timeout")
        assert health.status == 200


def _health(url):
    try:
        reply = get(url + "/health", timeout=5)
    except OSError:
        return None
    return reply if reply.status == 200 else None


@pytest.mark.parametrize("model", ["sync", "gthread", "gevent", "asgi"])
def test_request_line_over_the_limit_is_refused_and_the_worker_survives(serve, model):
    from .helpers import MODELS

    server = serve(MODELS[model])
    request = urllib.request.Request(server.url + "/prime/" + "9" * 5000)
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert 400 <= error.value.code < 500
    assert get(server.url + "/health").status == 200


@pytest.mark.parametrize("model", ["sync", "asgi"])
def test_too_many_headers_are_refused(serve, model):
    from .helpers import MODELS

    server = serve(MODELS[model])
    headers = {f"X-Junk-{i}": "x" for i in range(60)}
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(urllib.request.Request(server.url + "/health", headers=headers),
                               timeout=10)
    assert 400 <= error.value.code < 500


def test_free_port_never_hands_out_a_port_twice():
    """The kernel offers a just-closed port again (measured: 131 repeats in 2000 probes), so
    servers started side by side could be given one port; free_port remembers its own."""
    ports = [free_port() for _ in range(1000)]
    assert len(set(ports)) == len(ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # and it is free


def test_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "-b", f"127.0.0.1:{port}"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 2
    # gunicorn's own "Starting gunicorn" log line may come first; the error is one line.
    errors = [line for line in result.stderr.splitlines() if not line.startswith("[")]
    assert errors == [f"gunicorn.conf.py: cannot listen on 127.0.0.1:{port}: "
                      "Address already in use"], result.stderr
    assert "Traceback" not in result.stderr


def test_safe_defaults():
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "--print-config"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k not in ("BIND", "WORKER_CLASS")},
    )
    pairs = (line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    config = {key.strip(): value.strip() for key, value in pairs}
    assert config["bind"] == "['127.0.0.1:8000']"
    assert config["limit_request_line"] == "4094"
    from webapp.wsgi import app

    assert app.debug is False and app.testing is False


#: The commands interrupted: the probe, and the matrix with each of its backends up.
INTERRUPTED = {
    "probe": ["loadtests.probe"],
    "matrix": ["loadtests.matrix", "--scenarios", "io", "--models", "gevent", "--duration", "60"],
    # the Celery cell alone (no 60 s pool cell first): interrupted with its redis-server and
    # Celery up
    "matrix-celery": ["loadtests.matrix", "--scenarios", "offload", "--models", "gevent",
                      "--offload", "celery", "--warmup", "0.5", "--duration", "60"],
    "matrix-nginx": ["loadtests.matrix", "--scenarios", "io", "--models", "gevent",
                     "--duration", "60", "--proxy", "nginx"],
    # a database cell: interrupted with its cluster up
    "matrix-db": ["loadtests.matrix", "--scenarios", "dbbeat", "--models", "gevent",
                  "--warmup", "0.5", "--duration", "60"],
}


# Ctrl-C on every command; SIGTERM on the probe and the database cell only: run_main turns
# SIGTERM into SystemExit where Ctrl-C raises KeyboardInterrupt, and from there both unwind
# the same ``with`` blocks (no code of the lab's but run_main names either exception), so
# SIGTERM on each backend again would run the same path, at 2-4 CPU-seconds a backend.
@pytest.mark.parametrize(("signum", "command"), [
    *(pytest.param(signal.SIGINT, command, id=f"SIGINT-{name}")
      for name, command in INTERRUPTED.items()),
    *(pytest.param(signal.SIGTERM, INTERRUPTED[name], id=f"SIGTERM-{name}")
      for name in ("probe", "matrix-db"))])
def test_no_process_survives_an_interrupted_command(tmp_path, lab, command, signum):
    if command[0] == "loadtests.matrix":
        command = [*command, "--out", str(tmp_path)]
    proc = lab(*command)
    seen: dict[int, psutil.Process] = {}
    wanted = {"gunicorn", "locust"} if "matrix" in command[0] else {"gunicorn"}
    if "offload" in command:
        wanted |= {"celery", "redis-server"}
    if "--proxy" in command:
        wanted |= {"nginx"}
    if "dbbeat" in command:
        wanted |= {"postgres"}

    def started():
        assert proc.poll() is None, proc.stdout.read()
        seen.update(descendants(proc.pid))
        return wanted <= {_kind(p) for p in seen.values()}

    _poll(started, "the command's servers", deadline_s=120)
    clusters = [Path(p.cmdline()[p.cmdline().index("-D") + 1]).parent for p in seen.values()
                if _kind(p) == "postgres" and "-D" in p.cmdline()]
    assert clusters or "dbbeat" not in command
    os.kill(proc.pid, signum)
    proc.wait(timeout=60)
    assert proc.returncode in (130, 128 + signal.SIGTERM)
    assert not alive(seen.values())
    assert not any(folder.exists() for folder in clusters)  # the database's cluster too


# A child started where no ``with`` block will stop it: what a signal landing between
# ``Popen`` and the line that registers the child's stop leaves behind.
LEAKY_MAIN = """
import subprocess, sys
from loadtests.harness.procs import run_main
def main():
    child = subprocess.Popen(["sleep", "600"], start_new_session=True)
    print(child.pid, flush=True)
    return 0
run_main(main)
"""


def test_run_main_reaps_a_child_no_block_stopped():
    done = subprocess.run([sys.executable, "-c", LEAKY_MAIN], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    pid = int(done.stdout.split()[0])
    assert done.returncode == 0, done.stderr
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert "stopped 1 leftover process(es): sleep" in done.stderr


def _kind(proc: psutil.Process) -> str:
    try:
        line = " ".join(proc.cmdline())
    except psutil.NoSuchProcess:
        return ""
    for kind in ("gunicorn", "locust", "celery", "redis-server", "nginx", "postgres"):
        if kind in line:
            return kind
    return ""


@pytest.mark.parametrize(("model", "query", "killed"), [
    ("sync", "", True), ("gthread", "", False), ("gevent", "", False), ("asgi", "", False),
    ("asgi", "&blocking=1", True),  # time.sleep in a coroutine: the loop cannot notify
])
def test_a_long_io_wait_times_out_only_a_sync_worker(model, query, killed):
    # 6 s, three timeouts: the asgi worker takes SIGABRT through its blocked loop, so only the
    # arbiter's SIGKILL a pass later ends it, 2.5-3.9 s after the request (a 3.5 s block that
    # was logged as WORKER TIMEOUT still answered 200)
    spec = ServerSpec(model, threads=2 if model == "gthread" else 1, timeout=2)
    with GunicornServer(spec) as server:
        try:
            outcome = get(f"{server.url}/io?delay=6{query}", timeout=60).status
        except OSError:
            outcome = "disconnected"
        assert (outcome != 200) is killed
        assert ("WORKER TIMEOUT" in server.log_text()) is killed
