"""One gunicorn config for every worker model of the lab.

    gunicorn -c gunicorn.conf.py                      # sync, 1 worker, 127.0.0.1:8000
    WORKER_CLASS=gevent gunicorn -c gunicorn.conf.py  # choose by environment ...
    gunicorn -c gunicorn.conf.py -k gthread -w 2 --threads 8   # ... or by gunicorn's flags
    gunicorn -c gunicorn.conf.py -k asgi              # asyncio: serves the ASGI twin
    gunicorn -c gunicorn.conf.py -k gevent --chdir ~/proj pkg.mod:app   # any app of yours

Environment variables set the defaults below; gunicorn's command-line flags
override them, as they override any config file.
"""

import os
import sys

MODELS = ("sync", "gthread", "gevent", "asgi")


def _fail(message: str) -> None:
    """A usage error: one line on stderr and exit status 2, not a traceback."""
    print(f"gunicorn.conf.py: {message}", file=sys.stderr)
    sys.exit(2)


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        _fail(f"{name} must be a positive integer, got {raw!r}")
    return value


def _env_seconds_below(name: str, default: str, limit: int, *, zero_is_off: bool = False) -> float:
    """Seconds in (0, TIMEOUT=limit) -- or 0, "off", where allowed -- else one line, exit 2."""
    raw = _env(name, default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (0 < value < limit or (zero_is_off and value == 0)):
        off = "0 (off) or " if zero_is_off else ""
        _fail(f"{name} must be {off}seconds in (0, TIMEOUT={limit}), got {raw!r}")
    return value


def _check_worker_class(name: str, source: str) -> None:
    """Exit with one clear line, not gunicorn's traceback, on an unknown worker class."""
    from gunicorn.util import load_class

    try:
        load_class(name, section="gunicorn.workers")
    except Exception:
        _fail(f"unknown worker class {name!r} ({source}); the lab's models are {', '.join(MODELS)}")


def _cli_args():
    """gunicorn's command line, read with gunicorn's own parser (None outside gunicorn)."""
    if "gunicorn" not in os.path.basename(sys.argv[0]) + sys.argv[0]:
        return None
    from gunicorn.config import Config

    return Config().parser().parse_known_args(sys.argv[1:])[0]


def _cli_worker_class() -> str | None:
    """The -k/--worker-class given on gunicorn's command line."""
    args = _cli_args()
    return args.worker_class if args else None


worker_class = _env("WORKER_CLASS", "sync")
if worker_class not in MODELS:
    _check_worker_class(worker_class, "WORKER_CLASS")
if (_cli_class := _cli_worker_class()) and _cli_class not in MODELS:
    _check_worker_class(_cli_class, "-k")

# The effective worker class decides what follows: -k on the command line wins over
# WORKER_CLASS, as gunicorn itself applies it. The asyncio workers (gunicorn's asgi,
# uvicorn-worker's) serve the ASGI twin of the app, every other model the Flask app.
ASGI_WORKERS = ("asgi", "uvicorn_worker.UvicornWorker", "uvicorn_worker.UvicornH11Worker")
_model = _cli_class or worker_class
wsgi_app = "webapp.asgi:app" if _model in ASGI_WORKERS else "webapp.wsgi:app"
bind = [_env("BIND", "127.0.0.1:8000")]
workers = _env_int("WORKERS", 1)
# More than one thread turns gunicorn's sync worker into gthread, so only
# gthread gets a pool by default.
threads = _env_int("THREADS", 4 if _model == "gthread" else 1)
worker_connections = _env_int("WORKER_CONNECTIONS", 1000)
# The kernel's accept queue (gunicorn's --backlog, default 2048): connections waiting for a
# worker to accept them. Past it, Linux drops a new connection's SYN and the client tries again
# a second later: a small backlog sheds under overload (the overload lesson).
backlog = _env_int("BACKLOG", 2048)
timeout = _env_int("TIMEOUT", 30)
graceful_timeout = _env_int("GRACEFUL_TIMEOUT", 30)
# Seconds an idle keep-alive connection stays open (gunicorn's default, 2); on gevent it also
# bounds how long a client may take to send a request header (measured: the slow-clients lesson).
keepalive = _env_int("KEEPALIVE", 2)
# HEADER_TIMEOUT: seconds a sync, gthread or asgi worker waits for a request header before it
# answers 408 and hangs up (webapp/instrument/headerdeadline.py; gevent ends one at keepalive
# itself); 0, the default, keeps gunicorn's own behaviour, under which a trickling header holds
# a gthread thread, or an asgi connection, for as long as it trickles.
header_timeout = _env_seconds_below("HEADER_TIMEOUT", "0", timeout, zero_is_off=True)
loglevel = _env("LOG_LEVEL", "info")
# HTTP limits, enforced by gunicorn before the app runs (it answers 400/414/431 itself).
limit_request_line = _env_int("LIMIT_REQUEST_LINE", 4094)  # bytes in "GET /path?query HTTP/1.1"
limit_request_fields = _env_int("LIMIT_REQUEST_FIELDS", 50)  # header count
limit_request_field_size = _env_int("LIMIT_REQUEST_FIELD_SIZE", 8190)  # bytes per header
accesslog = os.environ.get("ACCESS_LOG") or None
# REUSE_PORT=1: each worker opens its own SO_REUSEPORT socket after the fork (gunicorn's
# arbiter.py), so the kernel spreads new connections over the workers instead of letting the
# first worker to wake accept them all (see the matrix's balance lesson).
if (_reuse_port := _env("REUSE_PORT", "0")) not in ("0", "1"):
    _fail(f"REUSE_PORT must be 0 or 1, got {_reuse_port!r}")
reuse_port = _reuse_port == "1"
proc_name = "worker-lab"

# The database behind /db (webapp/db/): DATABASE_URL as given; DB_DRIVER, DB_POOL_SIZE
# (connections per worker process) and DB_POOL_TIMEOUT (seconds a request waits for one,
# then 503) checked here, so that a bad value stops gunicorn instead of failing requests.
DB_DRIVERS = ("psycopg", "psycopg2", "psycopg2-green")
if (_db_driver := _env("DB_DRIVER", "psycopg")) not in DB_DRIVERS:
    _fail(f"DB_DRIVER must be one of {', '.join(DB_DRIVERS)}, got {_db_driver!r}")
_env_int("DB_POOL_SIZE", 10)
_env_seconds_below("DB_POOL_TIMEOUT", "2", timeout)

# Offload backend of /offload/prime and /spin?offload=1 (webapp/offload/): the worker's own
# process pool, Celery over Redis or RabbitMQ (REDIS_URL, CELERY_BROKER_URL, `celery -A
# webapp.tasks worker`), or gunicorn's dirty workers, started below. OFFLOAD_TIMEOUT: seconds
# a request waits for its task (504 after), below the worker timeout so that a slow task
# never gets its web worker killed.
OFFLOAD_BACKENDS = ("pool", "celery", "dirty")
if (offload_backend := _env("OFFLOAD_BACKEND", "pool")) not in OFFLOAD_BACKENDS:
    _fail(f"OFFLOAD_BACKEND must be one of {', '.join(OFFLOAD_BACKENDS)}, got {offload_backend!r}")
_offload_timeout = _env_seconds_below("OFFLOAD_TIMEOUT", "20", timeout)
# CELERY_BROKER_URL: Celery's own name for its broker; unset, Redis (REDIS_URL) is the broker.
BROKER_SCHEMES = ("redis", "amqp")
if offload_backend == "celery":  # read by webapp.tasks at the first call: checked here, at start
    _env_int("VISIBILITY_TIMEOUT", int(_offload_timeout) + 10)
    if (_broker := _env("CELERY_BROKER_URL", "")) and \
            _broker.partition("://")[0] not in BROKER_SCHEMES:
        _fail(f"CELERY_BROKER_URL must start with redis:// (Redis) or amqp:// (RabbitMQ), "
              f"got {_broker!r}")
if offload_backend == "dirty":
    dirty_apps = ["webapp.offload.dirtyapp:PrimeApp"]
    # One per core this process may run on: its CPU affinity (a container's cpuset, taskset),
    # not os.cpu_count(), which counts the machine's (measured: 2 under `taskset -c 0`).
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    dirty_workers = _env_int("DIRTY_WORKERS", _cores or 1)
    dirty_timeout = max(1, round(_offload_timeout))
    # Idle dirty workers stop at once; this bounds a busy one (and Python >= 3.12's wait).
    dirty_graceful_timeout = 2
    # gunicorn 27.0.1 keeps the dirty arbiter's pid in /tmp/gunicorn-dirty-<proc_name>.pid and,
    # at start, kills the process named there as an "orphan": with one proc_name, a second lab
    # server would kill the first one's dirty arbiter. One name per listening address.
    _cli = _cli_args()
    _address = (_cli.bind if _cli and _cli.bind else bind)[0]
    proc_name = f"worker-lab-{_address.replace(':', '_').replace('/', '_')}"
    # gunicorn 27.0.1 gives each dirty arbiter it spawns a new random socket path, but HTTP
    # workers keep the path they were forked with: after a dead arbiter is replaced, every
    # call fails until the HTTP workers restart. The lab pins one path per server (kept in the
    # environment, so a HUP's re-read of this file keeps it); on_dirty_starting binds the
    # arbiter there and webapp/offload/dirty.py connects there.
    if "LAB_DIRTY_SOCKET" not in os.environ:
        import tempfile

        os.environ["LAB_DIRTY_SOCKET"] = os.path.join(
            tempfile.mkdtemp(prefix="worker-lab-dirty-"), "arbiter.sock")


def on_dirty_starting(arbiter):
    """Bind every dirty arbiter of this server, first or respawned, at the one pinned path;
    and answer the calls a leaving dirty worker held (27.0.1 leaves them hanging: see
    webapp/offload/dirtyarbiter.py, imported here, in the arbiter, only when dirty); and
    stop it without a traceback."""
    from webapp.offload.dirtyarbiter import quiet_stop, settle_on_exit

    arbiter.socket_path = os.environ["LAB_DIRTY_SOCKET"]
    os.environ["GUNICORN_DIRTY_SOCKET"] = arbiter.socket_path
    settle_on_exit(arbiter)
    quiet_stop(arbiter)


def on_exit(server):
    """Remove the pinned dirty socket's folder with the server."""
    import shutil

    if path := os.environ.get("LAB_DIRTY_SOCKET"):
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def _env_float(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        _fail(f"{name} must be seconds in (0, 1], got {raw!r}")
    return value


# asgi: when a client disconnects, gunicorn 27 ignores the app's further sends and cancels the
# request's task after this grace period (its default: 3 s). The lab's requests need no
# clean-up time, so a spinner whose client left stops its check after a second.
asgi_disconnect_grace_period = 1

# ADMIT_LIMIT: requests one worker process holds at once; the next is answered 503 at once
# (webapp/admission.py; unset or 0: no limit). Checked here, so a bad value stops gunicorn.
if (_admit := _env("ADMIT_LIMIT", "0")) != "0":
    _env_int("ADMIT_LIMIT", 0)

# sys.setswitchinterval in each worker: how often a thread holding the GIL is
# asked to hand it over (Python's default: 0.005 s).
switch_interval = _env_float("SWITCH_INTERVAL", None)
# asgi: the app's loop watchdog period (webapp/instrument/loopwatchdog.py), checked here so
# that a bad value stops gunicorn with one line instead of a lifespan failure in each worker.
_env_float("LOOP_WATCHDOG", None)
# PIN_CORES=1: each worker runs on one core of its own, in turn (os.sched_setaffinity after the
# fork; the convoy lesson: a thread woken for the GIL then waits for no other process's core).
if (_pin := _env("PIN_CORES", "0")) not in ("0", "1"):
    _fail(f"PIN_CORES must be 0 or 1, got {_pin!r}")
pin_cores = _pin == "1"
# GC_FREEZE=1: gc.freeze() in each worker once the app is loaded (post_worker_init), so that
# the collector no longer walks the app's own objects: a fresh worker's first full
# collection stops it for tens of milliseconds otherwise (the open-traffic lesson).
if (_freeze := _env("GC_FREEZE", "0")) not in ("0", "1"):
    _fail(f"GC_FREEZE must be 0 or 1, got {_freeze!r}")
gc_freeze = _freeze == "1"

# gunicorn 23+ opens a control socket at a fixed path; several lab servers on
# one machine (tests, the matrix) would fight over it, and the lab needs none.
control_socket_disable = True


def on_starting(server):
    """Refuse an address already in use with one line and status 2 (gunicorn would retry, then
    print a traceback-like "Can't connect"); runs once in the master, not on reload."""
    import socket

    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a unix socket or fd: gunicorn's own checks apply
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                _fail(f"cannot listen on {address[0]}:{address[1]}: {error.strerror}")


def post_fork(server, worker):
    """PIN_CORES=1: this worker on the next core in turn (the n-th worker spawned on core
    (n - 1) mod cores; a replaced worker takes the next)."""
    if pin_cores:
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[(worker.age - 1) % len(cores)]})


def _serves_the_lab(worker) -> bool:
    """True when the worker serves the lab's own app, not one named on the command line
    (the advisor's, ``loadtests/advise``): only then do the hooks import ``webapp``."""
    return str(getattr(worker.app, "app_uri", "") or "").startswith("webapp.")


def _instrument(name: str):
    """webapp/instrument/<name>.py, loaded by its path: trace.py and headerdeadline.py import
    nothing of the lab's, so that they serve an app of yours with ``--chdir`` too (where
    ``webapp`` is not importable)."""
    if (module := sys.modules.get(f"lab_{name}")) is None:
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            f"lab_{name}", os.path.join(os.path.dirname(os.path.abspath(__file__)), "webapp",
                                        "instrument", f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"lab_{name}"] = module
        spec.loader.exec_module(module)
    return module


def post_worker_init(worker):
    """Tell the app which model serves it, and log one line per worker; with TRACE=1, wrap
    the worker's app in the request tracer (webapp/instrument/trace.py)."""
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    if gc_freeze:
        import gc

        gc.freeze()
    if os.environ.get("TRACE", "").strip() == "1":
        _instrument("trace").install(worker)
    lab = _serves_the_lab(worker)
    if lab:
        from webapp.instrument import gcpauses, runtime

        gcpauses.install()  # /info's "gc": how long collections stopped this worker
        model = runtime.record_worker(worker)
    else:
        model = worker.cfg.worker_class_str  # gunicorn's own name: sync, gthread, gevent, asgi
    if header_timeout and model in ("sync", "gthread", "asgi"):  # any app, the lab's or yours
        _instrument("headerdeadline").install(worker, header_timeout, model)
    cfg = worker.cfg
    detail = {
        "sync": "1 request at a time",
        "gthread": f"threads={cfg.threads}",
        "gevent": f"worker_connections={cfg.worker_connections}",
        # gunicorn 27's asgi worker does not enforce worker_connections (see README)
        "asgi": f"event_loop={type(getattr(worker, 'loop', None)).__name__}",
    }.get(model, "")
    worker.log.info("worker ready: model=%s pid=%s %s switch_interval=%s", model, worker.pid,
                    detail, sys.getswitchinterval())


def pre_request(worker, req):
    """The request header has arrived: lift its HEADER_TIMEOUT deadline (if any); then
    gunicorn's own default, a debug line."""
    if (deadline := getattr(worker, "header_deadline", None)) is not None:
        deadline.lift()
    worker.log.debug("%s %s", req.method, req.path)


def worker_exit(server, worker):
    """Shut this worker's offload pool down with it (no orphaned pool processes), close
    its database connections if it opened any, and write its request spans (TRACE=1)."""
    if trace := sys.modules.get("lab_trace"):  # TRACE=1: this worker's request spans
        trace.flush()
    if not _serves_the_lab(worker):
        return
    from webapp import offload

    offload.shutdown()
    if pools := sys.modules.get("webapp.db.pools"):  # imported only by a worker that used it
        pools.close()
