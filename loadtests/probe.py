"""A quick probe of each worker model: concurrent blocking I/O, then concurrent CPU work.

    python -m loadtests.probe

For every model it starts gunicorn on a free port, fires 8 concurrent
``/io?delay=0.5`` requests and then 4 concurrent ``/prime/<n>`` requests, and
prints each wall time beside what the model predicts:

* I/O: requests run in waves of ``slots`` (1 for sync per worker, the thread
  count for gthread, the connection count for gevent) -> ceil(8 / slots) x delay.
* CPU: pure Python holds the GIL, so only processes overlap, at most one per
  core -> ceil(4 / min(workers, cores)) x S, with S timed once in this process.
"""

from __future__ import annotations

import argparse
import os
import platform
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from webapp.work.primes import MEDIUM_PRIME

from .harness.machine import measure_service_time
from .harness.procs import run_main
from .load.client import get_many
from .model.queueing import batch_wall, cpu_parallelism
from .servers import GunicornServer, ServerSpec

CASES = (
    (ServerSpec("sync", workers=1), "one request at a time: I/O waits in line"),
    (ServerSpec("gthread", workers=1, threads=4), "threads overlap I/O; the GIL serialises CPU"),
    (ServerSpec("gevent", workers=1), "greenlets overlap I/O; CPU blocks the event loop"),
    (ServerSpec("sync", workers=2), "two processes: two cores for CPU"),
)


@dataclass
class Row:
    spec: ServerSpec
    lesson: str
    io_wall: float
    io_predicted: float
    cpu_wall: float
    cpu_predicted: float
    pids: int


def _checked(replies) -> None:
    bad = [r for r in replies if r.status != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} request(s) failed, first: {bad[0].status} {bad[0].body}")


def probe(spec: ServerSpec, lesson: str, *, io_requests: int, delay: float, cpu_requests: int,
          n: int, s: float, cores: int) -> Row:
    with GunicornServer(spec) as server:
        io_wall, io_replies = get_many([f"{server.url}/io?delay={delay}"] * io_requests)
        cpu_wall, cpu_replies = get_many([f"{server.url}/prime/{n}"] * cpu_requests)
    _checked(io_replies + cpu_replies)
    return Row(
        spec, lesson,
        io_wall, batch_wall(io_requests, spec.slots, delay),
        cpu_wall, batch_wall(cpu_requests, cpu_parallelism(spec.workers, cores), s),
        len({r.body["pid"] for r in io_replies + cpu_replies}),
    )


def render(rows: list[Row], *, io_requests: int, delay: float, cpu_requests: int, n: int,
           s: float, cores: int) -> Table:
    table = Table(title=f"Worker-model probe on {cores} cores, Python {platform.python_version()}")
    table.add_column("model")
    table.add_column(f"{io_requests}×/io {delay:g}s\nmeasured", justify="right")
    table.add_column("predicted", justify="right")
    table.add_column(f"{cpu_requests}×/prime\nmeasured", justify="right")
    table.add_column("predicted", justify="right")
    table.add_column("pids", justify="right")
    table.add_column("lesson")
    for row in rows:
        table.add_row(
            row.spec.label, f"{row.io_wall:.2f} s", f"{row.io_predicted:.2f} s",
            f"{row.cpu_wall:.2f} s", f"{row.cpu_predicted:.2f} s", str(row.pids), row.lesson,
        )
    table.caption = f"/prime/{n}: S = {s:.3f} s in one process (the CPU prediction's unit)"
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per /io request")
    parser.add_argument("--io-requests", type=int, default=8)
    parser.add_argument("--cpu-requests", type=int, default=4)
    parser.add_argument("--n", type=int, default=MEDIUM_PRIME, help="number for /prime")
    args = parser.parse_args(argv)
    console = Console()
    if not console.is_terminal:  # a pipe or CI log: room for the lesson column
        console.width = max(console.width, 140)
    cores = os.cpu_count() or 1
    s = measure_service_time(args.n, repeats=1)
    common = dict(io_requests=args.io_requests, delay=args.delay,
                  cpu_requests=args.cpu_requests, n=args.n, s=s, cores=cores)
    rows = []
    with console.status("probing...") as status:
        for spec, lesson in CASES:
            status.update(f"probing {spec.label} ...")
            rows.append(probe(spec, lesson, **common))
    console.print(render(rows, **common))
    return 0


if __name__ == "__main__":
    run_main(main)
