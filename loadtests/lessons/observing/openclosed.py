"""Open against closed, with the open-loop generator: the same server at the same
throughput under each (:func:`versus`), and a stall each meets (:func:`stall`): a closed
loop's users stop sending while they wait, so it counts at most one slow request per user.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from ...servers import ServerSpec, launch
from .opentraffic import MODELS, WORKLOADS, generate, generator, summarised

#: The stall (with --full): a gevent worker stopped for ``stall_s`` (SIGSTOP, then SIGCONT)
#: ``at_s`` after the generator starts, in a run of ``run_s`` on /health, open at ``rate``
#: or closed with ``users``; answers slower than ``over_ms`` are counted.
STALL = {"rate": 100.0, "users": 10, "at_s": 1.5, "stall_s": 1.0, "run_s": 4.0,
         "over_ms": 500.0}


def stall(mode: str) -> dict:
    """One run of the stall, ``mode`` open or closed: what the generator counted."""
    load = (["--rate", f"{STALL['rate']:g}", "--seed", "3"] if mode == "open"
            else ["--closed", str(STALL["users"])])
    with launch(ServerSpec("gevent")) as server:
        (pid,) = server.worker_pids()
        argv = generator(f"{server.url}/health", STALL["run_s"], "--over",
                         f"{STALL['over_ms']:g}", *load)
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as running:
            try:
                time.sleep(STALL["at_s"])  # the stall's place in the run, not a wait for it
                os.kill(pid, signal.SIGSTOP)
                try:
                    time.sleep(STALL["stall_s"])
                finally:
                    os.kill(pid, signal.SIGCONT)
                out, _ = running.communicate(timeout=STALL["run_s"] + 60)
            except BaseException:
                running.kill()
                raise
    summary = json.loads(out)
    latency = summary["latency_ms"]
    return {"kind": "stall", "mode": mode, "load": (f"{STALL['rate']:g}/s" if mode == "open"
                                                     else f"{STALL['users']} users"),
            "stall_s": STALL["stall_s"], "scheduled": summary["scheduled"],
            "answered": summary["answered"], "over_ms": STALL["over_ms"],
            "over": summary["over"]["count"], "p50_ms": latency.get("p50"),
            "p99_ms": latency.get("p99"), "max_ms": latency.get("max")}


#: Open against closed (with --full): ``model`` (a label of :data:`MODELS`) on the io
#: workload, first a closed loop of as many users as it has slots for ``run_s``, then the
#: open load at the rate that loop achieved: the same server and throughput.
VERSUS = {"model": "sync -w2", "users": 2, "run_s": 10.0}


def versus() -> list[dict]:
    """The closed loop, then the open load at its throughput: a row each."""
    label, spec = next(model for model in MODELS if model[0] == VERSUS["model"])
    rows = []
    with launch(spec) as server:
        url = server.url + WORKLOADS["io"].path
        closed = summarised(url, VERSUS["run_s"], "--closed", str(VERSUS["users"]))
        rate = closed["achieved_rps"]
        opened = generate(url, rate, VERSUS["run_s"], seed=5)
    for mode, summary, load in (("closed", closed, f"{VERSUS['users']} users"),
                                ("open", opened, f"{rate:.1f}/s")):
        rows.append({"kind": "versus", "mode": mode, "label": label, "load": load,
                     "path": WORKLOADS["io"].path, "answered": summary["answered"],
                     "achieved_rps": summary["achieved_rps"],
                     "latency_ms": summary["latency_ms"]})
    return rows
