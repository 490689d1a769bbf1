"""What an overload run sets against the burst (:func:`shedders`): each a :class:`Bound` --
the server to run, the setting as the report names it, the requests it lets wait, and the
lab's nginx in front -- sized from the capacity a run measured, so that at most half a
deadline's worth of work waits: the server's own queue limit, the app's admission limit,
nginx's rate limit, and nginx's deadline with no limit.
"""

from __future__ import annotations

import dataclasses

from ...servers import ServerSpec

#: The client's deadline: an answer later than this is not waited for, and not goodput.
DEADLINE_S = 1.0
#: The bound that sheds: at most this share of a deadline's worth of work may wait, so that
#: every admitted request is in time (the fluid's bounded queue).
BOUND_SHARE = 0.5
#: The kernel's accept queue behind a worker that bounds the connections it accepts.
KERNEL_QUEUE = 8
#: nginx's ``limit_req`` rate, as a share of the capacity measured directly: below it,
#: for the capacity behind nginx is lower (nginx's own CPU shares the cores) and a rate
#: above the capacity queues at the server, unbounded. (At 1.0 -- 66/s against 62/s
#: measured behind nginx -- the burst's goodput fell to 0.42 of capacity, 2026-12-06.)
RATE_SHARE = 0.9
#: nginx's ``proxy_read_timeout`` in front: just inside the client's deadline, so nginx's
#: 504 arrives before the client gives up.
READ_TIMEOUT_S = 0.9


@dataclasses.dataclass(frozen=True)
class Bound:
    """What a run sets against the burst: the server to run, the setting as the report
    names it, the requests it lets wait (None: no limit), and the lab's nginx in front
    (:class:`~loadtests.services.nginx.NginxProxy`'s keyword arguments; None: none)."""

    spec: ServerSpec
    setting: str
    requests: int | None
    front: tuple[tuple[str, object], ...] | None = None

    @property
    def rate_limit(self) -> tuple[int, int] | None:
        """nginx's ``limit_req`` in front: (requests a second, burst), or None."""
        return dict(self.front or ()).get("limit_req")


def _limit(capacity: float) -> int:
    """Requests that may wait: :data:`BOUND_SHARE` of a deadline's worth of work."""
    return max(2, int(capacity * DEADLINE_S * BOUND_SHARE))


def bounded(spec: ServerSpec, capacity: float) -> Bound:
    """``spec``'s queue limited to :data:`BOUND_SHARE` of a deadline's worth of work at
    ``capacity``: sync by the kernel's accept queue (``BACKLOG``), gthread and gevent by the
    connections a worker accepts (``--worker-connections``) with a short accept queue
    behind them, asgi -- whose gunicorn 27 worker enforces no ``--worker-connections``
    (``tests/test_asgi.py``) -- by nginx's ``limit_conn`` in front."""
    limit = _limit(capacity)
    if spec.model == "sync":
        return Bound(dataclasses.replace(spec, env=(*spec.env, ("BACKLOG", str(limit)))),
                     f"BACKLOG={limit}", limit)
    if spec.model in ("gthread", "gevent"):
        accepted = max(1, limit - KERNEL_QUEUE)
        return Bound(dataclasses.replace(spec, worker_connections=accepted,
                                         env=(*spec.env, ("BACKLOG", str(KERNEL_QUEUE)))),
                     f"--worker-connections {accepted}, BACKLOG={KERNEL_QUEUE}",
                     accepted + KERNEL_QUEUE)
    return Bound(spec, f"nginx limit_conn {limit}", limit, front=(("limit_conn", limit),))


def admitted(spec: ServerSpec, capacity: float) -> Bound:
    """The app's own admission limit (``ADMIT_LIMIT``, in both twins), of :func:`_limit`
    requests: a worker that holds that many answers the next 503 at once. It counts the
    requests inside the app, so it sheds only where they wait inside it -- greenlets or
    tasks awaiting I/O. On CPU work each greenlet or task runs its request to the end
    before the next one starts: one is ever inside, the rest wait before the app (the
    accept queue, the hub's or the loop's ready queue), and nothing bounds them (run on
    gevent and asgi, whose workers would hold the waiting requests; a sync or gthread
    worker holds no more than its threads)."""
    limit = _limit(capacity)
    return Bound(dataclasses.replace(spec, env=(*spec.env, ("ADMIT_LIMIT", str(limit)))),
                 f"ADMIT_LIMIT={limit}", None)


def rate_limited(spec: ServerSpec, capacity: float) -> Bound:
    """nginx's ``limit_req`` in front, at :data:`RATE_SHARE` of the capacity (whole
    requests a second, rounded down): past the rate, :func:`_limit` requests wait in nginx
    and the next is answered 503 at once. A rate, not a bound on the server's queue: what
    it lets through above the capacity queues upstream with no limit."""
    rate, burst = max(1, int(capacity * RATE_SHARE)), _limit(capacity)
    return Bound(spec, f"nginx limit_req {rate}r/s burst {burst}", burst,
                 front=(("limit_req", (rate, burst)),))


def proxied(spec: ServerSpec) -> Bound:
    """The lab's nginx in front with no limit, its ``proxy_read_timeout`` just inside the
    client's deadline: nginx answers 504 where the client would give up. Nothing waits
    less: the server still serves each request it has queued."""
    seconds = READ_TIMEOUT_S
    return Bound(spec, f"nginx proxy_read_timeout {seconds * 1000:.0f}ms", None,
                 front=(("read_timeout", seconds),))


def shedders(spec: ServerSpec, capacity: float) -> list[Bound]:
    """The runs with something set against the burst, for ``spec``'s model: its own queue
    bound; nginx in front with a deadline; where the app holds the waiting requests, the
    app's admission limit; and nginx's rate limit, whose queue is before any model's (run
    in front of sync)."""
    runs = [bounded(spec, capacity), proxied(spec)]
    if spec.model in ("gevent", "asgi"):
        runs.append(admitted(spec, capacity))
    if spec.model == "sync":
        runs.append(rate_limited(spec, capacity))
    return runs
