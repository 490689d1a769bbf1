"""Past the knee: a burst of open traffic at three times a server's capacity, under each
worker model -- who keeps answering in time, who melts, and how long the melt outlasts
the burst.

Not a Locust cell: the observation (:mod:`loadtests.lessons.observing.overload`) offers
each model half its capacity, then three times it, then half again, with a client deadline
of a second, and counts every request's outcome. Beside each measurement, the fluid model
(:mod:`loadtests.model.overload`): the queue grows at λ − μ in the burst and drains at
μ − λ after it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..harness.argtypes import positive
from ..model import overload as fluid
from .base import Lesson, Results, switched

#: Seconds of each phase (before, burst, after), per preset.
SECONDS = {"quick": (3, 6, 12), "full": (5, 10, 30)}
#: A model "melts" when its goodput in the burst falls below this share of its capacity.
MELTED_BELOW = 0.5


def _seconds(value: float | None) -> str:
    return "not in the run" if value is None else f"{value:.0f} s"


def _predicted(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} s"


def _setting(row: dict) -> str:
    """A bounded run: its settings, its goodput in the burst against its capacity and the
    fluid's, and how the excess was turned away."""
    during = row["goodput_rps"][1]
    turned = ", ".join(f"{kind}: {n}" for kind, n in _ends(row) if kind != "200")
    waits = ("nothing bounds the queue" if row["bound_requests"] is None
             else f"{row['bound_requests']} may wait")
    return (f"{row['label']}: `{row['bound']}` ({waits}): "
            f"{during:.0f}/s in time in the burst, {_share(row):.2f} of its "
            f"capacity (the fluid: {row['predicted_burst_goodput_rps']:.0f}/s); the rest: "
            f"{turned or 'none'}.")


def _share(row: dict) -> float:
    """Goodput in the burst as a share of the capacity."""
    return row["goodput_rps"][1] / row["capacity_rps"]


def _recommended(rows: list[dict]) -> list[str]:
    """Per model, the setting that kept the most goodput through the burst, with its
    numbers: what the lab recommends."""
    lines = []
    for label in dict.fromkeys(row["label"] for row in rows):
        shed = [row for row in rows if row["label"] == label and row.get("bound")]
        if not shed:
            continue
        best = max(shed, key=_share)
        back = ("back in time at once after it" if best["recovery_s"] == 0 else
                f"back in time {_seconds(best['recovery_s'])} after it")
        lines.append(f"- {label}: `{best['bound']}`, {_share(best):.2f} of its capacity in "
                     f"time through the burst, {back}.")
    return lines


def _worker_timeout(rows: list[dict]) -> str:
    """What gunicorn's ``timeout`` did in these runs, and what it does per worker class."""
    replaced = sum(row["workers_replaced"] for row in rows)
    timeouts = sorted({row["worker_timeout_s"] for row in rows if "worker_timeout_s" in row})
    setting = f" (`--timeout {timeouts[0]}` here)" if len(timeouts) == 1 else ""
    return (f"**gunicorn's `timeout`{setting} is no request deadline.** The arbiter kills a "
            "worker whose heartbeat is that late. A sync worker beats between requests, and "
            "gevent's and asgi's beat in their loop, so one request that holds the worker "
            "or its loop longer than the timeout gets the worker killed and every request it "
            "held lost; gthread's main thread beats while its threads serve, so a long "
            "request there is never cut (gunicorn#2086). A queue of short requests delays "
            "no heartbeat, however late its answers: workers gunicorn replaced in these "
            f"runs: {replaced}. Put the deadline where the request waits: in the client, in "
            "nginx's `proxy_read_timeout`, or a bound on the queue.")


def _unrecovered(row: dict) -> str:
    """A run that did not recover within the run, and the cause the fluid gives."""
    after_s = row["phases"][2][1]
    if row.get("retries") and row["predicted_recovery_s"] is None:
        cause = (f"its clients' retries: {row['phases'][2][0]:.0f} arrivals a second sent "
                 f"{row['retries'] + 1} times each reach the capacity, {row['capacity_rps']:.0f}"
                 "/s, so the queue never drains (metastable)")
    elif (predicted := row["predicted_recovery_s"]) is not None and predicted > after_s:
        cause = (f"the queue the burst left: the fluid drains it in {predicted:.0f} s, past "
                 f"the {after_s:g} s after the burst")
    else:
        cause = "a queue that outlasted the fluid's prediction"
    return f"{_run(row, sent=False)}: {cause}"


def _sooner(row: dict, rows: list[dict]) -> str:
    """A run back in time sooner than the fluid said: measured, the fluid's, the twin's, and
    the fluid's again from its model's highest capacity measured, where that is higher."""
    text = (f"{_run(row, sent=False)}: {row['recovery_s']:.0f} s; the fluid "
            f"{_predicted(row['predicted_recovery_s'])}, the twin "
            f"{_seconds(row['simulated']['recovery_s'])}")
    best = max(r["capacity_rps"] for r in rows if r["label"] == row["label"])
    if best > 1.1 * row["capacity_rps"] and not row.get("retries"):
        (before, first), (rate, seconds), (after, _) = row["phases"]
        queue = fluid.backlog(best, [(before, first), (rate, seconds)])
        again = fluid.recovery_s(best, row["deadline_s"], queue, after)
        text += (f"; from {best:.0f}/s, its model's highest capacity measured, rather than "
                 f"the {row['capacity_rps']:.0f}/s measured before this burst, the fluid "
                 f"{_predicted(again)}")
    return text + "."


def _ends(row: dict) -> list[tuple[str, int]]:
    """Each outcome that occurred, by kind: statuses, failures, timed out, dropped."""
    return [*row["statuses"].items(), *row["failed"].items(),
            *[(name, row[key]) for name, key in (("timed out", "timed_out"),
                                                 ("dropped", "dropped")) if row[key]]]


def _outcomes(row: dict) -> str:
    """Every outcome by kind, and their sum against what was scheduled."""
    kinds = ", ".join(f"{kind}: {n}" for kind, n in _ends(row))
    ended = row["scheduled"] - row["unaccounted"]
    return f"{kinds} (= {ended} of {row['scheduled']})"


def _run(row: dict, sent: bool = True) -> str:
    """A run's name: its model, and its bound or what its clients do."""
    return f"{row['label']} ({row['bound'] if row.get('bound') else _client(row, sent)})"


def _client(row: dict, sent: bool = True) -> str:
    retries = row.get("retries", 0)
    if not retries:
        return "gives up"
    times = "once" if retries == 1 else f"{retries} times"
    return f"retries {times} (+{row['retried']} sent)" if sent else f"retries {times}"


def table(rows: list[dict]) -> str:
    """One row per run: goodput by phase beside the fluid's, recovery, queues, memory."""
    lines = ["| worker | set against the burst | client at its deadline | capacity /s | "
             "goodput /s before · burst · after | burst: fluid · simulated | recovery "
             "measured / fluid / simulated | peak accept queue · client waiting | peak MB | "
             "workers replaced | outcomes |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        before, during, after = row["goodput_rps"]
        peak, twin = row["peak"], row["simulated"]
        bound = f"`{row['bound']}`" if row.get("bound") else "none"
        lines.append(
            f"| {row['label']} | {bound} | {_client(row)} | {row['capacity_rps']:.0f} | "
            f"{before:.0f} · {during:.0f} · {after:.0f} | "
            f"{row['predicted_burst_goodput_rps']:.0f} · {twin['goodput_rps'][1]:.0f} | "
            f"{_seconds(row['recovery_s'])} / {_predicted(row['predicted_recovery_s'])} / "
            f"{_seconds(twin['recovery_s'])} | "
            f"{peak['accept_queue']} · {peak['established']} | {peak['rss_mb']:.0f} | "
            f"{row['workers_replaced']} | {_outcomes(row)} |")
    return "\n".join(lines)


def section(results: Results) -> str:
    rows = results.extra("overload")
    if not rows:
        return ""
    first = rows[0]
    shares = " → ".join(f"{rate / first['capacity_rps']:.1f}× for {seconds:g} s"
                        for rate, seconds in first["phases"])
    melted = [_run(row, sent=False) for row in rows
              if row["goodput_rps"][1] < MELTED_BELOW * row["capacity_rps"]]
    lines = [
        "### Overload: a burst at three times the capacity",
        "",
        f"Each model serves `{first['path'].split('?')[0]}` (CPU work) on one process. A "
        "closed loop of four users measures its capacity; the open-loop generator then "
        f"offers Poisson arrivals at {shares} of it, with a client deadline of "
        f"{first['deadline_s']:g} s. Goodput is the answers with a 2xx status within the "
        "deadline; recovery is the time from the burst's end to the first second from which "
        "every second's p99 is within the deadline; the fluid model predicts both from the "
        "capacity alone (the queue grows at λ − μ and drains at μ − λ). The simulated "
        "twin runs the same phases as a discrete-event simulation "
        "(`loadtests/model/burst.py`): Poisson arrivals, each request 1 ÷ μ of the one GIL "
        "or loop, clients that give up or retry at their deadline, the queue's limit, "
        "nginx's `limit_req` as nginx counts it, and gunicorn's asgi worker cancelling a "
        "request 3 s after its client has gone (its `asgi_disconnect_grace_period`); its "
        "goodput and recovery are read as the measurement's. The accept queue "
        "holds the connections no worker has accepted yet, whether or not their client "
        "still waits; *client waiting* counts the server's connections whose client has not "
        "given up, accepted or not.",
        "",
        "Each model runs twice, on a fresh server: its clients give up at the deadline, or "
        "send the request again at once (one retry). A retry is more load when the server "
        "is already late: the fluid model counts each arrival twice while the queue is past "
        "a deadline's worth, and at half the capacity after the burst two attempts a "
        "request are the whole capacity, so the queue never drains although the burst is "
        "over: the metastable state.",
        "", table(rows), "",
        (f"Melted (goodput in the burst below {MELTED_BELOW:g} of capacity): "
         f"{', '.join(melted)}." if melted else
         f"None melted (goodput in the burst below {MELTED_BELOW:g} of capacity)."),
    ]
    if shed := [row for row in rows if row.get("bound")]:
        lines += ["", "**Against the burst.** Each model once more for each setting: a queue "
                  "limited to half a deadline's worth of work turns the excess away and keeps "
                  "each admitted request in time (gunicorn's asgi worker has no such limit: "
                  "its loop accepts every connection between two requests, so the lab's "
                  "nginx sets it in front); nginx in front with no limit and a "
                  "`proxy_read_timeout` inside the client's deadline; the app's own "
                  "admission limit (`ADMIT_LIMIT`), which counts the requests inside the app "
                  "-- on CPU work one at a time, each run to its end before the next starts, "
                  "while the rest wait before the app, where no limit of the app's reaches; "
                  "nginx's rate limit, set below the capacity: a rate bounds no queue, and "
                  "what it passes above the capacity waits at the server:", "",
                  *[f"- {_setting(row)}" for row in shed],
                  "", "**What to set**, per model: the setting that kept the most goodput "
                  "through the burst (a share above 1 is a capacity measured low before it).", "",
                  *_recommended(rows)]
    lines += ["", _worker_timeout(rows)]
    sooner = [row for row in rows if row["recovery_s"] is not None and row["recovery_s"] > 0
              and (row["predicted_recovery_s"] is None
                   or row["recovery_s"] < row["predicted_recovery_s"])]
    if sooner:
        lines += ["", "Back in time sooner than the fluid predicts, which serves every queued "
                  "request, those whose client has left included. A worker that drops them "
                  "drains sooner: gunicorn's asgi worker cancels the task of a client that "
                  "has gone, 3 s after, and the simulated twin, which cancels them too, "
                  "agrees. A capacity measured low before the burst makes the burst smaller "
                  "than it seems: the fluid from the model's highest capacity measured "
                  "brackets the rest:", "", *[f"- {_sooner(row, rows)}" for row in sooner]]
    if stuck := [row for row in rows if row["recovery_s"] is None]:
        lines += ["", "Not recovered by the run's end:", "",
                  *[f"- {_unrecovered(row)}." for row in stuck]]
    return "\n".join(lines)


def chart(results: Results, out: Path) -> list[str]:
    """Goodput a second, and the connections whose client waits, over the run: a colour per
    model, solid where its clients give up, dashed where they retry, dotted where its queue
    is bounded."""
    rows = results.extra("overload")
    if not rows:
        return []
    from ..matrix.charts import save, subplots

    fig, (good, queue) = subplots(2, 1, figsize=(8, 6), sharex=True, layout="constrained")
    colours: dict[str, str] = {}
    for row in rows:
        style = ":" if row.get("bound") else "--" if row.get("retries") else "-"
        label = _run(row, sent=False)
        line, = good.plot([r["t"] for r in row["timeline"]], [r["good"] for r in row["timeline"]],
                          linestyle=style, color=colours.get(row["label"]), marker=".",
                          label=label)
        colours.setdefault(row["label"], line.get_color())
        queue.plot([q["t"] for q in row["queue"]], [q["established"] for q in row["queue"]],
                   linestyle=style, color=colours[row["label"]], label=label)
    start = 0.0
    for _, seconds in rows[0]["phases"][:2]:
        start += seconds
        for ax in (good, queue):
            ax.axvline(start, color="grey", linewidth=0.8)
    good.set_ylabel("answered 2xx within the deadline, a second")
    good.set_title("Overload: goodput and the queue, a burst at 3× the capacity")
    good.legend(fontsize=6, ncol=2)
    queue.set_ylabel("connections whose client waits")
    queue.set_xlabel("seconds of the run (lines: the burst's start and end)")
    return [save(fig, out, "overload.png")]


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overload-seconds", type=positive(int), nargs=3, default=None,
                        metavar=("BEFORE", "BURST", "AFTER"),
                        help="whole seconds of each phase of the overload burst (default: "
                             + ", ".join(" ".join(f"{s:g}" for s in secs) + f" {preset}"
                                         for preset, secs in SECONDS.items()) + ")")


def _observe(args: argparse.Namespace) -> list[dict]:
    from .observing.overload import observe

    return observe(tuple(args.overload_seconds or SECONDS[args.preset]))


LESSON = Lesson(
    book="Past the chapter — overload: a burst past capacity, who sheds and who melts",
    name="overload",
    section=section,
    chart=chart,
    observation=switched("overload", "also offer each model a burst at three times its "
                                     "capacity, its clients giving up or retrying once, and "
                                     "measure goodput, outcomes and recovery",
                         _observe, _add_arguments, whole_preset=True),
)
