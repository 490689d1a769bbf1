"""The servers people pick instead of gunicorn: the same twins, scenarios and bound.

uvicorn (standalone and as gunicorn's ``UvicornWorker``), granian (its ASGI and WSGI
interfaces) and waitress serve the lab's unchanged apps beside gunicorn's own models, in
one run. The claim under test: throughput follows the concurrency model -- one asyncio loop
per process, a thread pool under one GIL, processes for cores -- not the brand. Each server
is judged by the bound gunicorn's cells are, with the server's own slots; where servers do
differ is in what a request costs (server CPU per ``/health``), in slow-client handling and
in their defaults.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from webapp.work.primes import SHORT_PRIME

from ..matrix.cells import Scenario, cell, row_spec
from .base import Lesson, Results, cells_table, heartbeat_table, switched

#: (server, interface or gunicorn -k, workers, threads): each server at one process.
GUNICORN_GEVENT = ("gunicorn", "gevent", 1, 1)
GUNICORN_ASGI = ("gunicorn", "asgi", 1, 1)
GUNICORN_GTHREAD = ("gunicorn", "gthread", 1, 4)
UVICORN = ("uvicorn", "asgi", 1, 1)
#: uvicorn logs every request by default (its access log, to stderr); the others do not.
UVICORN_QUIET = ("uvicorn", "asgi", 1, 1, ("--no-access-log",))
UVICORN_WORKER = ("uvicorn-worker", "asgi", 1, 1)
GRANIAN_ASGI = ("granian", "asgi", 1, 1)
GRANIAN_WSGI = ("granian", "wsgi", 1, 8)
GRANIAN_WSGI_4 = ("granian", "wsgi", 1, 4)
WAITRESS = ("waitress", "wsgi", 1, 4)
#: Users of the io cells: fewer than waitress's connection_limit (100) with room to spare.
IO_USERS = 50
#: Slowloris connections beside the heartbeat: more than the thread pools' 4 threads.
SLOW = 5


def _cell(scenario: str, served: tuple, *, users: int, slow: int = 0, workers: int = 0,
          reuse_port: bool = False):
    server, model, one, threads, *options = served
    return cell(scenario, model, workers or one, threads, users=users, slow=slow, server=server,
                options=tuple(*options), reuse_port=reuse_port)


IO = (*(_cell("peerio", s, users=IO_USERS) for s in (
    GUNICORN_GEVENT, GUNICORN_ASGI, UVICORN, UVICORN_WORKER, GRANIAN_ASGI, GRANIAN_WSGI,
    WAITRESS)),
      # uvicorn's --workers binds the socket itself, without TCP_NODELAY (the page says why)
      _cell("peerio", UVICORN, users=IO_USERS, workers=2))
CPU = (*(_cell("peercpu", s, users=4) for s in (GUNICORN_GTHREAD, UVICORN, GRANIAN_WSGI_4,
                                                 WAITRESS)),
       *(_cell("peercpu", s, users=4, workers=2) for s in (UVICORN, UVICORN_WORKER,
                                                            GRANIAN_WSGI_4)),
       # asyncio workers on one shared socket: one may accept every connection Locust opens
       # at once; gunicorn's reuse_port gives each its own (the balance lesson)
       _cell("peercpu", UVICORN_WORKER, users=4, workers=2, reuse_port=True))
BEAT = tuple(_cell("peerbeat", s, users=3) for s in (
    GUNICORN_ASGI, UVICORN, GRANIAN_ASGI, GRANIAN_WSGI_4, WAITRESS))
HEALTH = tuple(_cell("peerhealth", s, users=20) for s in (
    ("gunicorn", "sync", 1, 1), GUNICORN_GTHREAD, GUNICORN_GEVENT, GUNICORN_ASGI, UVICORN,
    UVICORN_QUIET, UVICORN_WORKER, GRANIAN_ASGI, GRANIAN_WSGI_4, WAITRESS))
SLOWLORIS = tuple(_cell("peerslow", s, users=1, slow=SLOW) for s in (
    GUNICORN_GTHREAD, UVICORN, GRANIAN_ASGI, GRANIAN_WSGI_4, WAITRESS))
#: make demo: uvicorn beside gunicorn's asgi worker on the io bound (gunicorn's gevent -w1 on
#: /io is the io lesson's, in the same run; within make demo's 150 s).
QUICK = IO[1:3]


def _servers_table(results: Results) -> list[str]:
    """Each server spec the run measured: the command, its model in the lab's terms, slots."""
    seen: dict[tuple, dict] = {}
    for row in results.rows:
        if row["scenario"].startswith("peer"):
            seen.setdefault((row.get("server", "gunicorn"), row["worker_class"],
                             row["workers"], row["threads"]), row)
    lines = ["| server | command (essentials) | model | slots |", "|---|---|---|---:|"]
    for row in seen.values():
        spec = row_spec(row)
        slots = "∞" if spec.slots == float("inf") else f"{spec.slots:.0f}"
        command = _short(spec.runs_on.command(spec, 8000))
        lines.append(f"| {_name(row)} | `{command}` | {spec.model} | {slots} |")
    return lines


def _name(row: dict) -> str:
    """The row's label, with gunicorn's named (its labels are its worker class alone)."""
    server = row.get("server", "gunicorn")
    return row["label"] if row["label"].startswith(("gunicorn", server.split("-")[0])) \
        else f"gunicorn -k {row['label']}"


def _short(command: str) -> str:
    """The command without the lab's absolute config path and the flags it sets anyway."""
    words = command.split()
    if "-c" in words:
        at = words.index("-c")
        words[at + 1] = "gunicorn.conf.py"
    return " ".join(words)


def _spread(rows: list[dict]) -> list[str]:
    """For the cells of more than one process: the runs' range, and whether one process
    did the work (its busiest process beside the server's whole CPU)."""
    lines = [f"{_name(r)}: fidelity {r['fidelity_min']:.2f}–{r['fidelity_max']:.2f} over "
             f"{r['repeats']} runs; the server used {r['server_cpu_pct']:.0f} % of a core, its "
             f"busiest process {r['server_max_process_cpu_pct']:.0f} %."
             for r in rows if r["workers"] > 1 and r.get("repeats", 1) > 1]
    return ["", "Runs of the cells with two processes: " + " ".join(lines)] if lines else []


def _cost_table(rows: list[dict]) -> list[str]:
    lines = ["| server | rps | µs of server CPU per request | server CPU | p50 ms | "
             "locust CPU (busiest process) |", "|---|---:|---:|---:|---:|---:|"]
    for row in sorted(rows, key=lambda r: r["server_cpu_ms_per_request"] or 0):
        per = row["server_cpu_ms_per_request"]
        flag = " (the load generator's limit)" if row.get("locust_limited") else ""
        lines.append(f"| {_name(row)} | {row['rps']:.0f} | {per * 1000:.0f} | "
                     f"{row['server_cpu_pct']:.0f}% | {row['p50_ms']:.0f} | "
                     f"{row['locust_max_process_cpu_pct']:.0f}%{flag} |")
    return lines


def _slow_table(rows: list[dict]) -> list[str]:
    lines = ["| server | heartbeats answered | failed (2 s each) | p50 ms | p99 ms |",
             "|---|---:|---:|---:|---:|"]
    for row in rows:
        failed = row.get("heartbeat_failures") or 0
        lines.append(f"| {_name(row)} | {(row['heartbeat_requests'] or 0) - failed} | "
                     f"{failed} | {row['heartbeat_p50_ms'] or 0:.0f} | "
                     f"{row['heartbeat_p99_ms'] or 0:.0f} |")
    return lines


def _readers(results: Results) -> list[str]:
    readers = results.extra("servers")
    if not readers:
        return []
    first = readers[0]
    return ["", f"Slow readers, direct: each asks for `/download` (MiB below) and reads "
            f"{first['read_kib_s']} KiB a second; `/health` is asked once they read "
            "(`loadtests/lessons/observing/slowclients.py`). waitress queues up to "
            f"{WAITRESS_HIGH_WATERMARK_MB} MiB of a response (`outbuf_high_watermark`) "
            "before the app thread waits for the reader:", "",
            "| server | slow readers | MiB each | /health meanwhile |", "|---|---:|---:|---|",
            *[f"| {w['label']} | {w['slow_clients']} | {w['mb']} | {w['health_during']} |"
              for w in readers]]


def section(results: Results) -> str:
    parts = {name: results.scenario(name) for name in SCENARIOS}
    if not any(parts.values()) and not results.extra("servers"):
        return ""
    delay = results.settings["delay_s"]
    lines = ["### Other servers, the same model: uvicorn, granian, waitress", "",
             "The lab's two apps, unchanged, served by the servers people pick instead of "
             "gunicorn, beside gunicorn's own workers in one run, judged by the same bounds "
             "with each server's own slots:", "", *_servers_table(results)]
    if parts["peerio"]:
        lines += ["", f"**Waiting** (`/io`, {delay:g} s, {IO_USERS} users): min(users, slots) ÷ "
                  "delay. The asyncio servers hold every request; granian's WSGI holds one per "
                  "blocking thread, waitress one per thread:", "",
                  cells_table(parts["peerio"])]
    if parts["peercpu"]:
        lines += ["", "**Computing** (`/prime`, 4 users): min(users, processes, cores) ÷ S. "
                  "Threads add nothing under the GIL, whoever owns them; processes count:", "",
                  cells_table(parts["peercpu"]), *_spread(parts["peercpu"])]
    if parts["peerbeat"]:
        lines += ["", "**The frozen loop** (2 users on `/prime`, one heartbeat on `/health`): "
                  "on an asyncio server the heartbeat waits for whole primes, on a thread pool "
                  "for a switch interval, as with gunicorn's models:", "",
                  heartbeat_table(parts["peerbeat"])]
    if parts["peerhealth"]:
        lines += ["", "**What a request costs** (`/health`, 20 users, one server process): the "
                  "server's own CPU per request, which does not depend on who else shares the "
                  "machine; the rate does (Locust shares the two cores):", "",
                  *_cost_table(parts["peerhealth"])]
    if parts["peerslow"]:
        lines += ["", f"**Slow clients, direct** ({SLOW} slowloris connections, a header byte "
                  "a second, beside the heartbeat):", "", *_slow_table(parts["peerslow"])]
    return "\n".join(lines + _readers(results))


def chart(results: Results, out: Path) -> list[str]:
    from ..matrix.charts import bars, figure, save

    judged = results.scenario("peerio", "peercpu")
    cost = results.scenario("peerhealth")
    charts = []
    if judged:
        fig, ax = figure(max(9, 0.7 * len(judged)))
        bars(ax, [f"{r['scenario'][4:]}: {r['label']}" for r in judged],
             {"fidelity (rps ÷ bound)": [r["fidelity"] for r in judged]})
        ax.axhspan(0.85, 1.05, color="tab:green", alpha=0.15)
        ax.set_title("Each server against its model's bound: waiting (io) and computing (cpu)",
                     fontsize=10)
        charts.append(save(fig, out, "servers.png"))
    if cost:
        fig, ax = figure(max(7, 0.7 * len(cost)))
        bars(ax, [r["label"] for r in cost],
             {"µs of server CPU per /health": [r["server_cpu_ms_per_request"] * 1000
                                               for r in cost]})
        ax.set_title("What a request costs each server (one process, 20 users)")
        charts.append(save(fig, out, "servers-cost.png"))
    return charts


#: waitress's outbuf_high_watermark (waitress 3.0.2, adjustments.py): an app thread may queue
#: this much of a response for the I/O thread, then waits for the client to drain it.
WAITRESS_HIGH_WATERMARK_MB = 16
#: Slow readers per server, direct: (label, spec, readers, front, query, MiB) as slowwatch
#: takes them: 8 MiB each (slowwatch's size), and on waitress also past its watermark.
READERS = (*((c.spec.label, c.spec, SLOW, "direct", "", 8) for c in SLOWLORIS),
           *((c.spec.label, c.spec, SLOW, "direct", "", 2 * WAITRESS_HIGH_WATERMARK_MB)
             for c in SLOWLORIS if c.spec.server == "waitress"))


def observe(args: argparse.Namespace) -> list[dict]:
    from concurrent.futures import ThreadPoolExecutor

    from .observing.slowclients import watch_reader

    with ThreadPoolExecutor(len(READERS)) as pool:
        return [dict(row, server=case[1].server)
                for case, row in zip(READERS, pool.map(lambda c: watch_reader(*c), READERS),
                                     strict=True)]


SCENARIOS = ("peerio", "peercpu", "peerbeat", "peerhealth", "peerslow")

LESSON = Lesson(
    book="Python in the Multicore World — WSGI (and ASGI) application servers",
    name="servers",
    section=section,
    chart=chart,
    observation=switched("server-readers", "also watch slow readers on each server, direct "
                                           "(about 5 s)", observe),
    scenarios={
        "peerio": Scenario("io", "/io", "io"),
        "peercpu": Scenario("cpu", "/prime", "cpu", short=True),
        "peerbeat": Scenario("heartbeat", "/prime", "cpu", heartbeat=True),
        "peerhealth": Scenario("health", "/health", None),
        "peerslow": Scenario("slowclients", "heartbeat", None, heartbeat=True,
                             extra=("--heartbeat-timeout", "2")),
    },
    assumptions={
        "peerio": "Little's law as for io, with each server's slots: unbounded for uvicorn's "
                  "and granian's asyncio loops (granian: backpressure, 1024 per worker), "
                  "blocking threads for granian's WSGI, threads for waitress.",
        "peercpu": f"The cpu bound (is_prime({SHORT_PRIME})): min(users, worker processes, "
                   "cores) / S, whatever the server's threads or Rust I/O threads.",
        "peerbeat": "The cpu bound with users − 1; the heartbeat's latency is reported apart.",
        "peerhealth": "No bound: the server's CPU per /health request, compared.",
        "peerslow": "No bound: whether /health answers beside slowloris connections.",
    },
    quick=QUICK,
    full=(IO[0], *IO[3:], *CPU, *BEAT, *HEALTH, *SLOWLORIS),
    windows={"quick": (0.5, 2.0), "full": (2.0, 8.0)},
)
