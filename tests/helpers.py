"""Shared test helpers: the specs the tests serve, polling with a deadline, processes, and
heartbeats sent while a long request keeps a process computing."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from loadtests.harness.poll import wait_until as poll
from loadtests.harness.procs import alive
from loadtests.load.client import Reply, get
from loadtests.servers import ROOT, ServerSpec
from loadtests.servers.base import RESET_SIGINT
from webapp.work.primes import QUICK_PRIME

SYNC = ServerSpec("sync", workers=1)
GTHREAD = ServerSpec("gthread", workers=1, threads=4)
GEVENT = ServerSpec("gevent", workers=1)
ASGI = ServerSpec("asgi", workers=1)
MODELS = {"sync": SYNC, "gthread": GTHREAD, "gevent": GEVENT, "asgi": ASGI}
#: Apps of "yours" (not the lab's), served with --chdir: tests/apps.
APPS = ROOT / "tests" / "apps"


def missing(error: Exception):
    """A program the tests need is missing: skip with its install line, but fail under CI."""
    import os

    if os.environ.get("CI") == "true":
        pytest.fail(f"{error} (CI=true: nothing may be skipped)")
    pytest.skip(str(error))


def cmdline(proc: psutil.Process) -> list[str]:
    """The process's command line (empty once it is gone)."""
    try:
        return proc.cmdline()
    except psutil.NoSuchProcess:
        return []


def descendants(pid: int) -> dict[int, psutil.Process]:
    """Every process below ``pid`` now, by pid (empty once it is gone)."""
    try:
        return {p.pid: p for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return {}


def tcp_queues(port: int) -> dict[tuple[int, int], tuple[int, int]]:
    """Each established IPv4 connection with an end on ``port``, by (local port, remote
    port): its (send, receive) queue in bytes, from ``/proc/net/tcp``. Both ends of a
    loopback connection are listed, each from its own side."""
    rows = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(end.rsplit(":", 1)[1], 16) for end in fields[1:3])
        if fields[3] == "01" and port in (local, remote):
            send, receive = (int(queue, 16) for queue in fields[4].split(":"))
            rows[local, remote] = (send, receive)
    return rows


def wait_for(check, timeout: float, what: str, *, interval: float = 0.05, fail=AssertionError):
    """Poll ``check`` until it returns something true (returned); fail with ``what`` after
    ``timeout`` seconds (``fail=None``: return the last false result). The lab's one
    poll-with-deadline, :func:`loadtests.harness.poll.wait_until`."""
    return poll(check, timeout, what, interval=interval,
                fail=fail and (lambda _: fail(what)))


def cpu_over(pid: int, seconds: float) -> float:
    """CPU seconds ``pid`` used over the next ``seconds`` (a sampling window)."""
    start = cpu_seconds(pid)
    time.sleep(seconds)  # the window measured over, not synchronisation
    return cpu_seconds(pid) - start


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


#: A run held to one core that fails its claim is taken again when the hypervisor took this
#: much of that core while it ran (ms; /proc/stat counts steal in 10 ms ticks, so one tick
#: passes), or when the machine woke the process late: a claim made "on one core" was not
#: measured on one then. The generator's send lag at 1,000/s failed a CI run with 310 ms
#: stolen in its 3 s (p99 2.16 ms), its gaps' fit beside it; by hand it failed with no tick
#: of steal, where its sleeps ended 3-4 ms past their due time with 0.1-0.3 ms of its CPU
#: in them (plain ``time.sleep`` on the VM overslept as much, now and then: a wake the
#: host gave late).
STOLEN_MS = 20
#: The most runs :func:`retaken` takes.
STOLEN_RUNS = 3


def retaken(measure, holds, disturbed):
    """``measure()``'s result to judge a claim by: taken again, up to :data:`STOLEN_RUNS`
    runs, while the claim fails (``holds(result)`` is false) in a run the machine disturbed
    (``disturbed(result)``, the caller's measure of it). A run that holds is returned,
    disturbed or not (a disturbance only takes from the run); so is one that fails
    undisturbed, and the last: the caller's assertion then fails on it."""
    for _ in range(STOLEN_RUNS):
        result = measure()
        if holds(result) or not disturbed(result):
            return result
    return result


def on_its_core(measure, core: int, holds, late):
    """:func:`retaken` for a claim on one core: the run was disturbed when the hypervisor
    took :data:`STOLEN_MS` or more of ``core`` while it ran, or the measured process counted
    wakes the machine gave it late (``late(result)``)."""
    def stolen_ms() -> float:
        return psutil.cpu_times(percpu=True)[core].steal * 1000

    def measured():
        before = stolen_ms()
        result = measure()
        return result, stolen_ms() - before

    result, _ = retaken(measured, lambda run: holds(run[0]),
                        lambda run: run[1] >= STOLEN_MS or late(run[0]))
    return result


def health_during(server, path: str, busy_pid: int, deadline_s: float = 20.0
                  ) -> tuple[list[Reply], float]:
    """Start ``path``; once ``busy_pid`` visibly computes, send /health until ``path`` answers.

    Readiness is the busy process's CPU time (an idle one uses ~0), polled with a
    deadline. Returns the /health replies, all sent after the work started, and the
    earliest moment the work can have finished: the request's send time plus the
    time the server says it spent.
    """
    baseline = cpu_seconds(busy_pid)
    result: dict[str, Reply] = {}
    request = threading.Thread(target=lambda: result.update(reply=get(server.url + path)))
    request.start()
    wait_for(lambda: cpu_seconds(busy_pid) - baseline >= 0.1, deadline_s,
             "the work never started", interval=0.01)
    healths = []
    while request.is_alive():
        healths.append(get(server.url + "/health"))
    request.join()
    reply = result["reply"]
    assert reply.status == 200 and reply.body["prime"] is True
    assert healths, "no /health was sent while the work ran"
    return healths, reply.sent + reply.body["elapsed"]


def upload(url: str, size: int) -> dict:
    """POST ``size`` zero bytes to ``url``/upload; its JSON answer."""
    request = urllib.request.Request(url + "/upload", data=bytes(size), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def running(marker: str, **env: str) -> list[psutil.Process]:
    """The processes, other than this one, whose command line names ``marker`` (and whose
    environment has ``env``: tests running the same app side by side tell theirs apart)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if marker in " ".join(proc.cmdline()) and proc.pid != psutil.Process().pid and (
                    not env or env.items() <= proc.environ().items()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def run_advise(*args: str, timeout: float = 150) -> subprocess.CompletedProcess:
    """``python -m loadtests.advise *args`` from the project's root, its output captured."""
    return subprocess.run([sys.executable, "-m", "loadtests.advise", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def advise(app: str, url: str, out) -> dict:
    """``python -m loadtests.advise --quick`` on ``app``'s ``/orders/42`` with ``DATABASE_URL``
    set: its advice.json, after checking it exited 0 and left nothing running."""
    import json
    import os
    import subprocess
    import sys

    from loadtests.servers import ROOT

    done = subprocess.run([sys.executable, "-m", "loadtests.advise", "--app", app,
                           "--path", "/orders/42", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=os.environ | {"DATABASE_URL": url})
    assert done.returncode == 0, done.stderr + done.stdout[-3000:]
    assert not alive(running(app, DATABASE_URL=url))
    return json.loads((out / "advice.json").read_text())


#: Bad input both twins answer with the same 4xx JSON (the Flask app and the ASGI app).
BAD_INPUT = [
    "/prime/-1", "/prime/abc", "/prime/1.5", f"/prime/{10**17}", "/prime/7?nap=2",
    "/prime/7?nap=1&thread=1", "/io?delay=nan", "/io?delay=-1", "/io?delay=11",
    "/io?delay=0&blocking=yes", "/hash?mb=0", "/hash?mb=257", "/hash?mb=1.5",
    "/spin/7?nap=1&offload=1", "/spin/x", "/offload/prime/-5", "/nope", "/prime/7/8",
    "/io?delay=nan&delay=0",  # the first value counts, as in Flask
    "/download?mb=0", "/download?mb=65", "/download?unbuffered=yes", "/upload",
    "/mixed?delay=-1", "/mixed?n=x", f"/mixed?n={10**17}", "/mixed?n=",
]


def lab_command(*args: str, **kwargs) -> subprocess.Popen:
    """``python -m ARGS`` started from the checkout, its output piped, as a terminal starts
    it: SIGINT at its default, so that the test's SIGINT is a Ctrl-C even where the tests
    run as a shell's background job (which ignores SIGINT, and passes that on). The servers'
    own reset, :data:`loadtests.servers.base.RESET_SIGINT`, then exec: the same pid."""
    return subprocess.Popen([sys.executable, "-c", RESET_SIGINT, sys.executable, "-m", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **kwargs)


def matrix_process(*args, **kwargs) -> subprocess.Popen:
    """``python -m loadtests.matrix ARGS`` started, its output piped (:func:`lab_command`)."""
    return lab_command("loadtests.matrix", *args, **kwargs)


def run_matrix(*args, timeout: float = 600) -> str:
    """Run the matrix to its end; assert it succeeded and that none of its processes is left."""
    proc = matrix_process(*args)
    seen: dict[int, psutil.Process] = {}

    def ended() -> bool:
        seen.update(descendants(proc.pid))
        return proc.poll() is not None

    try:
        wait_for(ended, timeout, f"the matrix still ran after {timeout:g} s", interval=0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.stdout.read()
    assert proc.returncode == 0, output
    assert not alive(seen.values())
    return output


#: Seconds a page's by-hand scripts may take together (tests/test_try.py).
TRY_DEADLINE_S = 90
#: Seconds a by-hand script's servers get to stop after its last line (its ``kill``).
TRY_STOP_S = 15
#: Run times on the pages, and in the tests: Locust's ``-t``, the loads' ``--duration`` and
#: the open load's ``--phase`` seconds (1 s each: what a script's test checks -- it runs,
#: prints no traceback and no 5xx, leaves nothing -- needs no longer, and the load's CPU is
#: make test's budget), ``make probe``'s requests and ``make lesson``'s windows; and the
#: slow prime of the pages' curls (9999999999999917: 2.8 s of one core each, 13 of them in
#: the scripts) as the quick fixture prime (0.3 s).
SHORTER = ((re.compile(r"(?<= )-t \d+s\b"), "-t 1s"),
           (re.compile(r"\b9999999999999917\b"), str(QUICK_PRIME)),
           (re.compile(r"(?<= )--duration \d+\b"), "--duration 1"),
           (re.compile(r"(?<= --phase )(\d+):\d+\b"), r"\1:1"),
           (re.compile(r"^make probe(?= )", re.M),
            'make probe ARGS="--io-requests 4 --cpu-requests 2 --delay 0.2"'),
           (re.compile(r"^make lesson (L=\w+)$", re.M),
            r'make lesson \1 ARGS="--warmup 0.5 --duration 1"'))


#: What a reader must never see from a by-hand script: a traceback, or a server's answer
#: that it failed (the app's JSON errors carry their status).
FAILED = re.compile(r'Traceback \(most recent call last\)|"status": ?5\d\d')

#: Not linked into a script's checkout: git's own folder, and what a script writes there
#: (kept in the test's folder).
WRITTEN = frozenset({".git", "reports", "traces", "timeline.png", "timeline.svg", "trace.json"})


def linked_checkout(where: Path) -> Path:
    """The repository as links, in ``where``: a script pasted at its root runs as there,
    but what it writes (``traces/``, ``timeline.png``, ``reports/``) lands in ``where``."""
    where.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in WRITTEN:
            (where / entry.name).symlink_to(entry)
    return where


def run_page(page: str, namespace: str, tmp_path) -> None:
    """Run a page's by-hand scripts (docs/try/) in one ``bash -e`` inside ``namespace``,
    from a linked checkout, as pasted but for their run times (:data:`SHORTER`). Fail with
    the output unless they exit 0 within :data:`TRY_DEADLINE_S`, print nothing
    :data:`FAILED`, and leave nothing running: what they started stops within
    :data:`TRY_STOP_S` of their end (their own ``kill`` lines). The namespace's deletion
    then kills whatever is left, on any path."""
    from loadtests.cluster.network import delete_netns, netns_pids
    from loadtests.site.scripts import groups

    text = "\n".join(path.read_text() for path in groups()[page])
    for pattern, shorter in SHORTER:
        text = pattern.sub(shorter, text)
    script = tmp_path / f"{page}.sh"
    script.write_text(text)
    checkout = linked_checkout(tmp_path / "checkout")
    venv = os.path.dirname(sys.executable)  # the pages say: after `. .venv/bin/activate`
    env = {**os.environ, "PATH": f"{venv}:{os.environ['PATH']}",
           "VIRTUAL_ENV": os.path.dirname(venv)}
    log = tmp_path / "out.log"
    left: list[str] = []
    with open(log, "wb") as out:
        proc = subprocess.Popen(["ip", "netns", "exec", namespace, "bash", "-e", str(script)],
                                cwd=checkout, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            status = proc.wait(timeout=TRY_DEADLINE_S)
            if not wait_for(lambda: not netns_pids(namespace), TRY_STOP_S, "", fail=None):
                left = [_command(pid) for pid in netns_pids(namespace)]
        except subprocess.TimeoutExpired:
            status = None
        finally:
            delete_netns(namespace)  # the servers it started, whatever happened
            proc.kill()
            proc.wait()
    output = log.read_text(errors="replace")
    assert status == 0, f"docs/try/{page}*.sh: status {status}\n{output[-3000:]}"
    wrong = FAILED.search(output)
    assert not wrong, (f"docs/try/{page}*.sh printed {wrong[0]!r}:\n"
                       f"{output[max(0, wrong.start() - 1500):wrong.end() + 1500]}")
    assert not left, f"docs/try/{page}*.sh left running {left}\n{output[-3000:]}"


def _command(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())[:120]
    except psutil.Error:
        return str(pid)


#: The longest test files, longest first, with their seconds in make test's parallel pass (2-vCPU
#: CI machine, 2026-12-07, each test's wall from ``LAB_TEST_CPU``, summed per file; the files
#: marked ``inprocess`` run beside the timing tests instead). That pass
#: hands out whole files (``--dist loadfile``) in collection order (``--no-loadscope-reorder``),
#: each to the worker that is free first: started longest first, none of them starts last and
#: runs alone while the other workers idle (``test_try.py``, once last, ran to 310 s of a pass
#: whose files add up to 270 s a worker; with 19 files listed, ``test_opentraffic.py``, 52 s,
#: started at 253 s and ended the pass at 305 s, where longest-first of these 26 ends every
#: worker by 288 s). ``tests/test_harness.py`` checks the names.
LONGEST = {"test_hosts.py": 235, "test_try.py": 217, "test_reliability.py": 136,
           "test_brokers.py": 135, "test_slowclients.py": 121, "test_advise_db.py": 107,
           "test_advise_goal.py": 84, "test_opentraffic.py": 80, "test_offload_celery.py": 79,
           "test_db.py": 56, "test_try_services.py": 50, "test_timeline.py": 49,
           "test_advise_python.py": 46, "test_servers.py": 46, "test_docs.py": 45,
           "test_teaching.py": 36, "test_matrix.py": 33, "test_endpoints.py": 31,
           "test_overload.py": 27, "test_advise.py": 26, "test_openloop.py": 19,
           "test_gunicorn_conf.py": 19, "test_offload_dirty.py": 18, "test_slowwatch.py": 11,
           "test_wrk.py": 10, "test_fuzz.py": 7}


#: Seconds from the broker ready again to the first right answer: the issue's bound.
RECOVERY_S = 5.0
#: Each broker's outages' planned lengths, in seconds: short ones, and one that kombu's old
#: back-off (tries 2, 6, 12, 20 s after the loss) would have answered only at 20 s: Redis back about
#: 13 s after the loss (the 503 call meanwhile takes a second), the answer about 7 s late
#: (measured without ``Reconnecting``: this test failed).
OUTAGES_S = (0.2,) * 9 + (12.0,)


def broker_restarts(server, stop, start, outages) -> list[float]:
    """Each outage: the broker stopped, the broker back, then the seconds until a call
    answered right; in the first and the last outage a call meanwhile, a 503 JSON (with
    Redis it takes its 1 s connect timeout, a second a round the others need not pay)."""
    recoveries = []
    for index, outage in enumerate(outages):
        stop()
        if index in (0, len(outages) - 1):
            reply = get(f"{server.url}/offload/prime/7", timeout=10)
            assert reply.status == 503 and reply.body["status"] == 503, reply.body
        time.sleep(outage)  # the outage's planned length, not synchronisation
        start()
        back = time.monotonic()
        wait_for(lambda: get(f"{server.url}/offload/prime/7", timeout=30).body.get("prime")
                 is True, 30, "offload after the broker came back")
        recoveries.append(time.monotonic() - back)
    return recoveries


@contextlib.contextmanager
def silent_listener(answer_after: float = math.inf):
    """A listener on 127.0.0.1 that keeps its first ``answer_after`` connections open and
    silent, and answers every later request ``{}`` at once (a frozen loop; a first attempt
    that times out and a retry that is answered); yields its URL, and closes the listener
    and every connection it held at the end."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the end
                return
            if len(held) < answer_after:
                held.append(conn)
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n"
                             b"\r\n{}")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        listener.close()
        thread.join(5)
        for conn in held:
            conn.close()


#: Linux's SO_TIMESTAMPNS (``socket`` names it from Python 3.14 only): each read's
#: ancillary data carries the time the kernel received it, in the wall clock.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


class Stub:
    """An HTTP/1.1 server that answers ``{}`` at once, a thread per connection, and records
    when each request arrived: the kernel's receive timestamp (SO_TIMESTAMPNS), so that the
    stub's own scheduling on a busy machine cannot bunch the arrivals it records."""

    def __init__(self, cores: set[int] | None = None):
        self.arrivals: list[float] = []
        #: each request as it arrived: its first read's bytes
        self.requests: list[bytes] = []
        #: the cores its threads run on (None: any)
        self.cores = cores
        self.listener = socket.create_server(("127.0.0.1", 0))
        # on the listener, so that a connection has it from its first byte (accepted
        # sockets inherit it; set after the accept, a first request already queued has none)
        self.listener.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.port = self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self.accept, daemon=True)]

    def __enter__(self):
        self.threads[0].start()
        return self

    def __exit__(self, *exc):
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for thread in self.threads:
            thread.join(5)

    def accept(self) -> None:
        if self.cores:
            os.sched_setaffinity(0, self.cores)  # this thread's, and the threads it starts
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def serve(self, conn: socket.socket) -> None:
        with conn:
            while True:  # one request per read: the client waits for each answer
                try:
                    data, ancillary, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16))
                except ConnectionResetError:  # a client stopped (Locust's users at its end)
                    return
                if not data:
                    return
                self.requests.append(self.whole(conn, data))
                for level, kind, stamp in ancillary:
                    if (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMPNS):
                        seconds, nanoseconds = struct.unpack("qq", stamp)
                        self.arrivals.append(seconds + nanoseconds / 1e9)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    @staticmethod
    def whole(conn: socket.socket, data: bytes) -> bytes:
        """The request ``data`` begins, read to the end of its headers and its body (a
        client may send the body in a write of its own)."""
        while b"\r\n\r\n" not in data and (more := conn.recv(65536)):
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length and (more := conn.recv(65536)):
            body += more
        return head + b"\r\n\r\n" + body
