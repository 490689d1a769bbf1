"""Shared fixtures: a Flask test client, and real gunicorn servers per worker model."""

from __future__ import annotations

import itertools
import os
import resource
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest

from loadtests.harness.procs import stop_tree
from loadtests.servers import GunicornServer, ServerSpec
from webapp import create_app

from .helpers import LONGEST, lab_command, missing

_namespaces = itertools.count()

#: The advisor's test apps are served, not collected (one of them fails at import on purpose).
collect_ignore_glob = ["apps/*"]

#: Parallel workers (pytest-xdist, ``make test``'s first pass) draw ports from ranges of their
#: own, below the kernel's ephemeral range (32768 and up), for their servers and for the
#: commands they run: ``loadtests.servers.free_port`` reads LAB_PORTS (five workers: 10000-24999;
#: up to seven stay below 32768).
PORTS_PER_WORKER = 3000
if (_worker := os.environ.get("PYTEST_XDIST_WORKER", "")).startswith("gw"):
    _low = 10000 + int(_worker[2:]) * PORTS_PER_WORKER
    os.environ["LAB_PORTS"] = f"{_low}-{_low + PORTS_PER_WORKER - 1}"


def pytest_collection_modifyitems(items):
    """Files in ``helpers.LONGEST``'s order first, then the rest as collected (a stable sort:
    each file's tests stay together and in order)."""
    rank = {name: index for index, name in enumerate(LONGEST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item):
    """LAB_TEST_CPU=FILE: append each test's CPU seconds -- this worker's own, and that of
    every process it started and reaped meanwhile (servers, commands, Locust, databases) --
    its wall seconds, its node id, the pytest-xdist worker that ran it and the Unix time it
    ended to FILE, one tab-separated line each: where make test's CPU-bound first pass goes,
    and which worker's files end it (contributing.md's budget)."""
    if not (path := os.environ.get("LAB_TEST_CPU")):
        return (yield)
    before, started = _cpu_seconds(), time.monotonic()
    try:
        return (yield)
    finally:
        own, reaped = (after - was for after, was in zip(_cpu_seconds(), before, strict=True))
        with open(path, "a") as handle:
            handle.write(f"{own:.2f}\t{reaped:.2f}\t{time.monotonic() - started:.2f}\t"
                         f"{item.nodeid}\t{_worker or '-'}\t{time.time():.1f}\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test marked ``inprocess`` runs at nice 19 beside the timing tests (``make test``'s
    second pass): a process it started would leave that nice behind (a server's session is
    an autogroup of its own) and take the timing tests' CPU. It fails if it starts one."""
    if item.get_closest_marker("inprocess") is None:
        return (yield)

    def refuse(*_args, **_kwargs):
        raise AssertionError(f"{item.nodeid} is marked inprocess but starts a process")

    with mock.patch("subprocess.Popen._execute_child", refuse), mock.patch("os.fork", refuse):
        return (yield)


def _cpu_seconds() -> tuple[float, float]:
    """(this process's CPU seconds, its reaped children's)."""
    return tuple(usage.ru_utime + usage.ru_stime for usage in (
        resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


@pytest.fixture
def lab():
    """``lab(*args)``: :func:`helpers.lab_command`, for a test that stops the command itself
    (a Ctrl-C); whatever the test's end, each command and all it started are then killed
    and reaped."""
    started = []

    def _start(*args: str):
        started.append(lab_command(*args))
        return started[-1]

    yield _start
    for proc in started:
        if proc.poll() is None:  # (its pid is still its own: stop_tree's killpg hits no other)
            # not a session leader: SIGKILL to it alone, then to its family
            stop_tree(proc, grace=0, whole_group=False, first_signal=signal.SIGKILL)


@pytest.fixture
def app():
    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def serve():
    """Start (once per test file) a gunicorn for a :class:`ServerSpec`; all stop at the
    file's end. (Held to the session's end, 33 idle servers lived 4,300 server-seconds in
    make test's first pass, 2026-12-08; an idle gunicorn master and worker take 4-9 ms of
    CPU a second between them.)"""
    servers: dict[ServerSpec, GunicornServer] = {}

    def _serve(spec: ServerSpec) -> GunicornServer:
        if spec not in servers:
            server = GunicornServer(spec)
            server.start()
            servers[spec] = server
        return servers[spec]

    yield _serve
    # Nothing waits on them now: all at once, with gunicorn's quick shutdown (a graceful one
    # waited out kept-alive connections, 7-12 s of every run), every process still reaped.
    with ThreadPoolExecutor(max(1, len(servers))) as pool:
        list(pool.map(lambda server: server.stop(grace=2.0, graceful=False), servers.values()))


# -- real services: redis-server and Celery workers ---------------------------------------


def _redis():
    from loadtests.services.daemon import Missing
    from loadtests.services.redis import RedisServer

    try:
        return RedisServer()
    except Missing as error:
        missing(error)


@pytest.fixture(scope="session")
def redis_server():
    """One redis-server of the tests' own (free port, no persistence) for the session."""
    with _redis() as server:
        yield server


@pytest.fixture
def fresh_redis():
    """A redis-server for one test (the fault tests stop and restart it)."""
    with _redis() as server:
        yield server


@pytest.fixture(scope="session")
def rabbit_server():
    """One RabbitMQ node of the tests' own (free ports, a temporary folder) for the session."""
    from loadtests.services.daemon import Missing
    from loadtests.services.rabbitmq import RabbitServer

    try:
        server = RabbitServer()
    except Missing as error:
        missing(error)
    with server:
        yield server


@pytest.fixture(scope="session")
def celery_worker(redis_server):
    """A Celery worker (prefork, concurrency 2) on the session's Redis."""
    from loadtests.services.celeryworker import CeleryWorker

    with CeleryWorker(redis_server.url, pool="prefork", concurrency=2) as worker:
        yield worker


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL cluster of the tests' own (temporary folder, free port) for the session."""
    from loadtests.services.daemon import Missing
    from loadtests.services.postgres import PostgresServer

    try:
        server = PostgresServer(max_connections=100)
    except Missing as error:
        missing(error)
    with server:
        yield server


@pytest.fixture
def nginx_in_front():
    """Start a real nginx of the test's own in front of a server's port; stop them all after."""
    from loadtests.services.daemon import Missing
    from loadtests.services.nginx import NginxProxy

    started = []

    def _start(upstream: int, **kwargs) -> NginxProxy:
        try:
            proxy = NginxProxy(upstream, **kwargs)
        except Missing as error:
            missing(error)
        proxy.start()
        started.append(proxy)
        return proxy

    yield _start
    for proxy in started:
        proxy.stop()


@pytest.fixture
def namespace():
    """A network namespace of the test's own, its loopback up (root: the lab's hosts'
    machinery); deleted after, with every process in it."""
    from loadtests.cluster.network import delete_netns, ip, unavailable

    if why := unavailable():
        missing(RuntimeError(why))
    name = f"labtry-{os.getpid()}-{next(_namespaces)}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        delete_netns(name)
