"""The advisor page's goal samples (``docs/sample/advise/<name>/advice.json`` of runs with
``--rate`` and ``--p99``) and its projection sample (``projection/projection.json``), as
tables generated from them."""

from __future__ import annotations

import json

from ..advise.projection import cells
from ..lessons.base import ms
from .blocks import SAMPLES_DIR


def _advice(name: str) -> dict:
    return json.loads((SAMPLES_DIR / "advise" / name / "advice.json").read_text())


def goals(arg: str, write: bool = False) -> str:
    """Each goal sample (names comma-separated): the goal, the advice, the twin's p99 at R
    beside the measured one, and the headroom predicted and measured."""
    lines = ["| sample | goal | cores | advised | predicted p99 ms | measured p99 ms | "
             "meets | headroom rps: predicted / measured | took |",
             "|---|---|---:|---|---:|---:|---|---:|---:|"]
    machine, commands = None, []
    for name in arg.split(","):
        data = _advice(name)
        commands.append(f"* `{name}`: `{data['command']}`")
        machine = machine or data["machine"]
        rec, goal = data["recommended"], data["goal"]
        row = next(r for r in data["candidates"] if r["label"] == rec["label"])
        run = row["measured"]["runs"][0] if row["measured"] else None
        meets = ("yes" if rec["meets"] else "no") + ("" if goal["measured"] else " (predicted)")
        head = rec["headroom"]
        lines.append(
            f"| `{name}` | {goal['text']} | {goal['cores']} | `{rec['label']}` | "
            f"{ms(row['predicted']['p99_ms'])} | {ms(run['p99_ms']) if run else '—'} | "
            f"{meets} | {ms(head['predicted_rps'])} / {ms(head['measured_rps'])} | "
            f"{data['elapsed_s']:.0f} s |")
    return "\n".join([
        f"*Samples `docs/sample/advise/{{{arg}}}/`: `--quick`, on {machine['cpu_model']}, "
        f"{machine['cores']} (Python {machine['python']}, gunicorn "
        f"{machine['versions']['gunicorn']}). A goal's cores are those it was planned for; "
        "where they are not the machine's, nothing was measured.*", "", *lines, "",
        "Each sample's command (its report: `docs/sample/advise/<sample>/report.md`):", "",
        *commands])


def projection(arg: str, write: bool = False) -> str:
    """The projection sample ``docs/sample/advise/<arg>/projection.json``: each measured
    configuration's p99 beside the other core count's prediction, and the error."""
    data = json.loads((SAMPLES_DIR / "advise" / arg / "projection.json").read_text())
    lines = [f"*Sample `docs/sample/advise/{arg}/`: `{data['app']}` "
             f"({', '.join(data['paths'])}), {data['goal']}, on {data['machine']}.*", "",
             "| projection | S_cpu ms: profiled for the prediction / the measurement | "
             "configuration | predicted p99 ms | measured p99 ms | p99 error | "
             "meets: predicted / measured |", "|---|---:|---|---:|---:|---:|---|"]
    for pair in data["projections"]:
        speed = "{:.1f} / {:.1f}".format(*pair["cpu_ms"])
        for row in pair["rows"]:
            said = cells(row)
            lines.append(f"| {pair['from']} → {pair['to']} | {speed} | `{row['label']}` | "
                         f"{said['predicted']} | {said['measured']} | {said['error']} | "
                         f"{said['meets']} |")
    return "\n".join(lines)
