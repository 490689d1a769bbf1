"""Step 5: the advice on the terminal (rich), and in ``reports/advise-<timestamp>/``:
``advice.json`` (the data), ``report.md`` (the reasoning) and ``advice.png`` (the chart)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from ..lessons.base import ms
from ..matrix.charts import bars, outside_legend, save, subplots
from . import goalreport
from .goalreport import goal_table

__all__ = ["candidates_table", "goal_table", "write"]


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def candidates_table(advice: dict) -> Table:
    table = Table(title=f"{advice['app']}: predicted ceiling and measured throughput "
                        f"at {advice['settings']['users']} users, {advice['machine']['cpu_count']}"
                        f" cores")
    table.add_column("configuration")
    for name in ("predicted rps", "measured rps", "fidelity", "p50 ms", "p99 ms",
                 "server CPU", "memory MiB"):
        table.add_column(name, justify="right")
    table.add_column("risk")
    chosen = advice["recommended"]["label"]
    for row in advice["candidates"]:
        label = row["label"] + (" [green]◀ advised[/]" if row["label"] == chosen else "")
        m = row["measurement"] or {}
        table.add_row(label, fmt(row["predicted_rps"]), fmt(row["measured_rps"]),
                      fmt(row["fidelity"], ".2f"), ms(m.get("p50_ms")), ms(m.get("p99_ms")),
                      f"{m['server_cpu_pct']:.0f}%" if m else "—", fmt(row["memory_mb"], ".0f"),
                      row["risk"])
    table.caption = ("predicted = per worker, its requests in progress (slots, or its share of "
                     "the users) as a closed network between their wait (R − S_cpu) and its "
                     "GIL (mean value analysis), summed, at most min(users, workers, cores) ÷ "
                     "S_cpu; measured rows: R and S_cpu timed on their own server before and "
                     "after the load")
    return table


def profile_lines(advice: dict) -> list[str]:
    lines = ["| path | R ms | S_cpu ms | waiting | requests | worker RSS MiB | USS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for path, p in advice["profile"].items():
        lines.append(f"| `{path}` | {p['latency_s'] * 1000:.1f} | {p['cpu_s'] * 1000:.1f} | "
                     f"{p['wait_fraction']:.0%} | {p['requests']} | {p['rss_mb']:.1f} | "
                     f"{p['uss_mb']:.1f} |")
    return lines


def _connections(m: dict | None) -> str:
    db = (m or {}).get("db")
    return "—" if not db else f"{db['peak']} of {db['allowed']}"


def candidate_lines(advice: dict) -> list[str]:
    watched = any((row["measurement"] or {}).get("db") for row in advice["candidates"])
    lines = ["| configuration | slots | predicted rps | measured rps | fidelity | p50 / p99 ms "
             "| server CPU (busiest) | Locust CPU | memory MiB | risk |"
             + (" database connections (peak of allowed) |" if watched else ""),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|" + ("---:|" if watched else "")]
    for row in advice["candidates"]:
        m = row["measurement"]
        mark = " **(advised)**" if row["label"] == advice["recommended"]["label"] else ""
        lines.append(
            f"| {row['label']}{mark}{' — ' + row['note'] if row['note'] else ''} | "
            f"{row['slots']} | {fmt(row['predicted_rps'])} | {fmt(row['measured_rps'])} | "
            f"{fmt(row['fidelity'], '.2f')} | "
            + (f"{ms(m['p50_ms'])} / {ms(m['p99_ms'])} | {m['server_cpu_pct']:.0f}% "
               f"({m['busiest_pct']:.0f}%) | {m['locust_cpu_pct']:.0f}% | " if m else
               "— | — | — | ")
            + f"{fmt(row['memory_mb'], '.0f')} | {row['risk']} |"
            + (f" {_connections(m)} |" if watched else ""))
    return lines


def write(advice: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "advice.json").write_text(json.dumps(advice, indent=2) + "\n")
    goal = advice.get("goal")
    (goalreport.chart if goal else chart)(advice, out)
    rec, machine, settings = advice["recommended"], advice["machine"], advice["settings"]
    load = (f"the goal {goal['text']}" if goal else f"{settings['users']} users")
    excluded = [f"- **{model}**: {why}" for model, why in advice["excluded_models"].items()]
    text = [
        f"# Advice for `{advice['app']}` ({advice['kind'].upper()})",
        "",
        f"Machine: {machine['cpu_model']}, {machine['cpu_count']} cores, Python "
        f"{machine['python']}, gunicorn {machine['versions']['gunicorn']}; "
        f"{settings['preset']} run, {load}, {advice['elapsed_s']:.0f} s.",
        "",
        "## Recommended",
        "",
        "```sh",
        rec["command"],
        "```",
        "",
        # another server than gunicorn has no gunicorn.conf.py
        *(["or in a `gunicorn.conf.py`:", "", "```python", *rec["conf_lines"], "```", ""]
          if rec["conf_lines"] else []),
        rec["reasons"],
        "",
        "## Profile (one worker, one user)",
        "",
        *profile_lines(advice),
        "",
        f"Mix of the routes ({mix_text(advice)}): R = {advice['mix']['latency_s'] * 1000:.1f} ms, "
        f"S_cpu = {advice['mix']['cpu_s'] * 1000:.1f} ms, knee = cores × R ÷ S_cpu = "
        f"{fmt(advice['mix']['knee'], '.0f')} requests in progress.",
        "",
        *(["Models left out:", "", *excluded, ""] if excluded else []),
        *(goalreport.lines(advice, out) if goal else [
            "## Candidates",
            "",
            *candidate_lines(advice),
            "",
            "Fidelity = measured ÷ predicted; a measured row's prediction uses R and S_cpu timed "
            "at one user on its own server, idle, before and after its load. Memory = workers × "
            "USS + (RSS − USS) of one warm worker of that model. ![chart](advice.png)",
            ""]),
    ]
    (out / "report.md").write_text("\n".join(text))


def mix_text(advice: dict) -> str:
    """The routes' shares ("equal shares" for an older advice.json, which had no others)."""
    shares = advice.get("traffic", {}).get("shares")
    if not shares or len(set(shares.values())) == 1:
        return "equal shares"
    return ", ".join(f"`{route}` {share:.0%}" for route, share in shares.items())


def chart(advice: dict, out: Path) -> str:
    fig, (left, right) = subplots(1, 2, figsize=(13, 4.5), layout="constrained",
                                  gridspec_kw={"width_ratios": [1, 2]})
    paths = list(advice["profile"])
    cpu = [advice["profile"][p]["cpu_s"] * 1000 for p in paths]
    wait = [(advice["profile"][p]["latency_s"] - advice["profile"][p]["cpu_s"]) * 1000
            for p in paths]
    # the profile's colours are its own: the candidates' panel uses others
    left.bar(paths, cpu, label="S_cpu", color="tab:red")
    left.bar(paths, [max(0, w) for w in wait], bottom=cpu, label="waiting", color="0.7")
    left.set_ylabel("ms per request (one user)")
    left.set_title("profile: R = CPU + waiting", fontsize=10)
    outside_legend(left)
    rows = [r for r in advice["candidates"] if r["measured_rps"] is not None]
    bars(right, [r["label"] for r in rows],
         {"predicted": [r["predicted_rps"] for r in rows],
          "measured": [r["measured_rps"] for r in rows]},
         colors={"predicted": "tab:purple", "measured": "tab:green"})
    right.set_ylabel("requests/s")
    right.set_title(f"measured candidates at {advice['settings']['users']} users", fontsize=10)
    return save(fig, out, "advice.png")
