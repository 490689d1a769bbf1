"""Past one machine: web, broker and Celery hosts with addresses of their own, and what breaks.

The hosts are network namespaces the lab makes (:mod:`loadtests.cluster`), in 198.18.0.0/24,
on one switch. Four scenarios, each counted: CPU work scaling out over Celery hosts and the
queue's round trips; a Celery host cut off mid-task; the broker host cut off; two web hosts
behind nginx, one drained and one cut off.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .base import Lesson, Results, switched
from .observing.hosts import broker_lines, brokercut_lines, statuses, workercut_lines


def _by_scenario(results: Results) -> dict[str, dict]:
    return {row["scenario"]: row for row in results.extra("hosts") if "scenario" in row}


def _of(results: Results, scenario: str) -> list[dict]:
    """The rows of ``scenario``, each with its broker (a sample from before RabbitMQ: Redis)."""
    return [{"broker": "Redis", **row} for row in results.extra("hosts")
            if row.get("scenario") == scenario]


def _scaleout(row: dict) -> list[str]:
    lines = ["#### 1. Scale-out: Celery hosts, and the queue's round trips", "",
             "| Celery hosts | processes P | users | rps | S_cpu ms | bound P ÷ S | "
             "bound here min(P, cores) ÷ S | fidelity |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for step in row["throughput"]:
        hosts = "c1" if step["processes"] == 1 else "c1 + c2"
        lines.append(f"| {hosts} | {step['processes']} | {step['users']} | {step['rps']:.2f} | "
                     f"{step['s_cpu'] * 1000:.0f} | {step['bound_hosts_rps']:.2f} | "
                     f"{step['bound_here_rps']:.2f} | {step['fidelity']:.2f} |")
    lines += ["", f"A second Celery host multiplied the rate by **{row['scale']:.2f}**. Each host "
              "runs one prefork process here, so two hosts fit this machine's two cores; the "
              "hosts share those cores, so P ÷ S holds only while P ≤ cores. On separate "
              "machines each host brings its own cores: with c hosts of k cores and "
              "`--concurrency k`, the bound is c × k ÷ S — and the broker and the web host "
              "need a core's share too.", "",
              "| delay each way on the broker's link | RTT added | trivial call p50 ms | "
              "added ms | added ÷ RTT |", "|---|---:|---:|---:|---:|"]
    for step in row["latency"]:
        delay = "no relay" if step["delay_ms"] is None else f"{step['delay_ms']:g} ms"
        rtt = "—" if step["rtt_ms"] is None else f"{step['rtt_ms']:g} ms"
        added = "—" if "added_ms" not in step else f"{step['added_ms']:.0f}"
        ratio = "—" if "added_rtts" not in step else f"{step['added_rtts']:.1f}"
        lines.append(f"| {delay} | {rtt} | {step['p50_ms']:.1f} | {added} | {ratio} |")
    commands = row.get("commands_per_call") or {}
    lines += ["", "Each millisecond of round trip to the broker costs the trivial call about "
              f"{_rtts(row)} — not the 2 of \"the task out, the result back\". Redis counted, "
              "per call (`INFO commandstats`): "
              + ", ".join(f"{name} {count:g}" for name, count in commands.items())
              + ". The web worker subscribes to the result before it sends the task; the "
              "Celery worker records the reservation, reads the result key, writes the result "
              "and its notice, and acknowledges — each a round trip, several on the caller's "
              "path, and every new connection (HELLO) one more. That is the queue's cost: a "
              "broker far from its clients multiplies it."]
    return lines


def _rtts(row: dict) -> str:
    ratios = [step["added_rtts"] for step in row["latency"] if "added_rtts" in step]
    return f"{min(ratios):.1f}–{max(ratios):.1f} RTTs" if ratios else "—"


def _balancing(row: dict) -> list[str]:
    drain, cut = row["drain"], row["cut"]
    lines = ["#### 4. Two web hosts behind nginx: a drain and a cut", "",
             "| event | Locust requests | failed | slowest ms | nginx: retried on the other "
             "host | nginx errors |", "|---|---:|---:|---:|---:|---:|"]
    for name, step in (("web1 drained (SIGTERM)", drain), ("web2 cut off", cut)):
        lines.append(f"| {name} | {step['requests']} | {step['failures']} | "
                     f"{step['max_ms']:.0f} | {step['nginx']['retried']} | "
                     f"{step['nginx']['errors']} |")
    waits = cut["nginx"]["retried_times_s"]
    slow = sum(1 for t in waits if t >= row["read_timeout_s"])
    lines += ["", f"The drain cost users nothing: {drain['failures']} failed GETs. gunicorn's "
              "SIGTERM closes the listening socket and lets the worker finish what it holds "
              f"(it exited {drain['drained_s']:.1f} s later); nginx's next connection to it "
              "was refused, and `proxy_next_upstream error` sent that GET to web2 at once. "
              + (f"Restarted, web1 got requests from nginx again {drain['back_in_rotation_s']:.1f}"
                 " s later (it keeps a failed host out for `fail_timeout`); the cut waited "
                 "for that: in 4 of 6 trials beside a CPU hog that cut web2 sooner, nginx answered "
                 "139–247 GETs 502, "
                 "\"no live upstreams\" — in a rolling deploy, wait for the balancer to take "
                 "a host back before stopping the next. " if "back_in_rotation_s" in drain
                 else "") +
              f"The cut failed {cut['failures']} GETs too, but {len(waits)} waited: "
              f"{slow} were in flight on web2 and waited `proxy_read_timeout` "
              f"({row['read_timeout_s']:g} s) before nginx sent them to web1; "
              f"{len(waits) - slow} opened a connection to web2 and waited "
              f"`proxy_connect_timeout` ({row['connect_timeout_s']:g} s). `max_fails=1` marked "
              f"web2 down for `fail_timeout` ({row['fail_timeout_s']:g} s) after its first "
              "failure; then one request tries it again, and waits again. A POST would have "
              "failed instead: nginx retries a non-idempotent request only when told "
              "(`non_idempotent`)."]
    return lines


def section(results: Results) -> str:
    rows = _by_scenario(results)
    cuts = sorted(_of(results, "workercut"), key=lambda row: (row["broker"] != "Redis",
                                                               row["cut_s"]))
    skipped = [row["skipped"] for row in results.extra("hosts") if "skipped" in row]
    if skipped:
        return f"### Past one machine: hosts\n\nNot run: {skipped[0]}"
    if not rows:
        return ""
    addresses = "; ".join(f"{name}: " + ", ".join(f"{host} {address}"
                                                   for host, address in row["hosts"].items())
                          for name, row in rows.items())
    lines = ["### Past one machine: web, broker and Celery hosts", "",
             "Each host is a network namespace the lab made, on one switch (a bridge), with "
             "its own address in 198.18.0.0/24; each scenario makes its own hosts and deletes "
             f"them after ({addresses}). A cut is the host's switch port set down: no reset, "
             "no error, the packets vanish. Latency on a link is added by a user-space relay "
             "in front of Redis (this kernel has no `netem`).", ""]
    if "scaleout" in rows:
        lines += [*_scaleout(rows["scaleout"]), ""]
    if cuts:
        lines += [*workercut_lines(cuts), ""]
    for row in _of(results, "brokercut"):
        lines += [*brokercut_lines(row), ""]
    lines += broker_lines(cuts, _of(results, "brokercut"))
    if "balancing" in rows:
        lines += [*_balancing(rows["balancing"]), ""]
    return "\n".join(lines).rstrip()


def brokers(results: Results) -> str:
    """The brokers side by side (the offload page shows it too)."""
    lines = broker_lines(_of(results, "workercut"), _of(results, "brokercut"))
    return "\n".join(lines[2:]).strip()  # under the page's own heading


def chart(results: Results, out: Path) -> list[str]:
    from ..matrix.charts import save, subplots

    row = _by_scenario(results).get("scaleout")
    if not row:
        return []
    fig, (left, right) = subplots(1, 2, figsize=(10, 4), layout="constrained")
    steps = row["throughput"]
    labels = ["c1" if s["processes"] == 1 else "c1 + c2" for s in steps]
    xs = range(len(steps))
    left.bar([x - 0.2 for x in xs], [s["rps"] for s in steps], 0.4, label="measured rps")
    left.bar([x + 0.2 for x in xs], [s["bound_hosts_rps"] for s in steps], 0.4,
             label="bound P ÷ S")
    left.set_xticks(list(xs), labels)
    left.set_title("/offload/prime: Celery hosts")
    left.legend(fontsize=8)
    delayed = [s for s in row["latency"] if s["rtt_ms"] is not None]
    right.plot([s["rtt_ms"] for s in delayed], [s["p50_ms"] for s in delayed], "o-",
               label="trivial call p50")
    right.set_xlabel("round trip added on the broker's link, ms")
    right.set_ylabel("ms")
    right.set_title("the queue's cost: round trips per call")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return [save(fig, out, "hosts.png")]


def summary(results: Results):
    """The counts and times of each scenario, as ``make hosts`` prints them."""
    from rich.table import Table

    machine = results.machine
    table = Table(title=f"The lab's hosts on {machine['cpu_count']} cores, "
                        f"{machine['processor']}, {machine['platform']}")
    for name in ("scenario", "what happened", "counted"):
        table.add_column(name)
    for row in results.extra("hosts"):
        if "skipped" in row:
            table.add_row("—", "skipped", row["skipped"])
        elif row["scenario"] == "scaleout":
            alone, both = row["throughput"]
            added = ", ".join(f"{s['delay_ms']:g} ms each way: +{s['added_ms']:.0f} ms "
                              f"({s['added_rtts']:.1f} RTTs)"
                              for s in row["latency"] if "added_ms" in s)
            table.add_row("scale-out", f"c1: {alone['rps']:.2f} rps; c1 + c2: "
                          f"{both['rps']:.2f} rps (× {row['scale']:.2f})", added)
        elif row["scenario"] == "workercut":
            table.add_row(f"c1 cut {row['cut_s']:g} s ({row.get('broker', 'Redis')})",
                          f"{row['answered']}/{row['submitted']} "
                          f"answered; held {row['held']}, redelivered {row['redelivered']}; "
                          f"last answer {row['recovered_s']:.1f} s after the cut",
                          f"lost {row['lost']}, ran twice {row['ran_twice']}")
        elif row["scenario"] == "brokercut":
            table.add_row(f"broker cut ({row.get('broker', 'Redis')})",
                          f"offload: {statuses(row['during'])} in ≤ "
                          f"{row['during']['max_ms'] / 1000:.1f} s; /health "
                          f"{row['health_during']['p50_ms']:.1f} ms",
                          f"back {row['recovered_after_s']:.1f} s after the rejoin")
        elif row["scenario"] == "balancing":
            for name, step in (("web1 drained", row["drain"]), ("web2 cut", row["cut"])):
                table.add_row(name, f"{step['requests']} GETs, {step['failures']} failed",
                              f"retried by nginx {step['nginx']['retried']}, slowest "
                              f"{step['max_ms']:.0f} ms")
    lost: dict[str, int] = {}
    for row in _of(results, "workercut"):
        lost[row["broker"]] = lost.get(row["broker"], 0) + row["lost"]
    if lost:
        table.add_row("lost, per broker", "; ".join(f"{broker}: {count}"
                                                   for broker, count in lost.items()),
                      "tasks no worker ever received, over the Celery-host cuts")
    return table


def observe(args: argparse.Namespace) -> list[dict]:
    from .observing.hosts import watch

    # its hosts' logs beside the report (``--out``), not in a temporary folder left behind
    return watch(args.out / "hosts" if getattr(args, "out", None) else None)


LESSON = Lesson(
    book="Python in the Multicore World — distributed task queues, on several hosts",
    name="hosts",
    section=section,
    chart=chart,
    summary=summary,
    parts={"brokers": brokers},
    observation=switched("hosts", "also run the multi-host scenarios in network namespaces "
                                  "(root: scale-out, a Celery host cut off, the broker cut "
                                  "off, two web hosts behind nginx drained and cut)", observe,
                         whole_preset=True, needs=("Redis", "nginx", "root", "Linux")),
)
