"""Locust scenarios for the lab: one user class per behaviour, chosen by tag or class name.

    locust -f loadtests/load/locustfile.py --host http://127.0.0.1:8000          # web UI
    locust -f loadtests/load/locustfile.py --headless -u 100 -t 30s --tags io     # one scenario
    locust -f loadtests/load/locustfile.py --headless -u 3 -t 30s CpuUser HeartbeatUser

Tags (scenarios):

* ``io``        -- IoUser: ``/io?delay=D`` in a closed loop, no think time.
* ``cpu``       -- CpuUser: ``/prime/<n>`` in a closed loop.
* ``heartbeat`` -- CpuUser plus exactly one HeartbeatUser hitting ``/health``
  every 50 ms: can a busy worker still answer?
* ``mixed``     -- IoUser and CpuUser together.
* ``gilfree``   -- HashUser: ``/hash?mb=M`` (SHA-256 in C, GIL released) in a closed loop.
* ``convoy``    -- MixedUser: ``/mixed?delay=D&n=N`` (a sleep, then a prime) in a closed loop.
* ``health``    -- HealthUser: ``/health`` in a closed loop: what a request costs the model.
* ``app``       -- AppUser: each ``--path`` of someone else's app in turn, closed loop (the
  advisor, ``python -m loadtests.advise``).

CpuUser's flavour: ``--nap`` asks ``/prime/<n>?nap=1`` (cooperative napping),
``--offload`` asks ``/offload/prime/<n>`` (the worker's process pool),
``--thread`` asks ``/prime/<n>?thread=1`` (``asyncio.to_thread``, asgi only).

Parameters are Locust custom arguments (also settable by environment):
``--delay`` (LAB_DELAY), ``--prime-n`` (LAB_PRIME_N), ``--mb`` (LAB_MB), ``--heartbeat-interval``
(LAB_HEARTBEAT_INTERVAL) and ``--warmup`` (LAB_WARMUP: seconds after which the
statistics are reset, so the summary covers steady state only).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from typing import ClassVar

import gevent
from locust import FastHttpUser, constant_pacing, events, tag, task
from locust.runners import WorkerRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV
from traffic import Traffic  # this file's folder, as wire
from wire import DB_WAIT_ROW, DEFAULT_PRIME_N, RESET_MESSAGE, STOP_MESSAGE, WORK_ROW  # here


@events.init_command_line_parser.add_listener
def _add_arguments(parser):
    parser.add_argument("--delay", type=float, default=0.1, env_var="LAB_DELAY",
                       include_in_web_ui=True, help="seconds each /io request sleeps")
    parser.add_argument("--prime-n", type=int, default=DEFAULT_PRIME_N, env_var="LAB_PRIME_N",
                       include_in_web_ui=True, help="number each /prime request checks")
    parser.add_argument("--mb", type=int, default=64, env_var="LAB_MB", include_in_web_ui=True,
                        help="MiB each /hash request hashes")
    parser.add_argument("--nap", action="store_true", env_var="LAB_NAP",
                        help="CpuUser asks /prime/<n>?nap=1 (napping)")
    parser.add_argument("--offload", action="store_true", env_var="LAB_OFFLOAD",
                        help="CpuUser asks /offload/prime/<n> (process pool)")
    parser.add_argument("--thread", action="store_true", env_var="LAB_THREAD",
                        help="CpuUser asks /prime/<n>?thread=1 (asyncio.to_thread; asgi only)")
    parser.add_argument("--db-sync", action="store_true", env_var="LAB_DB_SYNC",
                        help="DbUser asks /db?ms=...&sync=1 (asgi: the blocking driver "
                             "inside the coroutine)")
    parser.add_argument("--heartbeat-interval", type=float, default=0.05,
                       env_var="LAB_HEARTBEAT_INTERVAL", include_in_web_ui=True,
                       help="seconds between heartbeat requests")
    parser.add_argument("--heartbeat-timeout", type=float, default=60.0,
                        env_var="LAB_HEARTBEAT_TIMEOUT",
                        help="seconds a heartbeat waits for its answer before it counts as a "
                             "failure (the slow-clients lesson: 2)")
    parser.add_argument("--path", action="append", default=[], dest="paths",
                        help="AppUser: a route of the app under test, [METHOD ]PATH[=WEIGHT] "
                             "(repeat for more)")
    parser.add_argument("--body", default="",
                        help="AppUser: a file, the body of each POST, PUT or PATCH")
    parser.add_argument("--header", action="append", default=[], dest="headers",
                        help="AppUser: 'Name: value', a header every request carries")
    parser.add_argument("--warmup", type=float, default=0.0, env_var="LAB_WARMUP",
                       help="seconds after the start after which statistics are reset")
    parser.add_argument("--stop-after", type=float, default=0.0, env_var="LAB_STOP_AFTER",
                        help="stop the run this many seconds after it starts, fractions "
                             "allowed (Locust's -t takes whole seconds); 0: -t alone")
    parser.add_argument("--gate", default="", env_var="LAB_GATE",
                        help="wait, before any user starts, until this file exists (the lab's "
                             "runner starts Locust while the server boots)")
    parser.add_argument("--trace-clients", default="", env_var="LAB_TRACE_CLIENTS",
                        help="write the heartbeat's requests (sent to answered, monotonic "
                             "ns) to TRACE_CLIENTS/clients-<pid>.json (a traced cell)")
    parser.add_argument("--summary", default="", env_var="LAB_SUMMARY",
                        help="write the final statistics to SUMMARY_stats.csv and the "
                             "measured window to SUMMARY_window.json")


@events.init.add_listener
def _select_scenario(environment, **_kwargs):
    """Locust's --tags filters tasks, not users: keep only the users with a task so tagged."""
    tags = set(getattr(environment.parsed_options, "tags", None) or ())
    if tags and environment.user_classes:
        environment.user_classes[:] = [
            user for user in environment.user_classes
            if any(getattr(t, "locust_tag_set", set()) & tags for t in user.tasks)
        ]


#: How long a gated Locust waits for its gate before it gives up.
GATE_TIMEOUT_S = 300.0


@events.init.add_listener
def _wait_at_the_gate(environment, **_kwargs):
    """Hold the start (users, the -t timer) until the --gate file exists; then start it on
    time.

    gevent's loop keeps its own clock, read when the loop last ran, and ``spawn_later``
    arms its timer from that clock (``gevent.sleep`` reads the time first; a timer does
    not: ``starting_timer_may_update_loop_time`` is False). Before the first user the loop
    has not run since Locust's imports created it, so Locust's ``-t`` timer started as
    early as they took: ``-t 2s`` stopped runs after 0.01 to 1.77 s (Locust 2.47.0, gevent
    26.9.0, this lab's VM), and a gated run whose gate was open before Locust was ready
    (a busy machine) after 0.45 s, before its warm-up ended. The clock is set to now here,
    the last step before Locust arms that timer, gated or not.
    """
    gate = environment.parsed_options and environment.parsed_options.gate
    if gate:
        deadline = time.monotonic() + GATE_TIMEOUT_S
        while not os.path.exists(gate):
            if time.monotonic() > deadline:
                raise RuntimeError(f"lab: gate {gate} never opened")
            time.sleep(0.02)  # cooperative under Locust's gevent patching
    gevent.get_hub().loop.update_now()


def _after_start(environment, option: str, action) -> None:
    """Call ``action()`` the option's seconds after the run starts (0: never), on the runner
    that keeps the statistics and the run (not a ``--processes`` worker)."""
    seconds = getattr(environment.parsed_options, option, 0) if environment.parsed_options else 0
    if seconds > 0 and not isinstance(environment.runner, WorkerRunner):
        gevent.spawn_later(seconds, action)


@events.test_start.add_listener
def _schedule_warmup_reset(environment, **_kwargs):
    """--warmup: the statistics restart that many seconds after the start."""
    def reset():
        environment.runner.stats.reset_all()
        logging.info(RESET_MESSAGE)

    _after_start(environment, "warmup", reset)


@events.test_start.add_listener
def _schedule_stop(environment, **_kwargs):
    """--stop-after: stop the run that many seconds after its start, as -t does."""
    def stop():
        after = environment.parsed_options.stop_after
        logging.info(f"lab: {STOP_MESSAGE} (--stop-after {after:g}), shutting down")
        environment.runner.quit()

    _after_start(environment, "stop_after", stop)


_window: dict[str, float] = {}


@events.test_stop.add_listener
def _note_window(environment, **_kwargs):
    _window["started"] = environment.stats.total.start_time  # the start, or the warm-up reset
    _window["stopped"] = time.time()


@events.init.add_listener
def _summary_on_quit(environment, **_kwargs):
    """Write the final statistics with Locust's own StatsCSV after every user has stopped.

    (``--csv`` rewrites ``_stats.csv`` once a second, so its last copy can miss
    the final second of a short run.)
    """
    prefix = environment.parsed_options and environment.parsed_options.summary
    if not prefix or isinstance(environment.runner, WorkerRunner):
        return

    @events.quit.add_listener
    def _write(**_kwargs):
        with open(f"{prefix}_stats.csv", "w", newline="") as handle:
            StatsCSV(environment, PERCENTILES_TO_REPORT).requests_csv(csv.writer(handle))
        with open(f"{prefix}_window.json", "w") as handle:
            json.dump(_window, handle)


@events.init.add_listener
def _trace_the_heartbeat(environment, **_kwargs):
    """--trace-clients: the heartbeat's own view of each request, for the timeline (a frozen
    worker starts serving it only when it thaws; its client waited all along)."""
    folder = environment.parsed_options and environment.parsed_options.trace_clients
    if not folder:
        return
    spans: list[tuple[int, int, str]] = []

    @events.request.add_listener
    def _record(name, response_time, **_kwargs):
        if name == "heartbeat":
            end = time.monotonic_ns()  # fired as the answer is read
            spans.append((end - round(response_time * 1e6), end, name))

    @events.quit.add_listener
    def _write(**_kwargs):
        # a heartbeat still waiting when the run stopped waited from its send to now: a
        # frozen loop can hold it the whole run, and then it is the one span that matters
        stopped = time.monotonic_ns()
        waiting = [(sent, stopped, "heartbeat") for sent in HeartbeatUser.unanswered]
        with open(os.path.join(folder, f"clients-{os.getpid()}.json"), "w") as handle:
            json.dump({"pid": os.getpid(), "clock": "monotonic_ns",
                       "requests": spans + waiting, "unanswered": len(waiting)}, handle)


def _report_cpu(environment, response) -> None:
    """A successful answer's ``cpu`` (the check's CPU seconds where it ran) as a response
    time in the statistics row WORK_ROW: S under the load."""
    if response.status_code == 200:
        environment.events.request.fire(
            request_type="CPU", name=WORK_ROW, response_time=response.json()["cpu"] * 1000,
            response_length=0, exception=None, context={})


class IoUser(FastHttpUser):
    """Blocking I/O on the server: each request sleeps ``--delay`` seconds."""

    @tag("io", "mixed")
    @task
    def io(self):
        self.client.get(f"/io?delay={self.environment.parsed_options.delay}", name="/io")


class CpuUser(FastHttpUser):
    """Pure-Python CPU work on the server: ``is_prime(--prime-n)``."""

    @tag("cpu", "heartbeat", "mixed")
    @task
    def prime(self):
        options = self.environment.parsed_options
        if options.offload:
            response = self.client.get(f"/offload/prime/{options.prime_n}", name="/prime")
        else:
            suffix = "?nap=1" if options.nap else "?thread=1" if options.thread else ""
            response = self.client.get(f"/prime/{options.prime_n}{suffix}", name="/prime")
        # the check's own CPU where it ran: the thread (a napping check's net of what the
        # thread ran between its naps), or the offload backend's process
        _report_cpu(self.environment, response)


class MixedUser(FastHttpUser):
    """Mostly waiting, partly CPU: ``/mixed?delay=D&n=N`` sleeps D s, then checks N."""

    @tag("convoy")
    @task
    def mixed(self):
        options = self.environment.parsed_options
        response = self.client.get(f"/mixed?delay={options.delay}&n={options.prime_n}",
                                   name="/mixed")
        _report_cpu(self.environment, response)  # the check's own CPU, as CpuUser's


class HashUser(FastHttpUser):
    """CPU work in C that releases the GIL: SHA-256 of ``--mb`` MiB."""

    @tag("gilfree")
    @task
    def hash(self):
        self.client.get(f"/hash?mb={self.environment.parsed_options.mb}", name="/hash")


class DbUser(FastHttpUser):
    """Waiting in PostgreSQL: each request runs ``pg_sleep(--delay)`` on a pooled connection."""

    @tag("db", "dbbeat")
    @task
    def db(self):
        options = self.environment.parsed_options
        sync = "&sync=1" if options.db_sync else ""
        response = self.client.get(f"/db?ms={round(options.delay * 1000)}{sync}", name="/db")
        if response.status_code == 200:
            self.environment.events.request.fire(
                request_type="DB", name=DB_WAIT_ROW,
                response_time=response.json()["pool_wait"] * 1000, response_length=0,
                exception=None, context={})


class HealthUser(FastHttpUser):
    """The cheapest request in a closed loop: the model's own cost per request."""

    @tag("health")
    @task
    def health(self):
        self.client.get("/health", name="/health")


class AppUser(FastHttpUser):
    """Any app's routes (``--path [METHOD ]PATH[=WEIGHT]``, repeated; ``--body``,
    ``--header``), each user taking them in turn, each as often as its weight says."""

    def on_start(self):
        options = self.environment.parsed_options
        self._traffic = Traffic.parse(options.paths, options.body or None, options.headers)
        self._turn = self._traffic.cycle()
        self._headers = dict(self._traffic.headers)

    @tag("app")
    @task
    def path(self):
        route = self._turn()
        self.client.request(route.method, route.path, name=str(route), headers=self._headers,
                            data=self._traffic.body_for(route))


class HeartbeatUser(FastHttpUser):
    """One paced user asking ``/health`` every ``--heartbeat-interval`` seconds."""

    fixed_count = 1
    #: the send times (monotonic ns) of heartbeats still unanswered when their user stopped
    unanswered: ClassVar[list[int]] = []
    sent_ns: int | None = None

    def __init__(self, environment):
        # FastHttpUser builds its client from these in __init__
        self.network_timeout = self.connection_timeout = \
            environment.parsed_options.heartbeat_timeout
        super().__init__(environment)

    def wait_time(self):
        return constant_pacing(self.environment.parsed_options.heartbeat_interval)(self)

    @tag("heartbeat", "slowclients", "dbbeat")
    @task
    def heartbeat(self):
        self.sent_ns = time.monotonic_ns()
        self.client.get("/health", name="heartbeat")
        self.sent_ns = None  # not reached when the user is stopped mid-request

    def on_stop(self):
        if self.sent_ns is not None:
            HeartbeatUser.unanswered.append(self.sent_ns)
