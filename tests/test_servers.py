"""The other servers (uvicorn, uvicorn-worker, granian, waitress): each serves the lab's twins
under the same contract, is stopped and reaped on every path, and behaves as its module says.
"""

from __future__ import annotations

import math
import os
import signal
import socket
from pathlib import Path

import psutil
import pytest

from loadtests.load.client import get
from loadtests.load.trickle import SlowClients, SlowReader
from loadtests.servers import SERVERS, ServerError, ServerSpec, launch
from webapp import create_app

from .helpers import BAD_INPUT, alive, cmdline, descendants, tcp_queues, wait_for

pytestmark = pytest.mark.integration

UVICORN = ServerSpec("asgi", server="uvicorn")
UVICORN_WORKER = ServerSpec("asgi", server="uvicorn-worker")
GRANIAN_ASGI = ServerSpec("asgi", server="granian")
GRANIAN_WSGI = ServerSpec("wsgi", threads=4, server="granian")
WAITRESS = ServerSpec("wsgi", threads=2, server="waitress")
PEERS = {"uvicorn": UVICORN, "uvicorn-worker": UVICORN_WORKER, "granian-asgi": GRANIAN_ASGI,
         "granian-wsgi": GRANIAN_WSGI, "waitress": WAITRESS}


def test_every_server_has_a_module_and_the_lab_model_of_its_spec():
    assert set(SERVERS) == {"gunicorn", "uvicorn", "uvicorn-worker", "granian", "waitress"}
    models = {name: (spec.model, spec.slots) for name, spec in PEERS.items()}
    assert models == {"uvicorn": ("asgi", math.inf), "uvicorn-worker": ("asgi", math.inf),
                      "granian-asgi": ("asgi", 1024), "granian-wsgi": ("gthread", 4),
                      "waitress": ("gthread", 2)}
    # granian's backpressure is backlog ÷ workers per worker: the same total for two
    assert ServerSpec("asgi", workers=2, server="granian").slots == 1024
    assert ServerSpec("wsgi", workers=2, threads=8, server="granian").slots == 16


def test_granian_is_always_told_its_interface():
    for spec in (GRANIAN_ASGI, GRANIAN_WSGI):
        argv = spec.runs_on.argv(spec, 8000)
        assert argv[argv.index("--interface") + 1] == spec.worker_class  # never its rsgi
    with pytest.raises(ValueError, match="asgi or wsgi"):
        ServerSpec("rsgi", server="granian").runs_on.argv(ServerSpec("rsgi", server="granian"),
                                                          8000)


def test_waitress_refuses_more_than_one_process():
    spec = ServerSpec("wsgi", workers=2, server="waitress")
    with pytest.raises(ValueError, match="one process"):
        spec.runs_on.argv(spec, 8000)


@pytest.fixture(scope="module")
def peer():
    """One server per peer spec for the module, every one stopped and reaped at the end."""
    started: dict[str, object] = {}

    def _peer(name: str):
        if name not in started:
            server = launch(PEERS[name])
            server.start()
            started[name] = server
        return started[name]

    yield _peer
    for server in started.values():
        procs = server.processes()
        server.stop(grace=5.0)
        assert not alive(procs)


@pytest.mark.parametrize("name", PEERS)
def test_the_contract_holds_on_every_server(peer, name):
    """Bad input gets the same 4xx JSON as from the Flask app, whatever serves it."""
    url = peer(name).url
    flask = create_app({"TESTING": True}).test_client()
    assert get(url + "/health").body == {"status": "ok"}
    wrong = {}
    for path in BAD_INPUT:
        expected = flask.get(path)
        reply = get(url + path)
        if (reply.status, reply.body) != (expected.status_code, expected.get_json()):
            wrong[path] = (reply.status, reply.body)
    assert wrong == {}
    assert get(url + "/prime/561").body["prime"] is False


def test_a_server_that_cannot_start_says_why_and_leaves_nothing():
    spec = ServerSpec("asgi", server="uvicorn", app="no_such_module:app")
    before = set(descendants(os.getpid()))
    with pytest.raises(ServerError, match="uvicorn exited"):
        launch(spec, ready_timeout=20).start()
    assert not alive(p for pid, p in descendants(os.getpid()).items() if pid not in before)


@pytest.mark.parametrize("spec", [ServerSpec("asgi", workers=2, server="uvicorn"),
                                  ServerSpec("wsgi", workers=2, threads=2, server="granian")],
                         ids=["uvicorn-w2", "granian-w2"])
def test_multi_process_servers_are_reaped_whole(spec):
    with launch(spec) as server:
        assert len(server.worker_pids()) == 2
        family = server.processes()
        assert len(family) >= 3  # the supervisor and its two workers
    assert not alive(family)


def _read_by_server(port: int, client_port: int) -> bool:
    """The server has read the client's request: the client's bytes are acknowledged (its
    send queue is empty, so they reached the server's socket, which a busy machine's
    loopback can delay) and nothing waits in the server's receive queue."""
    queues = tcp_queues(port)
    client, server = queues.get((client_port, port)), queues.get((port, client_port))
    return client is not None and server is not None and client[0] == 0 and server[1] == 0


def _asleep_in_a_view(pid: int) -> bool:
    """A thread of ``pid`` or of its children sleeps in ``time.sleep`` (the kernel's
    ``hrtimer_nanosleep``): a threaded WSGI server is inside the /io view. Read and handed to
    a thread are not the same moment: waitress cancels a task still queued when it stops."""
    for process in [pid, *descendants(pid)]:
        for task in Path(f"/proc/{process}/task").glob("*"):
            try:
                if (task / "wchan").read_text() == "hrtimer_nanosleep":
                    return True
            except OSError:  # the thread ended while listed
                continue
    return False


def _answer_to_a_request_in_flight(spec: ServerSpec, signum: int) -> tuple[bytes, int]:
    """Send ``/io?delay=2``; once the server has read it (and, for a threaded WSGI server, a
    thread sleeps in the view), ``signum`` to the server; return what the client got and the
    server's exit status."""
    server = launch(spec)
    server.start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"GET /io?delay=2 HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
        threaded = spec.worker_class == "wsgi"  # waitress and granian: a thread pool
        wait_for(lambda: _read_by_server(server.port, sock.getsockname()[1])
                 and (not threaded or _asleep_in_a_view(server.proc.pid)), 10,
                 "the server never read the request")
        server.proc.send_signal(signum)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
        sock.close()
        return reply, server.proc.wait(timeout=30)
    finally:
        server.stop(grace=2.0)


@pytest.mark.parametrize("name", ["uvicorn", "granian-wsgi", "waitress"])
def test_sigterm_drains_uvicorn_and_granian_and_kills_waitress(name):
    reply, status = _answer_to_a_request_in_flight(PEERS[name], signal.SIGTERM)
    if name == "waitress":  # no SIGTERM handler: the default action, mid-request
        assert reply == b"" and status == -signal.SIGTERM
    else:  # the request in flight is answered, then the server exits by itself (uvicorn
        # 0.54 re-raises the signal once it has drained: status -15; granian exits 0)
        assert reply.startswith(b"HTTP/1.1 200") and b'"delay":2' in reply
        assert status == (-signal.SIGTERM if name == "uvicorn" else 0)


def test_sigint_drains_waitress():
    """waitress's only orderly stop: its threads get up to 5 s to finish (the lab resets an
    inherited ignored SIGINT before it starts it)."""
    reply, status = _answer_to_a_request_in_flight(WAITRESS, signal.SIGINT)
    assert reply.startswith(b"HTTP/1.1 200") and status == 0, (reply, status)


def _keep_alive_ms(url: str, requests: int = 15) -> float:
    """The median time of /health on one keep-alive connection, after its first request."""
    import http.client
    import statistics
    import time

    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    times = []
    for _ in range(requests + 1):
        start = time.perf_counter()
        connection.request("GET", "/health")
        connection.getresponse().read()
        times.append(time.perf_counter() - start)
    connection.close()
    return statistics.median(times[1:]) * 1000


@pytest.mark.timing
def test_uvicorn_workers_answer_keep_alive_requests_a_delayed_ack_late():
    """uvicorn --workers N binds its socket with socket.socket(family): protocol 0, and
    asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP, so Nagle's
    algorithm holds the body of each answer until the client's delayed ACK (about 40 ms on
    Linux). One worker lets asyncio make the socket (protocol 6); gunicorn sets TCP_NODELAY
    on its own listener, UvicornWorker's too."""
    with launch(ServerSpec("asgi", workers=2, server="uvicorn")) as two, \
            launch(ServerSpec("asgi", server="uvicorn")) as one, \
            launch(ServerSpec("asgi", workers=2, server="uvicorn-worker")) as under_gunicorn:
        stalled, direct, gunicorn = (_keep_alive_ms(s.url) for s in (two, one, under_gunicorn))
    assert stalled > 30 > 10 > max(direct, gunicorn), (stalled, direct, gunicorn)


def test_waitress_buffers_slow_clients_up_to_its_high_watermark():
    """The prediction: waitress's I/O thread buffers whole requests and responses, so slow
    clients hold sockets, not its two threads -- for a response up to its 16 MiB
    ``outbuf_high_watermark``; past it, the thread waits for the reader."""
    with launch(WAITRESS) as server:
        with SlowClients("127.0.0.1", server.port, 5):
            assert get(server.url + "/health", timeout=2).status == 200
        for mb, held in ((8, False), (32, True)):
            with SlowReader("127.0.0.1", server.port, f"/download?mb={mb}", rate=64 * 1024) as a, \
                    SlowReader("127.0.0.1", server.port, f"/download?mb={mb}",
                               rate=64 * 1024) as b:
                for reader in (a, b):
                    reader.wait_received(64 * 1024, within=5)
                try:
                    answered = get(server.url + "/health", timeout=2).status == 200
                except OSError:
                    answered = False
            assert answered is not held, mb


@pytest.mark.parametrize("server", ["uvicorn", "uvicorn-worker", "granian", "waitress"])
def test_no_process_survives_an_interrupted_matrix_cell(tmp_path, lab, server):
    """Ctrl-C in the middle of a server's cell: the runner stops and reaps all of it."""
    proc = lab("loadtests.matrix", "--full", "--scenarios", "peerio", "--servers", server,
               "--warmup", "0.5", "--duration", "60", "--out", str(tmp_path))
    seen: dict[int, psutil.Process] = {}
    kind = "gunicorn" if server == "uvicorn-worker" else server

    def serving():
        assert proc.poll() is None, proc.stdout.read()
        seen.update(descendants(proc.pid))
        lines = [" ".join(cmdline(p)) for p in seen.values()]
        return any(kind in line for line in lines) and any("locust" in line for line in lines)

    wait_for(serving, 60, "the cell's server and Locust")
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert not alive(seen.values())


def test_the_registry_names_each_server_by_its_own_name():
    """A spec finds its server's class through the registry (loaded lazily, no import
    cycle): each name there is the name its class says it runs."""
    from loadtests.servers import SERVERS, ServerSpec
    from loadtests.servers.registry import NAMES

    assert list(SERVERS) == list(NAMES)
    assert all(cls.name == name for name, cls in SERVERS.items())
    assert ServerSpec(server="waitress").runs_on is SERVERS["waitress"]
