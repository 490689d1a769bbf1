"""What tracing costs: ``/health`` under load with and without ``TRACE=1``, interleaved.

For each model, one worker (gthread: 4 threads), ``rounds`` pairs of runs, untraced then
traced, each a short Locust load of the ``health`` scenario (the cheapest request: the
tracer's cost is the largest share of it there): the rate and the server's CPU per request,
so that a Locust that is itself the limit still shows the server's cost.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from ...harness.cpu import CpuMeter
from ...harness.procs import tree
from ...load.locustrun import Load, LocustRun
from ...servers import GunicornServer, ServerSpec, free_port
from ...timeline.record import FLUSH_TIMEOUT_S, CellTrace

MODELS = (ServerSpec("sync"), ServerSpec("gthread", threads=4), ServerSpec("gevent"),
          ServerSpec("asgi"))
USERS = 20


def _run(spec: ServerSpec, traced: bool, folder: Path, seconds: float) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    trace = CellTrace(folder, traced)
    port = free_port()
    load = Load(tag="health", users=USERS, duration=seconds, warmup=0.5)
    with LocustRun(load, f"http://127.0.0.1:{port}", folder / "locust",
                   folder / "locust.log") as locust:
        server = GunicornServer(dataclasses.replace(spec, env=spec.env + trace.env), port=port,
                                log_path=folder / "gunicorn.log")
        server.start()
        try:
            meter = CpuMeter({"server": server.processes,
                              "locust": lambda: tree(locust.proc.pid)})
            workers = server.worker_pids()
            summary = locust.wait(meter)
            flushed = (server.quit(lambda: trace.flushed(workers), timeout=FLUSH_TIMEOUT_S)
                       if traced else None)
        finally:
            server.stop(grace=0.3, graceful=False)
    requests = int(summary.rows.get("/health", {}).get("Request Count", 0))
    rps = requests / summary.window_s
    return {"model": spec.worker_class, "label": spec.label, "traced": traced, "rps": rps,
            "server_cpu_us_per_request": meter.seconds("server") / requests * 1e6
            if requests else None,
            "locust_max_process_cpu_pct": meter.max_process_percent("locust"),
            "flushed": flushed}


def measure(rounds: int = 2, seconds: float = 2.0, models=MODELS) -> list[dict]:
    """Every model's pairs, untraced then traced, in rounds (a pair's runs seconds apart)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="lab-trace-overhead-") as scratch:
        for round_ in range(rounds):
            for spec in models:
                for traced in (False, True):
                    folder = Path(scratch) / f"{spec.worker_class}-{round_}-{int(traced)}"
                    rows.append(_run(spec, traced, folder, seconds) | {"round": round_})
    return rows
