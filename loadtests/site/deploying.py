"""The deployer's tables, from the advisor's committed samples and its model.

``decision``: "my app is like this one: use that", one row per sample
(``docs/sample/advise/<name>/advice.json``): what a request does, what the advisor
measured and advised, and gunicorn's default beside it. ``scaling``: the same profiles put
through the advisor's model (:func:`loadtests.advise.predict.predict`) on 2, 8 and 32
cores: the configuration it ranks first, its ceiling and its workers' memory -- a
prediction, which the advisor then measures on the machine itself. ``overload``: per
worker model, what a burst at three times its capacity did with and without retries and
with its queue limited (the overload lesson's sample), and what to set.
"""

from __future__ import annotations

import json
import math

from ..advise.predict import Profile, predict
from .blocks import SAMPLES_DIR, provenance, sample

#: The cores the scaling table predicts for.
CORES = (2, 8, 32)


def advice(name: str) -> dict:
    return json.loads((SAMPLES_DIR / "advise" / name / "advice.json").read_text())


def _request(data: dict) -> str:
    mix = data["mix"]
    return (f"R {mix['latency_s'] * 1000:.0f} ms, of it CPU {mix['cpu_s'] * 1000:.1f} ms "
            f"({mix['wait_fraction']:.0%} waiting)")


def _measured(candidate: dict) -> str:
    return f"{candidate['measured_rps']:.0f} rps, {candidate['memory_mb']:.0f} MiB"


def decision(arg: str, write: bool = False) -> str:
    """One row per advisor sample (``arg``: names, comma-separated)."""
    lines = ["| an app like | a request | use | measured | gunicorn's default (2 × cores + 1 "
             "sync workers) |", "|---|---|---|---|---|"]
    machine = None
    for name in arg.split(","):
        data = advice(name)
        machine = machine or data["machine"]
        rec = data["recommended"]
        chosen = next(c for c in data["candidates"] if c["label"] == rec["label"])
        default = next((c for c in data["candidates"]
                        if "default" in c["note"] and c["measurement"]), None)
        shunned = "; not gevent: the driver does not yield" if data["excluded_models"] else ""
        lines.append(f"| [`{data['app']}`](advisor.md#sample-runs-the-examples) | "
                     f"{_request(data)}{shunned} | `{rec['command']}` | {_measured(chosen)} | "
                     f"{_measured(default) if default else '—'} |")
    users = advice(arg.split(",")[0])["settings"]["users"]
    return "\n".join([f"*The advisor's samples (`docs/sample/advise/`, `--quick`, {users} "
                      f"users) on a {machine['cpu_count']}-core {machine['cpu_model']}.*",
                      "", *lines])


def profile(data: dict) -> Profile:
    mix = data["mix"]
    memory = {model: (m["rss"], m["uss"]) for model, m in mix["worker_memory_mb"].items()}
    return Profile(mix["latency_s"], mix["cpu_s"], memory)


def scaling(arg: str, write: bool = False) -> str:
    """The model's first choice per sample and core count, at enough users to keep every
    core busy (the knee, cores × R ÷ S_cpu)."""
    lines = ["| an app like | cores | users | the model's first choice | its ceiling | "
             "workers' memory |", "|---|---:|---:|---|---:|---:|"]
    for name in arg.split(","):
        data = advice(name)
        app = profile(data)
        for cores in CORES:
            users = max(data["settings"]["users"], math.ceil(app.knee(cores)))
            best = predict(app, cores=cores, users=users, kind=data["kind"])[0]
            memory = "—" if best.memory_mb is None else f"{best.memory_mb:.0f} MiB"
            lines.append(f"| `{data['app']}` | {cores} | {users} | {best.candidate.label} | "
                         f"{best.rps:.0f} rps | {memory} |")
    return "\n".join(lines)


def _share(row: dict | None) -> str:
    if row is None:
        return "—"
    return f"{row['goodput_rps'][1] / row['capacity_rps']:.2f}"


def _back(row: dict | None) -> str:
    if row is None:
        return "—"
    after = row["phases"][2][1]
    return (f"not within {after:g} s" if row["recovery_s"] is None
            else f"{row['recovery_s']:.0f} s")


def overload(arg: str, write: bool = False) -> str:
    """Per model of the overload sample (``arg``: its name): goodput in the burst as a share
    of capacity, and recovery, for clients that give up and that retry once; then each
    setting the lesson measured against the burst, and how it turned the excess away."""
    rows = sample(arg).extra("overload")
    lines = ["| worker | capacity /s | gives up: goodput in the burst ÷ capacity, back in time "
             "after | retries once: the same |", "|---|---:|---|---|"]
    settings = ["| worker | set against the burst | goodput ÷ capacity | back in time after | "
                "turned away |", "|---|---|---:|---|---|"]
    for label in dict.fromkeys(row["label"] for row in rows):
        runs = [row for row in rows if row["label"] == label]
        plain = next(r for r in runs if not r.get("retries") and not r.get("bound"))
        retried = next((r for r in runs if r.get("retries")), None)
        lines.append(f"| {label} | {plain['capacity_rps']:.0f} | {_share(plain)}, "
                     f"{_back(plain)} | {_share(retried)}, {_back(retried)} |")
        settings += [f"| {label} | `{r['bound']}` | {_share(r)} | {_back(r)} | {_turned(r)} |"
                     for r in runs if r.get("bound")]
    return "\n".join([provenance(arg), "", *lines, "", *settings])


def _turned(row: dict) -> str:
    """How a run turned away what it did not answer: each outcome but a 200, by kind."""
    kinds = {**row["statuses"], **row["failed"], "timed out": row["timed_out"]}
    return ", ".join(f"{kind}: {n}" for kind, n in kinds.items() if kind != "200" and n) or "—"
