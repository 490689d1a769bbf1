"""The open-loop generator's client: one server, reached through a pool of keep-alive
connections (geventhttpclient, Locust's FastHttpUser's client), each request's outcome and
the answer's fields read as it ends."""

from __future__ import annotations

import json
import time

import gevent
from geventhttpclient import URL, HTTPClient
from geventhttpclient.response import HTTPParseError

from .outcomes import Run, record
from .traffic import Route, Traffic


def failure_kind(error: OSError) -> str:
    """A connection error's kind, as the outcomes count it.

    >>> failure_kind(ConnectionRefusedError()), failure_kind(BrokenPipeError())
    ('refused', 'reset')
    """
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    return type(error).__name__


def _json(body: bytes) -> dict:
    """The answer's JSON object, or an empty one."""
    try:
        answer = json.loads(body)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


class Target:
    """One server, reached through a pool of keep-alive connections (geventhttpclient): a
    GET of the URL's path, or each request's route drawn from ``traffic`` by weight
    (seeded by ``seed``), with its body and headers."""

    def __init__(self, url: str, connections: int, timeout: float, by: str | None = None,
                 traffic: Traffic | None = None, seed: int | None = None):
        self.by = by
        self.traffic = traffic or Traffic((Route("GET", URL(url).request_uri or "/"),))
        self.route = self.traffic.chooser(seed)
        self.headers = dict(self.traffic.headers)
        self.client = HTTPClient.from_url(url, concurrency=connections,
                                          connection_timeout=timeout, network_timeout=timeout)
        # geventhttpclient sends a GET again when its connection closes before the answer,
        # up to the pool's size + 1 times (client.py: attempts_left): a server that hangs
        # up was sent 502 copies of each request at 500 connections (measured). Its size is
        # read nowhere else: 0 leaves the one retry a client makes on a stale keep-alive
        # connection.
        self.client._connection_pool.size = 0
        # The pool resolves the address for each connection it opens (``_resolve``),
        # through gevent's threaded resolver: its first call starts a thread (about 6 ms in
        # which the hub ran nothing: the first sends of every run 2-8 ms late), and a burst
        # of new connections grows its pool of threads, each new thread contending with the
        # hub for the GIL (seven started at once mid-run, sends up to 17 ms late: p99 6.2
        # ms at 1,000/s on one core, where the runs without a new thread stay at 0.4-1.1).
        # Resolved once here, before the schedule starts, and that answer kept.
        pool = self.client._connection_pool
        addresses = pool._resolve()
        pool._resolve = lambda: addresses

    def send(self, run: Run, due: float) -> None:
        """One request: its send lag from ``due``, then its outcome and its latency from
        ``due``; sent again, up to ``run.retries`` times, while it times out (a request
        killed at the end, still out: timed out)."""
        sent = time.perf_counter()
        record(run.lag, sent - due)
        route = self.route()
        outcome: int | str = "timeout"
        body, attempts = b"", 0
        try:
            while outcome == "timeout" and attempts <= run.retries:
                sent = time.perf_counter()
                attempts += 1
                run.sent += 1
                outcome, body = self.attempt(route)
        finally:
            end = time.perf_counter()
            run.count(due, outcome, end - due, end - sent, attempts,
                      self.read(run, outcome, body))

    def read(self, run: Run, outcome: int | str, body: bytes) -> dict[str, float]:
        """An answer's fields: counted by ``by``, and the timed ones (``run.fields``) kept
        in their histograms; returns the timed ones it had."""
        if not (isinstance(outcome, int) and (self.by or run.fields)):
            return {}
        answer = _json(body)
        if self.by:
            run.by[str(answer.get(self.by, "-"))] += 1
        values = {name: value for name in run.fields
                  if isinstance(value := answer.get(name), (int, float))}
        for name, value in values.items():
            record(run.fields[name], value)
        return values

    def attempt(self, route: Route) -> tuple[int | str, bytes]:
        """One request of ``route``: its status and body, or the failure's kind ("timeout":
        no answer within the deadline)."""
        try:
            response = self.client.request(route.method, route.path,
                                           body=self.traffic.body_for(route) or b"",
                                           headers=self.headers)
            return response.status_code, response.read()
        except (TimeoutError, gevent.Timeout):
            return "timeout", b""
        except HTTPParseError:  # geventhttpclient's: the server hung up before a whole answer
            return "closed", b""
        except OSError as error:
            return failure_kind(error), b""

    def close(self) -> None:
        self.client.close()
