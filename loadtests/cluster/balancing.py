"""Scenario 4: two web hosts behind nginx; one drained (a deploy), one cut off (a crash).

nginx runs on host ``lb`` and balances ``web1`` and ``web2`` (gunicorn gevent -w1 each,
serving ``/io``). Locust keeps a steady load on nginx from the lab's seat while

* **drain**: ``web1``'s master gets SIGTERM, gunicorn's graceful stop: it closes its listening
  socket at once and lets its worker finish the requests it holds (up to
  ``graceful_timeout``). nginx's next connection to web1 is refused -- an "error" -- and
  ``proxy_next_upstream`` sends that GET to web2: users see no failure;
* **cut**: once nginx sends web1 requests again (it keeps a failed host out for
  ``fail_timeout``; a second host failing before that leaves no live upstream, and every
  request is a 502), ``web2``'s cable is pulled. Its requests in flight get no answer:
  nginx waits its ``proxy_read_timeout``, then sends each GET to the other host. New
  connections to web2 time out after ``proxy_connect_timeout`` and go the same way;
  ``max_fails=1`` marks web2 down for ``fail_timeout``, after which one request tries it
  again (and waits again). One GET can fail all the same: one whose answer web2 was sending
  when cut, its header through and its body not. nginx has passed the header on to the
  client, so it cannot send the GET elsewhere; it times out reading the body ("while
  reading upstream" in its error log, counted as ``cut_midway``) and closes the client's
  connection on an incomplete answer. (Once in a clean-clone CI, 2026-12-06: 1 of 1,138.)

Counted: what Locust saw (requests, failures, its slowest answer), and from nginx's access
log each request nginx had to send twice (two upstream addresses) and each it answered
with an error.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from ..harness.cpu import CpuMeter
from ..load.locustrun import RESET_MESSAGE, Load, LocustRun, number
from ..services.balancer import NginxBalancer
from .network import Cluster
from .stack import WEB_PORT, probe, until, web_host

HOSTS = ("lb", "web1", "web2")


def _count(lines: list[str]) -> dict:
    """nginx's access log: requests, those retried on the other host, those it failed."""
    rows = [line.split(" ", 2) for line in lines]
    statuses = [int(row[1]) for row in rows]
    retried = [line for line in lines if "," in line.split("[", 2)[1]]
    times = [float(line.rsplit(" ", 1)[1]) for line in lines]
    return {"requests": len(lines), "retried": len(retried),
            "errors": sum(status >= 500 for status in statuses),
            "slowest_s": max(times, default=0.0),
            "retried_times_s": sorted(float(line.rsplit(" ", 1)[1]) for line in retried)}


def _under_load(seat_url: str, log_dir: Path, phase: str, action, *, users: int,
                seconds: float, delay: float) -> dict:
    """Locust on ``seat_url`` for ``seconds``; ``action()`` runs once a third of the
    window has passed; what Locust counted."""
    load = Load(tag="io", users=users, duration=seconds, warmup=1.0, delay=delay)
    log = log_dir / f"locust-{phase}.log"
    done: dict = {}

    def disrupt():
        until(lambda: RESET_MESSAGE in log.read_text(errors="replace"), 30, "Locust warm-up")
        time.sleep(seconds / 3)  # a planned moment in the run, not synchronisation
        done["at"] = time.time()
        done.update(action() or {})

    with LocustRun(load, seat_url, log_dir / f"locust-{phase}", log) as run:
        thread = threading.Thread(target=disrupt)
        thread.start()
        summary = run.wait(CpuMeter({}))
        thread.join()
    row = summary.rows["Aggregated"]
    return {"requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
            "max_ms": number(row["Max Response Time"]), "p50_ms": number(row["50%"]),
            "window": summary.window_wall, **done}


def run(log_dir: Path, *, users: int = 20, seconds: float = 12.0, delay: float = 0.05,
        fail_timeout: float = 10, read_timeout: float = 3) -> dict:
    log_dir.mkdir(parents=True, exist_ok=True)
    with Cluster(*HOSTS) as cluster:
        hosts = {name: cluster[name].address for name in HOSTS}
        upstreams = [f"{cluster[name].address}:{WEB_PORT}" for name in ("web1", "web2")]
        web1 = web_host(cluster["web1"], log_dir)
        web2 = web_host(cluster["web2"], log_dir)
        with web1, web2, NginxBalancer(upstreams, place=cluster["lb"], fail_timeout=fail_timeout,
                                       read_timeout=read_timeout,
                                       log_path=log_dir / "nginx.log") as lb:
            def drain() -> dict:
                sent = time.time()
                web1.proc.send_signal(signal.SIGTERM)  # gunicorn's graceful stop
                web1.proc.wait(timeout=60)
                return {"drained_s": time.time() - sent}

            drained = _under_load(lb.url, log_dir, "drain", drain, users=users,
                                  seconds=seconds, delay=delay)
            drained["nginx"] = _count(lb.access_lines())
            web1.stop()
            web1.start()  # back, for the second half
            # nginx keeps a failed host out for fail_timeout: until it has sent web1 a request
            # again, a failure of web2 would leave it no live upstream (a rolling deploy's
            # trap: 502s, "no live upstreams")
            restarted = len(lb.access_lines())

            def web1_in_rotation() -> bool:
                probe(lb.url + "/health")
                return any(line.split()[1] == "200" and f"[{upstreams[0]}]" in line
                           for line in lb.access_lines()[restarted:])

            drained["back_in_rotation_s"] = until(web1_in_rotation, 3 * fail_timeout,
                                                  "nginx sending requests to web1 again")
            mark, errors = len(lb.access_lines()), len(lb.error_lines())

            def cut():
                cluster.cut("web2")

            cut_off = _under_load(lb.url, log_dir, "cut", cut, users=users, seconds=seconds,
                                  delay=delay)
            cut_off["nginx"] = _count(lb.access_lines()[mark:])
            # answers cut mid-way: the header passed on, the body timed out (not retriable)
            cut_off["nginx"]["cut_midway"] = sum(
                "while reading upstream" in line for line in lb.error_lines()[errors:])
            cluster.rejoin("web2")
    return {"scenario": "balancing", "hosts": hosts, "users": users, "seconds": seconds,
            "fail_timeout_s": fail_timeout, "read_timeout_s": read_timeout,
            "connect_timeout_s": 1.0, "drain": drained, "cut": cut_off}
