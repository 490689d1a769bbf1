"""What the lab changes inside gunicorn 27.0.1's dirty arbiter: a leaving dirty worker's
calls are answered, not left hanging; and a stopping arbiter prints no traceback.

The arbiter gives each dirty worker a queue and a consumer task; ``route_request`` puts a
call on the queue with a future and waits for that future. When the worker exits, the
arbiter's ``_cleanup_worker`` cancels the consumer, and 27.0.1's consumer stops on
``CancelledError`` without settling anything: the call it was running and every call still
queued behind it wait forever, and the HTTP worker's client answers 504 only at its
``OFFLOAD_TIMEOUT``. A SIGHUP is where it shows: ``reload()`` spawns new dirty workers and
then terminates workers (``list(self.workers)[dirty_workers:]``: the new ones; the logs show
an old one leaving too), so for a moment calls are routed round-robin to workers already
leaving (measured: four threads calling in a loop for 1.5 s after a HUP, 11 of 5521 calls
hung to the 5 s timeout, in one of six runs; the lab's HUP test met it in two of four
clean-clone CI runs).

:func:`settle_on_exit` gives one arbiter consumers that, when they end (cancelled, even
before they first ran), fail the call they held and every queued call with
``DirtyWorkerError``: ``route_request`` answers that to the HTTP worker at once, which tries
another worker (webapp/offload/dirty.py). Measured the same way with it: 0 of 16754 calls
hung or failed in twelve runs. Installed by gunicorn.conf.py's ``on_dirty_starting``;
nothing else of the arbiter changes. (A forked dirty worker inherits the arbiter's pending
consumer tasks, and may print "Task was destroyed but it is pending" when it exits: the
copy, not the arbiter's task.)

:func:`quiet_stop`: when the server stops, ``asyncio.run`` cancels the arbiter's tasks, among
them one per HTTP worker's connection (``handle_client``, still reading). Python 3.11's
``asyncio.start_unix_server`` then calls ``task.exception()`` on the cancelled task, which
raises, and the loop prints "Exception in callback ... CancelledError" with its traceback on
every stop (seen on each ``kill`` of a dirty server in the by-hand scripts, Python 3.11.7).
The wrapped handler ends quietly when cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib

from gunicorn.dirty import DirtyWorkerError


def settle_on_exit(arbiter) -> None:
    """Start this arbiter's per-worker consumers as :func:`consume`, and settle what a
    consumer leaves when it ends, however it ends (even cancelled before it first ran)."""

    async def start_worker_consumer(worker_pid: int) -> None:
        queue: asyncio.Queue = asyncio.Queue()
        held: list[asyncio.Future] = []  # the call the consumer is running
        arbiter.worker_queues[worker_pid] = queue
        task = asyncio.create_task(consume(arbiter, worker_pid, queue, held))
        task.add_done_callback(lambda _: _fail_left(worker_pid, queue, held))
        arbiter.worker_consumers[worker_pid] = task

    arbiter._start_worker_consumer = start_worker_consumer


def quiet_stop(arbiter) -> None:
    """Let this arbiter's connection handlers end without an exception when cancelled."""
    handle = arbiter.handle_client

    async def handle_client(reader, writer) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # the server is stopping
            await handle(reader, writer)

    arbiter.handle_client = handle_client


async def consume(arbiter, worker_pid: int, queue: asyncio.Queue,
                  held: list[asyncio.Future]) -> None:
    """27.0.1's consumer loop, but the call it runs is kept in ``held`` (until the next: a
    settled future stays settled)."""
    while arbiter.alive:
        request, client_writer, future = await queue.get()
        held[:] = [future]
        try:
            await arbiter._execute_on_worker(worker_pid, request, client_writer)
            _settle(future)
        except Exception as error:  # as 27.0.1: route_request answers it
            _settle(future, error)
        finally:
            queue.task_done()


def _fail_left(worker_pid: int, queue: asyncio.Queue, held: list[asyncio.Future]) -> None:
    """The consumer ended: its call and every queued one fail with ``DirtyWorkerError``."""
    gone = DirtyWorkerError("the dirty worker left with the call", worker_id=worker_pid)
    left = [*held, *(queue.get_nowait()[2] for _ in range(queue.qsize()))]
    for future in left:
        _settle(future, gone)


def _settle(future: asyncio.Future | None, error: BaseException | None = None) -> None:
    if future is None or future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
