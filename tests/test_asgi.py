"""The asyncio model: gunicorn's asgi worker serving the ASGI twin of the app.

The same URL contract as the Flask app; what each asyncio variant does to the
event loop, checked by the order of events (never by absolute times).
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.request

import pytest

from loadtests.load.client import get, get_many
from loadtests.servers import GunicornServer, ServerSpec
from webapp import create_app
from webapp.instrument.loopwatchdog import LINE
from webapp.work.primes import QUICK_PRIME, SLOW_PRIME
from webapp.work.upload import MAX_BYTES

from .helpers import ASGI, BAD_INPUT, cpu_over, cpu_seconds, health_during, upload, wait_for

pytestmark = pytest.mark.integration

# Bad input, wrong routes and wrong methods: both apps must answer alike.


@pytest.mark.parametrize("path", BAD_INPUT)
def test_bad_input_gets_the_same_json_from_both_apps(serve, path):
    flask = create_app({"TESTING": True}).test_client().get(path)
    reply = get(serve(ASGI).url + path)
    assert reply.status == flask.status_code
    assert reply.body == flask.get_json()


def test_wrong_method_is_json_405_with_allow(serve):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(serve(ASGI).url + "/health", method="POST")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 405 and "GET" in error.value.headers["Allow"]


def test_info_names_the_loop_and_the_task(serve):
    body = get(serve(ASGI).url + "/info").body
    assert body["worker_class"] == "asgi"
    assert body["event_loop"]["library"] in ("asyncio", "uvloop")
    assert body["event_loop"]["task"]  # each request runs in a task of its own
    assert body["thread"]["name"] == "MainThread"  # one thread: the loop's
    flask = create_app({"TESTING": True}).test_client().get("/info").get_json()
    assert flask.keys() <= body.keys()  # every field the WSGI /info has


def test_answers_match_the_flask_app(serve):
    url = serve(ASGI).url
    for query in ("", "?nap=1", "?thread=1", "offload"):
        path = f"/offload/prime/{QUICK_PRIME}" if query == "offload" else \
            f"/prime/{QUICK_PRIME}{query}"
        answer = get(url + path).body
        assert answer["prime"] is True
        # the check's CPU where it ran (to_thread's thread, the pool's process), as in Flask
        assert 0.01 < answer["cpu"] <= answer["elapsed"], (query, answer)
        if query != "offload":
            assert get(f"{url}/prime/561{query}").body["prime"] is False
    flask = create_app({"TESTING": True}).test_client()
    assert get(f"{url}/hash?mb=2").body["sha256"] == flask.get("/hash?mb=2").get_json()["sha256"]
    download = flask.get("/download?mb=1&unbuffered=1")
    with urllib.request.urlopen(f"{url}/download?mb=1&unbuffered=1", timeout=10) as reply:
        assert reply.read() == download.data
        for header in ("Content-Length", "X-Accel-Buffering", "Content-Type"):
            assert reply.headers[header] == download.headers[header]
    assert upload(url, 100_000)["bytes"] == 100_000
    # a body declared over the cap: 413 before a byte of it is read (none is sent)
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: lab\r\nContent-Length: %d\r\n\r\n"
                     % (MAX_BYTES + 1))
        response = http.client.HTTPResponse(sock)
        response.begin()
        status, body = response.status, json.loads(response.read())
    twin = flask.post("/upload", data=bytes(MAX_BYTES + 1))
    assert status == 413 and body == twin.get_json()


REQUESTS, DELAY = 4, 0.5


def _io_ratio(url: str, query: str = "") -> float:
    wall, replies = get_many([f"{url}/io?delay={DELAY}{query}"] * REQUESTS)
    assert all(r.status == 200 for r in replies)
    return wall / (REQUESTS * DELAY)


@pytest.mark.timing
def test_awaited_sleeps_overlap_and_blocking_sleeps_queue(serve):
    url = serve(ASGI).url
    assert _io_ratio(url) <= 0.5                   # ideal 1/REQUESTS: all at once
    assert _io_ratio(url, "&blocking=1") >= 0.75   # ideal 1.0: the loop is frozen


@pytest.mark.timing
def test_worker_connections_is_not_enforced_by_the_asgi_worker():
    """gunicorn 27.0.1's asgi worker ignores --worker-connections: 8 requests on 2 'slots'."""
    spec = ServerSpec("asgi", worker_connections=2)
    with GunicornServer(spec) as server:
        wall, replies = get_many([f"{server.url}/io?delay={DELAY}"] * 8)
    assert all(r.status == 200 for r in replies)
    assert wall / (8 * DELAY) <= 0.5  # enforced, it would be ≥ 4 waves: 0.5 or more


def _busy_worker(server) -> int:
    (pid,) = server.worker_pids()
    return pid


@pytest.mark.timing
def test_a_prime_in_the_coroutine_freezes_health(serve):
    server = serve(ASGI)
    during, finished_after = health_during(server, f"/prime/{SLOW_PRIME}", _busy_worker(server))
    assert all(h.received >= finished_after for h in during)


@pytest.mark.parametrize("query", ["?nap=1", "?thread=1"])
@pytest.mark.timing
def test_napping_and_to_thread_keep_the_loop_answering(serve, query):
    server = serve(ASGI)
    during, finished_after = health_during(server, f"/prime/{SLOW_PRIME}{query}",
                                           _busy_worker(server))
    assert [h for h in during if h.received < finished_after]


@pytest.mark.timing
def test_to_thread_still_runs_one_core_of_python(serve):
    """Two to_thread primes at once: the loop is free, but the GIL lets one run at a time.

    The yardstick is the worker's CPU time over the wall time (1.0 on one core, 2.0 on two;
    test_hash_in_threads_uses_both_cores is its other side), not the pair's time over one
    prime's: this VM's speed drifts by up to ×1.9 between consecutive runs of the same prime.
    """
    server = serve(ASGI)
    pid = _busy_worker(server)
    url = f"{server.url}/prime/{SLOW_PRIME}?thread=1"
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    _, replies = get_many([url] * 2)
    cpu = cpu_seconds(pid) - cpu_before
    wall_total = time.monotonic() - wall_before
    assert all(r.body["prime"] is True for r in replies)
    assert cpu / wall_total <= 1.3      # one core busy, not two


@pytest.mark.timing
@pytest.mark.two_cores
def test_hash_in_threads_uses_both_cores(serve):
    """hashlib releases the GIL: to_thread hashes run on two cores at once."""
    server = serve(ASGI)
    pid = _busy_worker(server)
    url = f"{server.url}/hash?mb=256"
    get(url)  # warm the zero pages
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    for _ in range(3):
        get_many([url] * 2)
    cpu = cpu_seconds(pid) - cpu_before
    assert cpu / (time.monotonic() - wall_before) >= 1.3  # ideal 2.0 on 2 cores


def _loop_reports(server) -> list[str]:
    return [line for line in server.log_text().splitlines() if LINE in line]


@pytest.mark.timing
def test_asyncio_debug_reports_the_blocked_loop_and_not_the_napping_one():
    spec = ServerSpec("asgi", env=(("PYTHONASYNCIODEBUG", "1"),))
    with GunicornServer(spec) as server:
        assert get(server.url + "/info").body["event_loop"]["debug"] is True
        assert get(f"{server.url}/prime/{QUICK_PRIME}?nap=1").status == 200
        napping = len(_loop_reports(server))
        elapsed = get(f"{server.url}/prime/{SLOW_PRIME}").body["elapsed"]
        wait_for(lambda: len(_loop_reports(server)) > napping, 10, server.log_tail())
        (line,) = _loop_reports(server)
        log = server.log_text()
    assert napping == 0  # no napping step held the loop for 0.1 s
    duration = float(line.split("duration=", 1)[1].split()[0])
    assert duration >= 0.8 * elapsed  # one report for the whole prime, with its length
    assert "Executing" not in log  # asyncio's own long report is replaced by the line


@pytest.mark.timing
def test_watchdog_reports_the_blocked_loop_and_not_the_napping_one():
    spec = ServerSpec("asgi", env=(("LOOP_WATCHDOG", "0.1"),))
    with GunicornServer(spec) as server:
        assert get(f"{server.url}/prime/{QUICK_PRIME}?nap=1").status == 200
        assert get(f"{server.url}/io?delay=0.5").status == 200  # awaiting: no report
        napping = len(_loop_reports(server))
        elapsed = get(f"{server.url}/prime/{SLOW_PRIME}").body["elapsed"]
        wait_for(lambda: len(_loop_reports(server)) - napping >= 5, 10, server.log_tail())
        reports = _loop_reports(server)
    assert napping == 0
    # one report per 0.1 s period without the loop's stamp: a lower bound on the freeze
    assert 0.1 * len(reports) <= elapsed + 0.1


def test_bad_watchdog_period_stops_gunicorn_with_one_line():
    import subprocess
    import sys

    from loadtests.servers import CONFIG, ROOT

    result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "-k", "asgi"],
                            cwd=ROOT, env={"LOOP_WATCHDOG": "often", "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "LOOP_WATCHDOG" in result.stderr


@pytest.mark.timing
def test_spinner_check_is_cancelled_when_the_client_leaves(serve):
    """A client that closes the stream leaves no napping check running on the loop.

    gunicorn 27's asgi worker ignores sends after a disconnect (Starlette sees no error) and
    cancels the task after ``asgi_disconnect_grace_period``, which the lab's config sets to 1 s.
    """
    import http.client

    server = serve(ASGI)
    pid = _busy_worker(server)
    before = cpu_seconds(pid)
    assert get(f"{server.url}/prime/{SLOW_PRIME}?nap=1").status == 200
    whole = cpu_seconds(pid) - before  # CPU of one whole napping check
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", f"/spin/{SLOW_PRIME}?nap=1")
    assert conn.getresponse().read(5)  # the first frame has come
    start = cpu_seconds(pid)
    conn.close()
    wait_for(lambda: cpu_over(pid, 0.2) < 0.02, 10, "the worker never went idle")
    # gunicorn cancels the request's task asgi_disconnect_grace_period (1 s) after the client
    # left; the spinner then cancels its check: it stops early, not at the end
    after = cpu_seconds(pid) - start
    assert after < 0.8 * whole and after < 1.0 + 0.6
