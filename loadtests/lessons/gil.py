"""The GIL: pure-Python CPU work in threads of one process runs one core's worth."""

from __future__ import annotations

from ..matrix.cells import Scenario, cell
from .base import Lesson, Results, cells_table, rate

SYNC = cell("cpu", "sync", 1, users=8)
ONE = cell("cpu", "gthread", 1, 1, users=8)
FOUR = cell("cpu", "gthread", 1, 4, users=8)
GEVENT = cell("cpu", "gevent", 1, users=8)


def section(results: Results) -> str:
    one, four = results.row(ONE), results.row(FOUR)
    if not (one and four):
        return ""
    text = [
        "### The GIL: threads do not add CPU",
        "",
        f"`is_prime({one.get('n', results.settings['n'])})` is pure Python and holds the "
        f"GIL; S = {one.get('service_time_ms') or results.settings['service_time_s'] * 1000:.0f}"
        " ms per call in one process. One "
        f"gthread worker with 1 thread served {rate(one)}; with 4 threads {rate(four)} — "
        f"{four['rps'] / one['rps']:.2f}× as much, and its server CPU stayed at "
        f"{four['server_cpu_pct']:.0f}% of a core: the threads take turns holding the GIL "
        "(handing it over every switch interval), so a process runs one core's worth of Python.",
    ]
    others = [r for r in (results.row(SYNC), results.row(GEVENT)) if r]
    if others:
        text[-1] += " The same ceiling holds for " + " and ".join(
            f"{r['label']} ({r['rps']:.1f} rps)" for r in others) + "."
    text += ["", cells_table([one, four, *others])]
    return "\n".join(text)


LESSON = Lesson(
    book="A Homegrown Process Pool — the thread-based nonsolution",
    name="gil",
    section=section,
    scenarios={"cpu": Scenario("cpu", "/prime", "cpu", short=True)},
    assumptions={"cpu": "Pure-Python is_prime holds the GIL: X = min(users, workers, cores) / "
                        "S, whatever the threads or greenlets; S is the mean CPU seconds each "
                        "plain `/prime` check took on the server's thread in the window "
                        "itself (the `cpu` of its answers), because this machine's speed "
                        "moves by several per cent within seconds; the short prime "
                        "(`--short-n`), so that the window counts dozens of requests; "
                        "assumes nothing else competes for the cores."},
    quick=(SYNC, ONE, FOUR),
    timelines=(ONE, FOUR),  # one thread at full speed; four at a quarter each
    full=(GEVENT,),  # (make demo's budget, since the slow-clients pair came)
)
