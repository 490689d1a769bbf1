"""gunicorn.conf.py: models from the environment or from flags, clear errors otherwise."""

import os
import subprocess
import sys

import pytest

from loadtests.harness.process import Process
from loadtests.load.client import get
from loadtests.servers import CONFIG, ROOT, GunicornServer, ServerError, ServerSpec, free_port

pytestmark = pytest.mark.integration


def _gunicorn(*args, **env):
    """Run gunicorn to completion (it is expected to refuse to start)."""
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), *args],
        cwd=ROOT, env={**os.environ, **env, "BIND": f"127.0.0.1:{free_port()}"},
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        ((), {"WORKER_CLASS": "tornado-ish"}, "unknown worker class 'tornado-ish'"),
        (("-k", "nosuchworker"), {}, "unknown worker class 'nosuchworker'"),
        ((), {"WORKERS": "zero"}, "WORKERS must be a positive integer"),
        ((), {"THREADS": "-3"}, "THREADS must be a positive integer"),
        ((), {"HEADER_TIMEOUT": "soon"}, "HEADER_TIMEOUT must be 0 (off) or seconds in (0, "),
        ((), {"HEADER_TIMEOUT": "30"}, "HEADER_TIMEOUT must be 0 (off) or seconds in (0, TIMEOUT="),
        ((), {"OFFLOAD_TIMEOUT": "30"}, "OFFLOAD_TIMEOUT must be seconds in (0, TIMEOUT="),
        ((), {"OFFLOAD_BACKEND": "celery", "VISIBILITY_TIMEOUT": "soon"},
         "VISIBILITY_TIMEOUT must be a positive integer"),
        ((), {"OFFLOAD_BACKEND": "celery", "CELERY_BROKER_URL": "kafka://127.0.0.1:9092"},
         "CELERY_BROKER_URL must start with redis:// (Redis) or amqp:// (RabbitMQ)"),
        ((), {"DB_DRIVER": "asyncpg"}, "DB_DRIVER must be one of psycopg, psycopg2, "),
        ((), {"DB_POOL_SIZE": "0"}, "DB_POOL_SIZE must be a positive integer"),
        ((), {"DB_POOL_TIMEOUT": "never"}, "DB_POOL_TIMEOUT must be seconds in (0, TIMEOUT="),
        ((), {"GC_FREEZE": "yes"}, "GC_FREEZE must be 0 or 1, got 'yes'"),
    ],
)
def test_bad_settings_exit_2_with_one_clear_line(args, env, needle):
    result = _gunicorn(*args, **env)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("model", ["sync", "gthread", "gevent", "asgi"])
def test_environment_alone_chooses_the_model(model):
    spec = ServerSpec(model, workers=1, threads=3 if model == "gthread" else 1, flags=False)
    with GunicornServer(spec) as server:
        body = get(server.url + "/info").body
    assert body["worker_class"] == model
    assert ("event_loop" in body) is (model == "asgi")  # asgi serves the ASGI twin


def test_asgi_flag_overrides_a_wsgi_environment():
    spec = ServerSpec("asgi", env=(("WORKER_CLASS", "gthread"),))
    with GunicornServer(spec) as server:
        body = get(server.url + "/info").body
    assert body["worker_class"] == "asgi" and body["event_loop"]["task"]


def test_flags_override_the_environment():
    spec = ServerSpec("sync", env=(("WORKER_CLASS", "gevent"), ("WORKERS", "3")))
    with GunicornServer(spec) as server:
        body = get(server.url + "/info").body
        assert len(server.worker_pids()) == 1
    assert body["worker_class"] == "sync"


def test_failed_start_raises_and_leaves_no_process():
    server = GunicornServer(ServerSpec("sync", env=(("TIMEOUT", "nope"),), flags=False))
    try:
        with pytest.raises(ServerError, match="TIMEOUT must be a positive integer"):
            server.start()
        assert server.proc is None
    finally:
        server.stop()


def _listening(pid: int, port: int) -> bool:
    import psutil

    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
               for c in psutil.Process(pid).net_connections(kind="tcp"))


def test_reuse_port_gives_each_worker_its_own_socket():
    spec = ServerSpec("gevent", workers=2, env=(("REUSE_PORT", "1"),))
    with GunicornServer(spec) as server:
        workers = server.worker_pids()
        assert len(workers) == 2
        assert all(_listening(pid, server.port) for pid in workers)
        assert not _listening(server.proc.pid, server.port)  # the master binds nothing
        assert get(server.url + "/health").status == 200


def test_bad_reuse_port_exits_2_with_one_line():
    result = _gunicorn(REUSE_PORT="yes")
    assert result.returncode == 2 and "REUSE_PORT must be 0 or 1" in result.stderr


def test_the_configs_own_copies_of_the_labs_names_agree():
    """gunicorn.conf.py imports nothing of the lab's (it serves apps of yours too), so it keeps
    its own copies of the models, drivers and backends it checks: they must be the lab's."""
    import ast

    from loadtests.servers import MODELS
    from webapp.db import DRIVERS
    from webapp.offload import BACKENDS
    from webapp.tasks import BROKERS

    tree = ast.parse(CONFIG.read_text())
    copies = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
              if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
              and node.targets[0].id in ("MODELS", "DB_DRIVERS", "OFFLOAD_BACKENDS",
                                         "BROKER_SCHEMES")}
    assert copies == {"MODELS": MODELS, "DB_DRIVERS": DRIVERS, "OFFLOAD_BACKENDS": BACKENDS,
                      "BROKER_SCHEMES": tuple(BROKERS)}


class Typed(Process):
    """``gunicorn -c gunicorn.conf.py <args>`` as a reader types it (only BIND set, to a free
    port): no flag or variable of the lab's harness added."""

    name = "gunicorn"
    signal_group = False

    def __init__(self, *args: str):
        super().__init__()
        self.args, self.port = args, free_port()

    def launch_argv(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), *self.args]

    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in super().child_env().items()
               if k not in ("WORKER_CLASS", "THREADS")}
        return env | {"BIND": f"127.0.0.1:{self.port}"}

    def is_ready(self) -> bool:
        try:
            return get(f"http://127.0.0.1:{self.port}/health", timeout=1).status == 200
        except OSError:
            return False


@pytest.mark.parametrize(("args", "model", "threads"), [
    (("-k", "gthread"), "gthread", 4),
    (("-k", "gthread", "--threads", "2"), "gthread", 2),
])
def test_the_flag_given_decides_the_default_threads(args, model, threads):
    """The docs' ``gunicorn -c gunicorn.conf.py -k gthread`` serves with 4 threads: the
    effective worker class (-k wins over WORKER_CLASS) picks the default, not the variable."""
    with Typed(*args) as server:
        body = get(f"http://127.0.0.1:{server.port}/info").body
    assert (body["worker_class"], body["threads"]) == (model, threads)
