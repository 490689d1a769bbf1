"""Slow clients (slowloris) against each worker model, directly and behind a real nginx.

Measured, not assumed: which setting ends a slow client on each model, whether /health
still answers meanwhile, and that every model answers at once when the slow clients go.
Time enters only as ratios to the setting that should end a client.
"""

from __future__ import annotations

import threading
import time

import pytest

from loadtests.load.client import get
from loadtests.load.trickle import SLOW_BODY, SlowClients, SlowReader, outlasting_mb
from loadtests.servers import GunicornServer, ServerSpec
from loadtests.services.daemon import Missing, ServiceError
from loadtests.services.nginx import NginxProxy

from .helpers import APPS, alive, missing, upload, wait_for

pytestmark = pytest.mark.integration

TIMEOUT = 3  # gunicorn's worker timeout in these tests
KEEPALIVE = 1
HEADER_TIMEOUT = 2  # nginx's client_header_timeout in these tests


def spec(model: str) -> ServerSpec:
    return ServerSpec(model, threads=4 if model == "gthread" else 1, timeout=TIMEOUT,
                      env=(("KEEPALIVE", str(KEEPALIVE)),))


def slots(model: str) -> int:
    """Slow clients enough to fill the model's request slots (5 for the event loops)."""
    return {"sync": 1, "gthread": 4}.get(model, 5)


def wait_closed(slow: SlowClients, limit: float) -> None:
    wait_for(lambda: not slow.open_count(), limit, "the slow clients closed", fail=None)


def front_of(server: GunicornServer, front: str, nginx_in_front) -> tuple[int, str]:
    """(port, url) where the clients connect: the server ``"direct"``, else nginx (started by
    the ``nginx_in_front`` fixture) in front of it."""
    if front == "direct":
        return server.port, server.url
    proxy = nginx_in_front(server.port)
    return proxy.port, proxy.url


def health_fails(url: str, within: float) -> bool:
    try:
        return get(url + "/health", timeout=within).status != 200
    except OSError:  # timed out: no worker could answer
        return True


def test_sync_is_held_until_the_worker_timeout_kills_it():
    with GunicornServer(spec("sync")) as server, \
            SlowClients("127.0.0.1", server.port, 1) as slow:
        # the one worker reads the slow header; /health waits in the backlog
        assert health_fails(server.url, within=TIMEOUT / 3)
        wait_closed(slow, 10 * TIMEOUT)
        (held,) = [c.held_s for c in slow.connections]
        assert held is not None and held >= 0.8 * TIMEOUT  # ended by `timeout`, no sooner
        assert "WORKER TIMEOUT" in server.log_text()
        assert get(server.url + "/health", timeout=5).status == 200


def test_gthread_is_held_for_as_long_as_the_clients_trickle():
    """No gunicorn setting ends a trickling header on gthread: the threads stay taken."""
    with GunicornServer(spec("gthread")) as server:
        with SlowClients("127.0.0.1", server.port, slots("gthread")) as slow:
            assert health_fails(server.url, within=TIMEOUT)
            wait_closed(slow, 2 * TIMEOUT)  # past timeout and keepalive: still held
            assert slow.open_count() == slots("gthread")
            assert "WORKER TIMEOUT" not in server.log_text()  # the main thread notifies
        # the slow clients go away: the threads are free at once
        assert get(server.url + "/health", timeout=5).status == 200


def test_gevent_answers_and_ends_slow_clients_after_keepalive():
    with GunicornServer(spec("gevent")) as server, \
            SlowClients("127.0.0.1", server.port, slots("gevent")) as slow:
        assert get(server.url + "/health", timeout=5).status == 200
        wait_closed(slow, 10 * KEEPALIVE)
        held = [c.held_s for c in slow.connections]
        assert all(h is not None and 0.8 * KEEPALIVE <= h <= 5 * KEEPALIVE for h in held)
        assert get(server.url + "/health", timeout=5).status == 200


def test_asgi_answers_and_keeps_slow_clients_as_cheap_tasks():
    with GunicornServer(spec("asgi")) as server:
        with SlowClients("127.0.0.1", server.port, 20) as slow:
            assert get(server.url + "/health", timeout=5).status == 200
            wait_closed(slow, 3 * KEEPALIVE)
            assert slow.open_count() == 20  # nothing ended them; they cost no slot
            assert get(server.url + "/health", timeout=5).status == 200
        assert get(server.url + "/health", timeout=5).status == 200  # and after they left


LAB_HEADER_TIMEOUT = 1  # HEADER_TIMEOUT in the next test, well below its worker timeout (10 s)


@pytest.mark.parametrize("model", ["sync", "gthread", "asgi"])
def test_header_timeout_ends_a_slow_header_with_408_and_spares_a_slow_app(model):
    """HEADER_TIMEOUT (webapp/instrument/headerdeadline.py): the lab's bound where gunicorn sets
    none."""
    import http.client
    import json
    import socket

    h = LAB_HEADER_TIMEOUT
    spec = ServerSpec(model, threads=4 if model == "gthread" else 1, timeout=10,
                      env=(("KEEPALIVE", "5"), ("HEADER_TIMEOUT", str(h))))
    with GunicornServer(spec) as server:
        with SlowClients("127.0.0.1", server.port, slots(model)) as slow:
            wait_closed(slow, 10 * h)
            held = [c.held_s for c in slow.connections]
            replies = [c.reply for c in slow.connections]
        assert all(x is not None and 0.8 * h <= x <= 5 * h for x in held)  # not at `timeout`
        for reply in replies:
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 ")
            assert json.loads(body) == {"error": "request header not received in time",
                                        "status": 408}
        # a slow application is not a slow header: the deadline ends when the header arrives
        assert get(server.url + f"/io?delay={2 * h}", timeout=10).status == 200
        # nor is a header that pauses but arrives in time
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: lab\r\n")
            time.sleep(0.3 * h)  # the client's pause under test, not synchronisation
            sock.sendall(b"\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        # and each request on a kept-alive connection gets a fresh deadline
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for _ in range(2):
            conn.request("GET", f"/io?delay={1.5 * h}")
            response = conn.getresponse()
            assert response.status == 200 and response.read()
        conn.close()
        log = server.log_text()
    assert "WORKER TIMEOUT" not in log
    assert log.count("header timeout: no request header from") == slots(model)


@pytest.mark.parametrize(("model", "app"), [("gthread", "broken:app"), ("asgi", "bare_asgi:app")])
def test_header_timeout_bounds_a_slow_header_on_an_app_of_yours(model, app):
    """HEADER_TIMEOUT is the config's, not the lab app's: an app served with ``--chdir``
    (tests/apps) gets the same 408, and the deadline loads without importing ``webapp``."""
    h = LAB_HEADER_TIMEOUT
    spec = ServerSpec(model, threads=2 if model == "gthread" else 1, timeout=10, app=app,
                      chdir=str(APPS), env=(("HEADER_TIMEOUT", str(h)),))
    with GunicornServer(spec) as server:
        with SlowClients("127.0.0.1", server.port, 1) as slow:
            wait_closed(slow, 10 * h)
            (connection,) = slow.connections
        assert connection.held_s is not None and 0.8 * h <= connection.held_s <= 5 * h
        assert connection.reply.startswith(b"HTTP/1.1 408 ")
        if model == "gthread":
            assert get(server.url + "/modules", timeout=5).body == {"webapp": False}


FILES = 128  # the asgi server's open-file limit in the next test (ulimit -n)


@pytest.mark.parametrize("header_timeout", [0, 2], ids=["gunicorn", "HEADER_TIMEOUT"])
def test_asgi_slow_headers_can_take_every_file_descriptor(header_timeout):
    """Each slow header costs the asgi worker a socket, not a slot: more of them than its
    open-file limit and it accepts nothing -- for as long as they trickle, or until the
    lab's HEADER_TIMEOUT frees their sockets."""
    spec = ServerSpec("asgi", max_open_files=FILES,
                      env=(("HEADER_TIMEOUT", str(header_timeout)),))
    with GunicornServer(spec) as server:
        began = time.monotonic()
        with SlowClients("127.0.0.1", server.port, FILES + 20) as slow:
            if header_timeout:
                reply = get(server.url + "/health", timeout=10 * header_timeout)
                assert reply.status == 200  # once the first slow headers got their 408:
                assert time.monotonic() - began >= 0.9 * header_timeout  # not before
                # read by the slow clients' own thread, which may not have run since (make
                # test's first pass once checked before it had: no 408 read yet)
                wait_for(lambda: any(c.reply.startswith(b"HTTP/1.1 408 ")
                                     for c in slow.connections),
                         10, "a slow header's 408, read by its client")
            else:
                assert health_fails(server.url, within=3)
                assert slow.open_count() == FILES + 20  # nothing ended them
                assert "Too many open files" in server.log_text()
        assert get(server.url + "/health", timeout=10).status == 200  # they left: it accepts


@pytest.mark.parametrize("model", ["sync", "gthread", "gevent", "asgi"])
def test_behind_nginx_every_model_answers_and_nginx_ends_slow_clients(model, nginx_in_front):
    with GunicornServer(spec(model)) as server:
        proxy = nginx_in_front(server.port, header_timeout=HEADER_TIMEOUT)
        with SlowClients("127.0.0.1", proxy.port, 20) as slow:
            reply = get(proxy.url + "/health", timeout=5)
            assert reply.status == 200 and reply.body == {"status": "ok"}
            wait_closed(slow, 10 * HEADER_TIMEOUT)
            held = [c.held_s for c in slow.connections]
            assert all(h is not None and 0.8 * HEADER_TIMEOUT <= h <= 5 * HEADER_TIMEOUT
                       for h in held)
        assert "WORKER TIMEOUT" not in server.log_text()
        assert get(proxy.url + "/info", timeout=5).body["worker_class"] == model


@pytest.mark.parametrize(("model", "front", "answers"), [
    ("sync", "direct", False), ("gthread", "direct", False), ("gevent", "direct", True),
    ("asgi", "direct", True), ("sync", "nginx", True), ("gthread", "nginx", True),
])
def test_a_slow_body_holds_what_reads_it_unless_nginx_buffers(model, front, answers,
                                                             nginx_in_front):
    """A whole header announcing 1 MiB to /upload, then a body byte a second: the thread that
    reads it waits (sync, gthread), a greenlet or a task does not take the worker, and nginx
    (``proxy_request_buffering on``) keeps the request until it is whole."""
    with GunicornServer(spec(model)) as server:
        port, url = front_of(server, front, nginx_in_front)
        with SlowClients("127.0.0.1", port, slots(model), prefix=SLOW_BODY) as slow:
            assert health_fails(url, within=TIMEOUT / 3) is not answers
            assert slow.open_count() == slots(model)
        # they left: a whole upload is read and counted
        assert upload(url, 1 << 20)["bytes"] == 1 << 20


@pytest.mark.parametrize(("model", "front", "answers"), [
    ("sync", "direct", False), ("sync", "nginx", True), ("sync", "nginx-unbuffered", False),
    ("gevent", "direct", True), ("asgi", "direct", True),
])
def test_a_slow_reader_holds_a_sync_worker_unless_nginx_buffers(model, front, answers,
                                                                nginx_in_front):
    """A client that takes a /download larger than the sockets on its path hold (see
    ``outlasting_mb``) 64 KiB a second: a sync worker waits in ``sendall`` for it, a greenlet
    or a task does not take the worker; nginx buffers the response and frees the worker --
    unless the app says ``X-Accel-Buffering: no``. (An 8 MiB one fitted whole in a CI run:
    two 4 MiB send buffers and nginx's growing receive buffer.)"""
    with GunicornServer(ServerSpec(model)) as server:
        port, url = front_of(server, front, nginx_in_front)
        query = "&unbuffered=1" if front == "nginx-unbuffered" else ""
        path = f"/download?mb={outlasting_mb(proxies=int(front != 'direct'))}{query}"
        with SlowReader("127.0.0.1", port, path, rate=64 * 1024) as reader:
            assert reader.wait_received(64 * 1024, within=10) and reader.done is None  # reading
            assert health_fails(url, within=2) is not answers
        assert get(url + "/health", timeout=5).status == 200  # the reader left: free again


def test_a_slow_reader_costs_a_sync_worker_its_life_at_timeout():
    """The sync worker blocked in ``sendall`` stops notifying the arbiter: at ``timeout`` it is
    killed mid-response, and the reader is left with part of its 8 MiB."""
    with GunicornServer(spec("sync")) as server:
        mb = outlasting_mb(proxies=0)
        with SlowReader("127.0.0.1", server.port, f"/download?mb={mb}", rate=64 * 1024) as reader:
            wait_for(lambda: "WORKER TIMEOUT" in server.log_text(), 10 * TIMEOUT,
                     "the sync worker was not killed at its timeout")
            assert reader.received < mb << 20
        assert get(server.url + "/health", timeout=5).status == 200  # a new worker serves


def test_nginx_on_a_taken_port_is_one_line_and_no_process(redis_server):
    """(The session's redis-server holds a port.) nginx refuses it; nothing is left."""
    try:
        proxy = NginxProxy(1, port=redis_server.port)
    except Missing as error:
        missing(error)
    folder = proxy.folder
    with pytest.raises(ServiceError, match=r"^nginx: cannot listen on 127\.0\.0\.1:\d+"):
        proxy.start()
    assert proxy.proc is None and not folder.exists() and not alive(proxy._known.values())


def test_a_missing_nginx_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Missing, match=r"nginx not found: install it with `sudo apt-get "
                                      r"install nginx-light` \(macOS: `brew install nginx`\)"):
        NginxProxy(8000)


# -- streaming through the proxy ---------------------------------------------------------

def read_stream(url: str, began: threading.Event | None = None) -> tuple[float, float, float]:
    """Seconds to the first chunk, to the end, and the longest gap between chunks; ``began``
    is set once the first chunk is in."""
    import urllib.request

    start = last = time.perf_counter()
    first, longest = None, 0.0
    with urllib.request.urlopen(url, timeout=60) as response:
        while response.read1(4096):
            now = time.perf_counter()
            if first is None and began is not None:
                began.set()
            first = first if first is not None else now - start
            longest, last = max(longest, now - last), now
    return first, last - start, longest


@pytest.mark.parametrize("honoured", [True, False], ids=["X-Accel-Buffering", "ignored"])
@pytest.mark.timing
def test_spin_streams_through_nginx_with_or_without_its_header(honoured, nginx_in_front):
    """The app sends ``X-Accel-Buffering: no`` with /spin. Measured on nginx 1.22: a client that
    reads as fast as frames come gets each one as it comes either way -- with the header
    honoured (unbuffered) and with nginx told to ignore it (``proxy_ignore_headers``,
    buffered): buffering lets nginx read ahead of a *slow* reader, it does not hold a
    stream back from a fast one."""
    from webapp.work.primes import SLOW_PRIME

    with GunicornServer(ServerSpec("gthread", threads=4)) as server:
        proxy = nginx_in_front(server.port, accel_buffering=honoured)
        assert ("proxy_ignore_headers X-Accel-Buffering" in proxy.config()) is not honoured
        first, total, longest = read_stream(f"{proxy.url}/spin/{SLOW_PRIME}")
    assert first < 0.25 * total and longest < 0.5 * total  # frames as they come


@pytest.mark.parametrize(("model", "answers"), [("sync", False), ("gevent", True)])
@pytest.mark.timing
def test_an_unbuffered_stream_holds_a_sync_worker(model, answers, nginx_in_front):
    """gunicorn's deployment docs: streaming without buffering needs an async worker. While
    a stream runs through nginx, sync -w1 cannot answer /health; gevent -w1 can."""
    from webapp.work.primes import SLOW_PRIME

    with GunicornServer(ServerSpec(model)) as server:
        proxy = nginx_in_front(server.port)
        timing: dict[str, float] = {}
        began = threading.Event()
        stream = threading.Thread(target=lambda: timing.update(
            zip(("first", "total", "gap"),
                read_stream(f"{proxy.url}/spin/{SLOW_PRIME}?nap=1", began), strict=True)))
        started = time.perf_counter()
        stream.start()
        wait_for(began.is_set, 30, "the stream's first frame")  # the worker holds it now
        reply = get(proxy.url + "/health", timeout=30)
        health_s = time.perf_counter() - started
        stream.join()
    assert reply.status == 200
    if answers:
        assert health_s < 0.5 * timing["total"]
    else:
        assert health_s > 0.8 * timing["total"]  # only after the stream ended
