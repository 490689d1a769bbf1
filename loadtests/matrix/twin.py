"""The simulated twin beside each cell's bound: the cell's own closed loop, simulated.

The bound (:mod:`.bounds`) is a ceiling. The twin (:mod:`loadtests.model.simulate`) runs
the cell's users, each sending again when answered, through the model's slots, one GIL or
loop per process and the cores, fed what the cell measured: the S its bound rests on (for
waiting work, the server's whole CPU per request), the delay and the cores. It speaks only
where it models the cell's work -- waiting (``io``), pure-Python checks (``cpu``, and a
heartbeat cell's CPU users) and the two in turn (``closed``: the convoy cells) -- on a
gunicorn worker model at the default switch interval, on cores it was not pinned to;
elsewhere (offload, naps, hashing, the database, other servers) it says nothing.
"""

from __future__ import annotations

from ..lessons import SCENARIO
from ..model.gil import SWITCH_S
from ..model.simulate import PREEMPTS, Twin, Work, closed_loop

#: The bound kinds the twin models.
KINDS = ("io", "cpu", "closed")
#: Answers simulated per cell (at its bound's rate): the rate to a few per cent, in tens of
#: milliseconds of CPU.
ANSWERS = 400


def work(row: dict, kind: str, delay_s: float) -> Work:
    """One of the cell's requests as the twin sees it."""
    if kind == "io":
        return Work((row.get("server_cpu_ms_per_request") or 0.0) / 1000, delay_s)
    return Work(row["service_time_ms"] / 1000, delay_s if kind == "closed" else 0.0)


def modelled(row: dict) -> bool:
    """Whether the twin models this cell (see the module's docstring)."""
    scenario = SCENARIO.get(row["scenario"])
    return (scenario is not None and scenario.bound in KINDS and "error" not in row
            and bool(row.get("bound_rps")) and row.get("server") in (None, "gunicorn")
            and row["worker_class"] in PREEMPTS and not row.get("pin_cores")
            and row.get("switch_interval") in (None, SWITCH_S)
            and (scenario.bound == "io" or bool(row.get("service_time_ms"))))


def predict(row: dict, delay_s: float) -> float | None:
    """The twin's rate for the cell's primary requests (None where it does not model it)."""
    if not modelled(row):
        return None
    scenario = SCENARIO[row["scenario"]]
    twin = Twin.of(row["worker_class"], workers=row["workers"], threads=row["threads"] or 1,
                   connections=row["worker_connections"], cores=row["cpu_count"])
    duration = ANSWERS / row["bound_rps"]
    return closed_loop(twin, work(row, scenario.bound, delay_s),
                       row["users"] - scenario.heartbeat, duration=duration,
                       warmup=duration / 10).throughput


def section(rows: list[dict], settings: dict) -> list[str]:
    """The report's lines: each modelled cell's rate beside its bound and the twin's."""
    judged = [(row, twin) for row in rows if (twin := predict(row, settings["delay_s"]))]
    if not judged:
        return []
    lines = [
        "## The twin beside the bound",
        "",
        "The simulated twin (`loadtests.model.simulate`) runs each cell's users as a closed "
        "loop through its model's slots, one GIL or loop per process and the cores, fed the "
        "cell's own S (for waiting work, the server's CPU per request), delay and cores. "
        "It speaks where it models the work: waiting, pure-Python checks, and the two in "
        "turn (convoy), at the default switch interval.",
        "",
        "| scenario | model | users | rps | bound | rps ÷ bound | twin | rps ÷ twin |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row, twin in judged:
        lines.append(f"| {row['scenario']} | {row['label']} | {row['users']} | "
                     f"{row['rps']:.1f} | {row['bound_rps']:.1f} | "
                     f"{row['rps'] / row['bound_rps']:.2f} | {twin:.1f} | "
                     f"{row['rps'] / twin:.2f} |")
    by_bound = [row["rps"] / row["bound_rps"] for row, _ in judged]
    by_twin = [row["rps"] / twin for row, twin in judged]
    lines += ["", f"Over these {len(judged)} cells, rps ÷ bound ran "
                  f"{min(by_bound):.2f}–{max(by_bound):.2f} and rps ÷ twin "
                  f"{min(by_twin):.2f}–{max(by_twin):.2f}."]
    low = settings["fidelity_band"][0]
    if below := [f"{row['scenario']} {row['label']} ({row['rps'] / twin:.2f})"
                 for row, twin in judged if round(row["rps"] / twin, 2) < low]:
        lines += ["", f"Below {low} of the twin (the floor of the bound's band): "
                      f"{', '.join(below)}. The twin "
                      "shares the bound's picture of the work (S, the delay, one GIL or loop "
                      "per process), so what slows these cells lies outside both; the "
                      "outliers below and the lessons' sections say what was measured there."]
    return [*lines, ""]
