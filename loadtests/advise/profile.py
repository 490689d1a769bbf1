"""Step 1: profile each path on one worker at one user, and try the app under every model.

For each path, on a one-process server (sync; asgi for an ASGI app): a first request
(must answer 2xx within the timeout, else :class:`BadInput`), a warm-up, then a closed
loop of one client over a window: latency R (the client's clock), CPU per request S_cpu
(psutil: the server's CPU seconds over the window ÷ requests), the worker's RSS and USS.
Then each other model serves every path once more from a one-worker server of its own:
it boots and answers (or is left out, with the reason), and its worker's memory is read.
"""

from __future__ import annotations

import http.client
import statistics
import time
from dataclasses import dataclass

import psutil

from ..harness.cpu import CpuMeter
from ..load.traffic import Route, Traffic
from ..servers import Server, ServerError, ServerSpec, launch
from . import stall
from .predict import wait_fraction
from .target import BadInput, Target, check_import

MIB = 1024 * 1024
#: Requests each path gets before its window: imports, caches and connections warm up.
WARMUP_REQUESTS = 3
#: A window closes after its seconds and at least this many requests.
MIN_REQUESTS = 5


@dataclass(frozen=True)
class PathProfile:
    path: str
    latency_s: float  # R
    cpu_s: float  # S_cpu
    requests: int
    rss_mb: float
    uss_mb: float
    #: asyncio's stall probe (an ASGI app): whether its waits overlap (None: not probed, or
    #: too little waiting to tell)
    loop_probe: stall.Overlap | None = None

    @property
    def wait_fraction(self) -> float:
        return wait_fraction(self.latency_s, self.cpu_s)


class Client:
    """One keep-alive HTTP/1.1 connection, as a Locust user holds one; reconnects as needed.
    Each request is a route of ``traffic``, with its body and the traffic's headers."""

    def __init__(self, port: int, timeout: float, traffic: Traffic | None = None):
        self.port, self.timeout = port, timeout
        self.traffic = traffic or Traffic((Route("GET", "/"),))
        self.headers = dict(self.traffic.headers)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def send(self, route: Route) -> int:
        """The status of ``route``'s request, its body read; :class:`BadInput` if it never
        answers."""
        what = f"{route.method} {route.path}"
        try:
            try:
                return self._send(route)
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # the server closed a kept-alive connection: once more
                return self._send(route)
        except TimeoutError:
            raise BadInput(f"{what} did not answer within {self.timeout:g} s: "
                           "the app hangs (or raise --timeout)") from None
        except (http.client.HTTPException, ConnectionError):
            raise BadInput(f"{what}: the server closed the connection without an "
                           "answer (did the worker crash? see its log)") from None

    def _send(self, route: Route) -> int:
        self.conn.request(route.method, route.path, body=self.traffic.body_for(route),
                          headers=self.headers)
        response = self.conn.getresponse()
        response.read()
        return response.status

    def close(self) -> None:
        self.conn.close()


def check_status(client: Client, route: Route, label: str) -> None:
    status = client.send(route)
    if not 200 <= status < 300:
        raise BadInput(f"{route.method} {route.path} answered {status} on {label}: advise "
                       "needs routes that succeed (check --path, --body and --header)")


def memory_mb(server: Server) -> tuple[float, float]:
    """(RSS, USS) of the server's busiest-in-memory worker, MiB."""
    best = (0.0, 0.0)
    for pid in server.worker_pids():
        try:
            info = psutil.Process(pid).memory_full_info()
        except psutil.NoSuchProcess:
            continue
        best = max(best, (info.rss / MIB, info.uss / MIB))
    return best


#: Seconds of the idle server metered before each timing: its own CPU, not the requests'.
BASELINE_S = 0.25


def idle_cores(server: Server) -> float:
    """The server's CPU with no request, in cores: its master's and idle workers' loops
    (gunicorn's heartbeats, gevent's hub), which a one-user timing must not charge to its
    requests -- measured: on a fast day (S_cpu ≈ 10 ms) they read as 2–3 ms of a request's
    CPU under gevent -w2 and sync -w5, 25 % of S, and the ceilings came out that much low."""
    meter = CpuMeter({"server": server.processes})
    meter.open()
    time.sleep(BASELINE_S)  # the window CPU is measured over, not synchronisation
    meter.close()
    return meter.percent("server") / 100


def time_path(server: Server, client: Client, route: Route, window_s: float,
              ) -> tuple[float, float, int]:
    """(R, S_cpu, requests) of ``route`` at one user over ``window_s`` seconds; S_cpu net of
    the server's idle CPU over the same time (:func:`idle_cores`)."""
    idle = idle_cores(server)
    meter = CpuMeter({"server": server.processes})
    latencies: list[float] = []
    meter.open()
    start = time.perf_counter()
    while time.perf_counter() - start < window_s or len(latencies) < MIN_REQUESTS:
        sent = time.perf_counter()
        client.send(route)
        latencies.append(time.perf_counter() - sent)
    meter.close()
    wall = time.perf_counter() - start
    cpu = max(0.0, meter.seconds("server") - idle * wall)
    return statistics.mean(latencies), cpu / len(latencies), len(latencies)


def base_spec(target: Target, served: str) -> ServerSpec:
    """One worker serving the app: ``served`` is a gunicorn worker class, or "server
    interface" for another server (``"granian wsgi"``)."""
    server, _, model = served.rpartition(" ")
    return ServerSpec(worker_class=model, workers=1,
                      threads=4 if model in ("gthread", "wsgi") else 1,
                      app=target.app, chdir=target.chdir, server=server or "gunicorn",
                      cpus=target.cpus, python=target.python)


def profile_paths(target: Target, *, window_s: float, timeout: float,
                  on_path=lambda path: None,
                  ) -> tuple[list[PathProfile], dict[str, tuple[float, float]]]:
    """Each path's profile on one worker (sync, or asgi), and that worker's memory by model."""
    model = "asgi" if target.kind == "asgi" else "sync"
    try:
        server = launch(base_spec(target, model))
        server.start()
    except ServerError as error:
        raise BadInput(f"--app {target.app}: {_cannot_serve(model, error)}") from None
    profiles = []
    client = Client(server.port, timeout, target.traffic)
    try:
        for route in target.routes:
            on_path(str(route))
            for _ in range(WARMUP_REQUESTS):
                check_status(client, route, f"{model} -w1")
            latency, cpu, requests = time_path(server, client, route, window_s)
            rss, uss = memory_mb(server)
            # an asyncio loop, as gevent's hub in serves_under: do the waits overlap?
            found = (stall.probe(server.url, route, target.traffic, latency, cpu)
                     if model == "asgi" else None)
            profiles.append(PathProfile(str(route), latency, cpu, requests, rss, uss, found))
        return profiles, {model: memory_mb(server)}
    finally:
        client.close()
        server.stop(grace=2, graceful=False)


def serves_under(target: Target, model: str, *, timeout: float,
                 profiles: tuple[PathProfile, ...] = ()) -> tuple[float, float] | str:
    """The worker's (RSS, USS) after every path answered 2xx under ``model``, or why not --
    for an event loop (gevent), also that each path's waiting yields to it
    (:mod:`.stall`: concurrent requests overlap their waits)."""
    if model == "gevent":
        patched = check_import(target.app, target.chdir, patch="gevent", python=target.python)
        if "error" in patched:
            return f"does not import under gevent's monkey-patching: {patched['error']}"
    try:
        with launch(base_spec(target, model)) as server:
            client = Client(server.port, timeout, target.traffic)
            try:
                for route in target.routes:
                    for _ in range(WARMUP_REQUESTS):
                        check_status(client, route, f"{model} -w1")
            except BadInput as error:
                return str(error)
            finally:
                client.close()
            if model == "gevent":
                for route, path in zip(target.routes, profiles, strict=True):
                    found = stall.probe(server.url, route, target.traffic, path.latency_s,
                                        path.cpu_s)
                    if found and not found.yields:
                        return found.explain(model)
            return memory_mb(server)
    except ServerError as error:
        return _cannot_serve(model, error)


def _cannot_serve(model: str, error: ServerError) -> str:
    """The server's failed start in one line: its log's last line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    server = model if " " in model else f"gunicorn -k {model}"
    return f"{server} could not serve it: {lines[-1] if lines else error}"
