"""Power napping: ``sleep(0)`` every 100 000 divisions unfreezes the heartbeat, at a CPU cost."""

from __future__ import annotations

from ..matrix.cells import Scenario, cell
from .base import Lesson, Results, heartbeat_table


def section(results: Results) -> str:
    naps = results.scenario("nap")
    if not naps:
        return ""
    plain = [results.twin(r, "heartbeat") for r in naps]
    s_nap = naps[0]["service_time_ms"] or 0
    s_plain = ((plain[0] or {}).get("service_time_ms")
               or results.settings["service_time_s"] * 1000)
    timed = ("each the check's own CPU in its server under the load (net of what its thread "
             "ran while it napped)" if naps[0].get("service_source") == "load"
             else "each timed in its server")
    return "\n".join([
        "### Power napping: `sleep(0)` when `i % 100_000 == 1`",
        "",
        "`/prime/<n>?nap=1` is the book's napping check: `time.sleep(0)` when "
        "`i % 100_000 == 1`, which yields to the hub under gevent's patching and releases the "
        "GIL under threads. The heartbeat no longer waits for whole primes:",
        "",
        heartbeat_table([r for r in plain if r] + naps),
        "",
        f"The cost is CPU: the napping check took S_nap = {s_nap:.0f} ms against S = "
        f"{s_plain:.0f} ms, {timed} — mostly the modulo test on every "
        "division, not the naps — and its throughput falls in the same proportion. Under "
        "gevent the heartbeat still waits tens of naps: `sleep(0)` only queues a callback, "
        "and gevent's loop polls for I/O once per batch of callbacks (`CALLBACK_CHECK_COUNT` "
        "= 50, checked against the switch interval), not after each one as asyncio does.",
    ])


LESSON = Lesson(
    book="The Real Impact of the GIL — power napping with sleep(0)",
    name="nap",
    section=section,
    scenarios={"nap": Scenario("heartbeat", "/prime", "nap", heartbeat=True, extra=("--nap",))},
    assumptions={"nap": "The cpu bound with S_nap, the napping check's own CPU in the cell's "
                        "server under the load, net of what its thread ran between naps (its "
                        "modulo test on every division costs more than the naps)."},
    quick=(cell("nap", "gevent", 1, users=3),),
    timelines=(cell("nap", "gevent", 1, users=3),),  # primes interleaved, the heartbeat let in
    full=(cell("nap", "gthread", 1, 4, users=3),),
    # napping completes interleaved requests in bunches (every ~0.65 s at S ≈ 0.2 s): a longer
    # window than the other CPU cells
    windows={"quick": (0.5, 5.5)},
)
