"""``python -m loadtests.advise.projection``: how far off is a prediction for other cores?

The advisor's ``--cores N`` predicts for a machine it is not on. This checks that projection
where it can be checked, on a 2-core machine, with the goal the user gives:

1. the servers held to one core (``--server-cpus 0``), the plan made for two (``--cores
   2``): predicted, not measured;
2. the same goal on both cores, measured;
3. the plan for one core made on two (``--cores 1``): predicted;
4. the servers held to one core, measured (the load generator on the other).

The goal's rate is for two cores; the one-core runs (3 and 4) offer half of it, the same
load a core, so that a configuration the goal needs two cores for on one side has its like
on the other.

Each measured configuration's p99 at the goal's rate is set beside what the other
machine's plan predicted for it, and the error is reported, in ``projection.json`` and
``projection.md``; the four runs' own reports are kept in their folders.

    python -m loadtests.advise.projection --app examples.cpu:app --path /score \\
        --rate 40 --p99 300 --quick --out docs/sample/advise/projection
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from ..harness.procs import run_main
from ..lessons.base import ms
from ..servers import ROOT

#: (folder, advisor flags, what it is, the share of the goal's rate it offers): the four
#: runs, in order.
RUNS = (
    ("one-core-predicts-two", ("--server-cpus", "0", "--cores", "2"),
     "profiled on 1 core, predicted for 2", 1.0),
    ("two-cores-measured", (), "measured on 2 cores", 1.0),
    ("two-cores-predict-one", ("--cores", "1"), "profiled on 2 cores, predicted for 1", 0.5),
    ("one-core-measured", ("--server-cpus", "0"), "measured on 1 core", 0.5),
)
#: (predicted run, measured run): the two projections.
PAIRS = ((RUNS[0][0], RUNS[1][0]), (RUNS[2][0], RUNS[3][0]))


def compare(predicted: dict, measured: dict) -> list[dict]:
    """Each configuration ``measured`` measured at the goal's rate, beside what ``predicted``
    said of it: p99 and p50 (ms), and the p99's error, predicted ÷ measured − 1."""
    said = {row["label"]: row["predicted"] for row in predicted["candidates"]}
    rows = []
    for row in measured["candidates"]:
        if not row["measured"] or row["label"] not in said:
            continue
        run = row["measured"]["runs"][0]
        guess = said[row["label"]]
        error = (guess["p99_ms"] / run["p99_ms"] - 1
                 if guess["p99_ms"] is not None and run["p99_ms"] else None)
        rows.append({"label": row["label"], "predicted_p99_ms": guess["p99_ms"],
                     "measured_p99_ms": run["p99_ms"], "predicted_p50_ms": guess["p50_ms"],
                     "measured_p50_ms": run["p50_ms"], "p99_error": error,
                     "predicted_meets": guess["meets"], "measured_meets": run["meets"]})
    return rows


def lines(result: dict) -> list[str]:
    """projection.md: one table per projection."""
    text = [f"# Projection error: {result['goal']}", "",
            f"`{result['app']}`, {', '.join(f'`{p}`' for p in result['paths'])}; "
            f"{result['machine']}.", ""]
    for pair in result["projections"]:
        text += [f"## {pair['from']} → {pair['to']}", "",
                 "S_cpu profiled: {:.1f} ms for the prediction, {:.1f} ms for the "
                 "measurement.".format(*pair["cpu_ms"]), "",
                 "| configuration | predicted p50 / p99 ms | measured p50 / p99 ms | p99 error |"
                 " meets: predicted / measured |", "|---|---:|---:|---:|---|"]
        for row in pair["rows"]:
            said = cells(row)
            text.append(f"| {row['label']} | {ms(row['predicted_p50_ms'])} / "
                        f"{said['predicted']} | {ms(row['measured_p50_ms'])} / "
                        f"{said['measured']} | {said['error']} | {said['meets']} |")
        text.append("")
    return text


def cells(row: dict) -> dict[str, str]:
    """A compared row's p99s, error and verdicts as a table shows them."""
    return {"predicted": ms(row["predicted_p99_ms"]), "measured": ms(row["measured_p99_ms"]),
            "error": "—" if row["p99_error"] is None else f"{row['p99_error']:+.0%}",
            "meets": f"{_yes(row['predicted_meets'])} / {_yes(row['measured_meets'])}"}


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.advise.projection",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the folder for the runs")
    parser.add_argument("--rate", type=float, required=True,
                        help="the goal's rate on two cores (one core: half of it)")
    args, advise = parser.parse_known_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    advice = {}
    for folder, flags, what, share in RUNS:
        print(f"projection: {what} ...", flush=True)
        done = subprocess.run([sys.executable, "-m", "loadtests.advise", *advise, *flags,
                               "--rate", f"{args.rate * share:g}",
                               "--out", str(args.out / folder)], cwd=ROOT)
        if done.returncode != 0:
            print(f"projection: the run {what} failed ({done.returncode})", file=sys.stderr)
            return done.returncode
        advice[folder] = json.loads((args.out / folder / "advice.json").read_text())
    first = advice[RUNS[1][0]]
    what = {folder: f"{text} at {advice[folder]['goal']['rate_rps']:g}/s"
            for folder, _, text, _ in RUNS}
    result = {
        "app": first["app"], "paths": first["paths"],
        "goal": f"{first['goal']['text']} on 2 cores, half the rate on 1",
        "machine": f"{first['machine']['cpu_model']}, {first['machine']['cores']}",
        "projections": [{"from": what[p], "to": what[m],
                         # this VM's speed moves between runs: each run's own S_cpu
                         "cpu_ms": [advice[p]["mix"]["cpu_s"] * 1000,
                                    advice[m]["mix"]["cpu_s"] * 1000],
                         "rows": compare(advice[p], advice[m])} for p, m in PAIRS],
    }
    (args.out / "projection.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "projection.md").write_text("\n".join(lines(result)))
    print("\n".join(lines(result)))
    return 0


if __name__ == "__main__":
    run_main(main)
