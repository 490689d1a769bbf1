"""What each generated block of a docs page holds, rendered from the samples and the code.

A page marks a block with two MyST comment lines::

    % generated: lesson io
    ... (rewritten by ``python -m loadtests.site``) ...
    % generated: end

The word after ``generated:`` names the renderer (:data:`RENDERERS`), the rest is its
argument. Numbers come only from ``docs/sample/<name>/results.json``; each block says
which sample, which command made it, when and on which machine.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

from ..lessons import LESSONS, Lesson, Results
from ..lessons.base import timelines
from ..matrix import charts
from ..matrix.report import _table
from ..model.queueing import drift
from ..servers import ROOT

DOCS = ROOT / "docs"
SAMPLES_DIR = DOCS / "sample"
#: The samples a lesson page may show, in this order: the newest and smallest first.
SAMPLES = ("quick", "open", "replay", "pair", "overload", "atonce", "slowwatch", "database",
           "convoy", "servers", "hosts", "full")
#: Where the generic lesson charts go (a lesson with no chart of its own).
CHARTS_DIR = DOCS / "lessons" / "charts"
TITLES = {"quick": "The quick matrix (`make demo`)",
          "open": "The open-traffic sweep (`--full --lesson opentraffic`)",
          "replay": "Each request's own CPU, replayed, and a fresh worker's collections "
                    "(`--no-cells --service-replay --gc-pause`)",
          "pair": "One gthread worker against two (`--no-cells --worker-pair`)",
          "overload": "The overload burst (`make lesson L=overload`)",
          "atonce": "Connections opened at once (`--no-cells --at-once`)",
          "slowwatch": "The slow-client watch",
          "database": "The database cells (`--full --scenarios db,dbbeat,dbbudget`)",
          "convoy": "The convoy cells and the tracer's cost (`--full --scenarios "
                    "convoy,convoylong,health`)",
          "servers": "The servers' cells (`--full --scenarios peerio,peercpu,peerbeat,"
                     "peerhealth,peerslow`)",
          "hosts": "The multi-host scenarios (`make hosts`)",
          "full": "The full matrix (`make matrix`)"}
#: How a lesson page states its answer, on one line of its own.
ONE_LINE = "**In one line:**"
#: ``--help`` is wrapped to the terminal's width: fixed, so that the page is reproducible.
HELP_COLUMNS = "100"


@cache
def manifest() -> dict[str, dict]:
    """Per sample: the command that made it, its date and its machine."""
    return json.loads((SAMPLES_DIR / "samples.json").read_text())


@cache
def sample(name: str) -> Results:
    return Results(json.loads((SAMPLES_DIR / name / "results.json").read_text()))


def provenance(name: str) -> str:
    """One line: which sample, made by what, when, where, and how long it ran."""
    info, results = manifest()[name], sample(name)
    machine = results.machine
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    return (f"*Sample `{name}` (`docs/sample/{name}/results.json`): `{info['command']}`, "
            f"{info['date']}, on {info['machine']} ({machine['cpu_count']} cores, "
            f"Python {machine['python']}; {versions}); it ran "
            f"{results.data['elapsed_s'] / 60:.0f} min.*")


def _demoted(section: str) -> str:
    """A report section under a page's own headings: its ``###`` title line dropped."""
    lines = section.splitlines()
    if lines and lines[0].startswith("### "):
        lines = lines[1:]
    return "\n".join(lines).strip()


def _once(text: str, told: set[str]) -> str:
    """``text`` without the prose paragraphs an earlier sample's section on the page already
    said word for word (its tables, lists and numbers stay); ``told`` keeps them."""
    kept = []
    for paragraph in text.split("\n\n"):
        prose = paragraph[:1].isalpha() and "|" not in paragraph
        if prose and paragraph in told:
            continue
        told.add(paragraph)
        kept.append(paragraph)
    return "\n\n".join(kept)


def lesson_rows(lesson: Lesson, results: Results) -> list[dict]:
    """The rows of the lesson's own cells and scenarios in one sample, in run order."""
    mine = {id(row) for row in map(results.row, (*lesson.quick, *lesson.full)) if row}
    return [row for row in results.rows
            if row["scenario"] in lesson.scenarios or id(row) in mine]


def _charts(lesson: Lesson, name: str, write: bool) -> list[str]:
    """The image paths (relative to ``docs/lessons/``) of the lesson's charts in a sample."""
    results = sample(name)
    if lesson.chart:  # the sample's report drew it: only its names are wanted here
        with tempfile.TemporaryDirectory() as scratch, charts.names_only():
            names = lesson.chart(results, Path(scratch))
        return [f"../sample/{name}/{chart}" for chart in names]
    file = f"{lesson.name}-{name}.png"
    rows = lesson_rows(lesson, results)
    if not rows:
        return []
    if write:
        CHARTS_DIR.mkdir(parents=True, exist_ok=True)
        charts.cells(rows, CHARTS_DIR, file, f"{lesson.name}: measured beside the bound "
                                             f"(sample {name})")
    return [f"charts/{file}"]


def _named(name: str) -> Lesson | None:
    return next((item for item in LESSONS if item.name == name), None)


def lesson(arg: str, write: bool = False) -> str:
    """A lesson's measured sections, one per sample that has its cells, with charts."""
    chosen = _named(arg)
    if chosen is None:
        raise ValueError(f"no lesson named {arg!r}")
    parts, seen, told = [], set(), set()
    for name in SAMPLES:
        section = chosen.section(sample(name))
        if not section or section in seen:
            continue
        seen.add(section)
        parts += [f"### {TITLES[name]}", "", provenance(name), "",
                  _once(_demoted(section), told), ""]
        parts += [f"![{chosen.name}, sample {name}]({path})" + "\n"
                  for path in _charts(chosen, name, write)]
        parts += timelines(chosen, sample(name), prefix=f"../sample/{name}/")
    return "\n".join(parts).strip()


def part(arg: str, write: bool = False) -> str:
    """A named excerpt of a lesson's section (``LESSON NAME``), from each sample that has it."""
    name, _, wanted = arg.partition(" ")
    chosen = _named(name)
    if chosen is None or wanted not in chosen.parts:
        raise ValueError(f"no part {wanted!r} of a lesson named {name!r}")
    parts = []
    for sample_name in SAMPLES:
        if text := chosen.parts[wanted](sample(sample_name)):
            parts += [provenance(sample_name), "", text, ""]
    return "\n".join(parts).strip()


def summary(name: str) -> tuple[str, str]:
    """A lesson page's question (its title) and its one-line answer."""
    lines = (DOCS / "lessons" / f"{name}.md").read_text().splitlines()
    title = next(line[2:] for line in lines if line.startswith("# "))
    answer = next((line.removeprefix(ONE_LINE).strip() for line in lines
                   if line.startswith(ONE_LINE)), "")
    return title, answer


def relinked(text: str, prefix: str) -> str:
    """``text``'s relative links (written from a lesson page) as seen from ``prefix``'s
    folder's parent: from the README, ``../glossary.md`` is ``docs/glossary.md``.

    >>> relinked("the [knee](../glossary.md#knee), [web](https://x.org/a)", "docs/lessons/")
    'the [knee](docs/glossary.md#knee), [web](https://x.org/a)'
    """
    if not prefix:
        return text
    return re.sub(r"\]\((?![a-z]+:|#)([^)]+)\)",
                  lambda link: f"]({posixpath.normpath(prefix + link[1])})", text)


def lessons(arg: str = "", write: bool = False) -> str:
    """The lessons in the registry's teaching order: each page's question and answer in one
    line, linked (``arg`` is the folder the links start from), and the toctree."""
    prefix = f"{arg}/" if arg else ""
    lines = [f"{i}. [{title}]({prefix}{item.name}.md) {relinked(answer, prefix)}"
             for i, item in enumerate(LESSONS, 1) for title, answer in [summary(item.name)]]
    if not arg:
        lines += ["", "```{toctree}", ":hidden:", "", *(item.name for item in LESSONS), "```"]
    return "\n".join(lines)


def run_line(name: str) -> str:
    """How long the sample's run took, and its quiet-machine check."""
    results = sample(name)
    settings, cells = results.settings, results.data["cells"]
    text = f"{len(cells)} cells in {results.data['elapsed_s']:.0f} s"
    if times := settings.get("service_start_samples_s"):
        text += (f"; quiet-machine check ±{drift(times):.0%} ({min(times) * 1000:.0f}–"
                 f"{max(times) * 1000:.0f} ms for `is_prime({settings['n']})`)")
    return text + "."


def table(arg: str, write: bool = False) -> str:
    """A sample's whole table, as its report prints it."""
    return "\n".join([provenance(arg), run_line(arg), "", _table(sample(arg).data["cells"])])


def demo(arg: str, write: bool = False) -> str:
    """A sample's bounded cells in brief: what ``make demo`` prints, trimmed."""
    rows = [row for row in sample(arg).rows if row.get("fidelity") is not None]
    lines = ["| scenario | model | users | rps | bound | fidelity |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['scenario']} | {r['label']} | {r['users']} | {r['rps']:.1f} | "
              f"{r['bound_rps']:.1f} | {r['fidelity']:.2f} |" for r in rows]
    return "\n".join([provenance(arg), run_line(arg), "", *lines, "",
                      "fidelity = measured ÷ bound; in the CPU cells measured is Little's "
                      "law, users ÷ their mean response time (completions come in bursts; "
                      "the mean does not), so it can differ from rps ÷ bound."])


def advice(arg: str, write: bool = False) -> str:
    """The advisor's sample runs (``docs/sample/advise/<name>/advice.json``, names comma-
    separated): each example's profile and its measured candidates, the advised in bold."""
    lines = ["| example | profile: R / S_cpu, waiting | configuration | predicted | measured "
             "| fidelity | p50 / p99 ms | server CPU | memory |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    runs = []
    for name in arg.split(","):
        data = json.loads((SAMPLES_DIR / "advise" / name / "advice.json").read_text())
        runs.append((name, data))
        mix, first = data["mix"], True
        for c in data["candidates"]:
            m = c["measurement"]
            if not m:
                continue
            label = c["label"] + (" (gunicorn's default)" if "default" in c["note"] else "")
            if c["label"] == data["recommended"]["label"]:
                label = f"**{label}**"
            profile = (f"{mix['latency_s'] * 1000:.1f} / {mix['cpu_s'] * 1000:.1f} ms, "
                       f"{mix['wait_fraction']:.0%}") if first else ""
            lines.append(f"| {name if first else ''} | {profile} | {label} | "
                         f"{c['predicted_rps']:.1f} | {c['measured_rps']:.1f} | "
                         f"{c['fidelity']:.2f} | {m['p50_ms']:.0f} / {m['p99_ms']:.0f} | "
                         f"{m['server_cpu_pct']:.0f} % | {c['memory_mb']:.0f} MiB |")
            first = False
    machine = runs[0][1]["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    seconds = [data["elapsed_s"] for _, data in runs]
    return "\n".join([
        f"*Samples `docs/sample/advise/{{{arg}}}/`: `--quick`, "
        f"{runs[0][1]['settings']['users']} users, on a {machine['cpu_count']}-core "
        f"{machine['cpu_model']} (Python {machine['python']}; {versions}); each run took "
        f"{min(seconds):.0f}–{max(seconds):.0f} s.*", "", *lines])


def presets(arg: str = "", write: bool = False) -> str:
    """The matrix's presets from the code (cells, runs, windows) and their samples' times."""
    from ..matrix import presets as matrix

    lines = ["| preset | cells | runs per cell | windows (warm-up + measured) | its sample |",
             "|---|---:|---:|---|---|"]
    for name in matrix.NAMES:
        spans = sorted({f"{w:g} + {m:g} s" for w, m in matrix.windows(name).values()})
        made = manifest()[name]
        lines.append(f"| `--{name}` | {len(matrix.cells(name))} | {matrix.REPEAT[name]} | "
                     f"{', '.join(spans)} | `{made['command']}`: {run_line(name)} |")
    return "\n".join(lines)


def cli(arg: str, write: bool = False) -> str:
    """A command's ``--help``, as argparse prints it at a fixed width."""
    done = subprocess.run([sys.executable, "-m", arg, "--help"], capture_output=True,
                          text=True, cwd=ROOT, check=True,
                          env=os.environ | {"COLUMNS": HELP_COLUMNS})
    return "\n".join([f"```text\n$ python -m {arg} --help", done.stdout.rstrip(), "```"])


RENDERERS: dict[str, Callable[..., str]] = {"lesson": lesson, "part": part, "lessons": lessons,
                                            "table": table, "demo": demo, "cli": cli,
                                            "advice": advice, "presets": presets}
