"""An open-loop load: each request sent when it is due, and its latency counted from then.

    python -m loadtests.load.openloop http://127.0.0.1:8000/health --rate 150 --duration 10

Locust cannot carry this: its users are closed loops (a user's next request waits for its
last answer; its wait times only slow a user down), and a request's time in its stats starts
when the request is sent, so a sender held up by the stall it measures hides it -- the
coordinated omission wrk2 was written against. This is a small generator of the lab's own,
on gevent and geventhttpclient (Locust's FastHttpUser's client):

* a schedule (:mod:`.arrivals`: Poisson by default, or constant) says when each request is
  due; one greenlet sleeps until each due time and hands the request to a greenlet of its own,
  whatever the others are doing;
* the latency runs from the due time to the last byte of the answer, recorded in an HDR
  histogram (``hdrhistogram``); the send lag (sent − due) is recorded beside it, so that the
  generator can be trusted: a lag that grows means the generator, not the server, was late;
* the command runs gevent's hub on libev's ``select`` backend: its timeouts are in
  microseconds, where ``epoll``'s (gevent's default on Linux) are whole milliseconds. On
  epoll every send was 0.8 ms late at the median and requests due within a millisecond of
  each other left together, which a server sees as too many short gaps; on select the lag's
  median is about 0.1 ms. select watches at most 1,024 descriptors, hence
  :data:`MAX_IN_FLIGHT`;
* a request whose connection closes before its answer is sent again once (a keep-alive
  connection the server closed while idle), not geventhttpclient's pool size + 1 times;
* ``--retries N``: a request that timed out is sent again at once, up to N times, as a
  client that retries after its deadline does (the overload lesson's metastable state);
* at most ``max_in_flight`` requests are out at once; a request due when that many are
  out is not sent, and is counted as dropped. Every request scheduled is counted once:
  answered (by status), failed (a connection error), timed out, or dropped (the counts and
  histograms: :mod:`.outcomes`);
* the summary's ``host``: the machine's CPU time its hypervisor stole during the run (all
  CPUs), the generator's involuntary context switches, and its late wakes (a sleep until a
  due time that ended more than 2 ms past it, less the generator's own CPU meanwhile: the
  machine did not run it when its timer fired), what a late send can be laid to that is
  not the generator's own work.

:func:`closed` runs the closed loop beside it (N users, each sending when answered), with the
same client and histograms: the comparison the stall test makes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gevent
import gevent.pool
import psutil
from geventhttpclient import URL

from ..harness.procs import run_main
from .arrivals import SCHEDULES, parse_phase, phased
from .outcomes import Run, histogram, report
from .target import Target
from .traffic import Traffic

#: The most requests out at once: select's limit of 1,024 descriptors, less a margin.
MAX_IN_FLIGHT = 1000
#: Seconds between the schedule's making and its first due time: the greenlets' start-up.
LEAD_S = 0.05


def open_loop(url: str, rate: float, duration: float, *, kind: str = "poisson",
              seed: int | None = None, max_in_flight: int = 500,
              timeout: float = 30.0, by: str | None = None,
              over_s: float | None = None,
              phases: list[tuple[float, float]] | None = None, retries: int = 0,
              traffic: Traffic | None = None, times: tuple[str, ...] = ()) -> Run:
    """Send each request of the schedule when it is due; wait for the last answers.
    ``phases``: (rate, seconds) one after another instead of ``rate`` for ``duration``.
    ``timeout`` is the client's deadline: an answer later than it is not waited for, and
    the request is sent again ``retries`` times at most. ``traffic``: the routes each
    request's is drawn from, instead of a GET of the URL's path. ``times``: numeric fields
    of the answers (seconds) kept in a histogram each."""
    phases = phases or [(rate, duration)]
    dues = phased(kind, phases, seed=seed)
    target = Target(url, max_in_flight, timeout, by, traffic, seed)
    start = time.perf_counter() + LEAD_S
    run = Run("open", len(dues), sum(seconds for _, seconds in phases), over_s=over_s,
              deadline_s=timeout, start=start, started_at=time.time() + LEAD_S,
              retries=retries, fields={name: histogram() for name in times})
    pool = gevent.pool.Pool(max_in_flight)
    try:
        for offset in dues:
            due = start + offset
            if (wait := due - time.perf_counter()) > 0:
                own = time.thread_time()
                gevent.sleep(wait)
                run.woke(time.perf_counter() - due, time.thread_time() - own)
            if pool.full():
                run.count(due, "dropped", 0.0)
                continue
            pool.spawn(target.send, run, due)
        pool.join(timeout=timeout * (retries + 1) + 1)
    finally:
        pool.kill()  # still out past their timeout: each counts itself timed out
        target.close()
    return run


def closed(url: str, users: int, duration: float, *, timeout: float = 30.0,
           by: str | None = None, over_s: float | None = None,
           traffic: Traffic | None = None, times: tuple[str, ...] = ()) -> Run:
    """``users`` loops, each sending its next request when the last is answered (due then:
    a closed loop has no schedule to fall behind)."""
    target = Target(url, users, timeout, by, traffic)
    run = Run("closed", 0, duration, over_s=over_s, deadline_s=timeout,
              start=time.perf_counter(), started_at=time.time(),
              fields={name: histogram() for name in times})
    end = run.start + duration

    def user() -> None:
        while time.perf_counter() < end:
            run.scheduled += 1
            target.send(run, time.perf_counter())

    try:
        gevent.joinall([gevent.spawn(user) for _ in range(users)], timeout=duration + timeout)
    finally:
        target.close()
    return run


def command(url: str, *flags: str) -> list[str]:
    """This generator's command line on ``url``, its summary as JSON: for a caller that runs
    it in a process of its own (a load on the caller's cores would share its hub)."""
    return [sys.executable, "-m", "loadtests.load.openloop", url, "--json", *flags]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.load.openloop",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the URL every request GETs (its server, with --path)")
    parser.add_argument("--path", metavar="[METHOD ]PATH[=WEIGHT]", action="append",
                        default=[], dest="paths",
                        help="draw each request's route by weight from these instead "
                             "(repeat: --path /a=3 --path 'POST /b')")
    parser.add_argument("--body", metavar="FILE",
                        help="the body of each POST, PUT or PATCH (with --path)")
    parser.add_argument("--header", metavar="'NAME: VALUE'", action="append", default=[],
                        dest="headers", help="a header every request carries (repeat)")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of arrivals")
    parser.add_argument("--phase", metavar="RATE:SECONDS", action="append", default=[],
                        help="instead of --rate and --duration: RATE a second for SECONDS, "
                             "then the next --phase (a burst: 50:5 --phase 300:10 --phase 50:10)")
    parser.add_argument("--schedule", choices=SCHEDULES, default="poisson")
    parser.add_argument("--seed", type=int, default=None, help="the Poisson schedule's seed")
    parser.add_argument("--max-in-flight", type=int, default=500,
                        help="requests out at once; one due beyond them is dropped, and "
                             f"counted (at most {MAX_IN_FLIGHT})")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="the client's deadline: seconds it waits for each answer (a 2xx "
                             "answer within it is goodput)")
    parser.add_argument("--retries", type=int, default=0, metavar="N",
                        help="send a request that timed out again, at once, up to N times "
                             "(each attempt with its own deadline; the request counts once)")
    parser.add_argument("--closed", type=int, metavar="USERS", default=0,
                        help="a closed loop of USERS instead (for comparison)")
    parser.add_argument("--by", metavar="FIELD", default=None,
                        help="count the answers by this field of their JSON body (the lab's "
                             "pid: how the requests split between worker processes)")
    parser.add_argument("--time", metavar="FIELD", action="append", default=[], dest="times",
                        help="the answers' own time: this numeric field of their JSON body, "
                             "in seconds, as percentiles and a mean beside the latency (the "
                             "lab's elapsed and cpu; repeat)")
    parser.add_argument("--records", metavar="FILE", default=None,
                        help="write each request's end to FILE, a JSON object a line in due "
                             "order: due (seconds from the start), outcome, latency "
                             "(seconds), and its --time fields")
    parser.add_argument("--over", metavar="MS", type=float, default=None,
                        help="count the answers slower than MS milliseconds")
    parser.add_argument("--timeline", action="store_true",
                        help="print each second's requests due, goodput, p99 and outcomes")
    parser.add_argument("--json", action="store_true", help="the summary as JSON")
    args = parser.parse_args(argv)
    try:
        args.phases = [parse_phase(text) for text in args.phase]
        args.traffic = (Traffic.parse(args.paths or [URL(args.url).request_uri or "/"],
                                      args.body, args.headers)
                        if args.paths or args.headers or args.body else None)
    except ValueError as error:
        parser.error(str(error))
    if args.retries < 0:
        parser.error(f"--retries must be 0 or more, got {args.retries}")
    if not 1 <= args.max_in_flight <= MAX_IN_FLIGHT:
        parser.error(f"--max-in-flight must be 1 to {MAX_IN_FLIGHT}, got {args.max_in_flight}")
    return args


def _host() -> tuple[float, int]:
    """The machine's CPU time stolen by its hypervisor so far (seconds, every CPU), and this
    process's involuntary context switches (a runnable generator put off a core)."""
    return psutil.cpu_times().steal, psutil.Process().num_ctx_switches().involuntary


def _lost(before: tuple[float, int], after: tuple[float, int]) -> dict:
    """What the run lost to the machine, beside its send lag: steal (ms, every CPU) and the
    generator's involuntary switches.

    >>> _lost((1.0, 3), (1.25, 10))
    {'steal_ms': 250.0, 'involuntary_switches': 7}
    """
    return {"steal_ms": round((after[0] - before[0]) * 1000, 1),
            "involuntary_switches": after[1] - before[1]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    gevent.config.libev_backend = "select"  # before the hub exists: microsecond timers
    over_s = None if args.over is None else args.over / 1000
    before = _host()
    if args.closed:
        run = closed(args.url, args.closed, args.duration, timeout=args.timeout, by=args.by,
                     over_s=over_s, traffic=args.traffic, times=tuple(args.times))
    else:
        run = open_loop(args.url, args.rate, args.duration, kind=args.schedule,
                        seed=args.seed, max_in_flight=args.max_in_flight,
                        timeout=args.timeout, by=args.by, over_s=over_s,
                        phases=args.phases, retries=args.retries, traffic=args.traffic,
                        times=tuple(args.times))
    summary = run.summary() | {"host": _lost(before, _host()) | {"late_wakes": run.late_wakes}}
    if args.records:
        Path(args.records).write_text("".join(json.dumps(end) + "\n" for end in run.records()))
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        print()
    else:
        print(report(summary, args.url, timeline=args.timeline))
    return 0


if __name__ == "__main__":
    run_main(main)
