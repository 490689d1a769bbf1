"""The four multi-host scenarios, one after another, each on hosts of its own.

:func:`watch` is the hosts lesson's observation (``--hosts``, on with the full preset, and
``make hosts``): it needs root, and says so in one line otherwise -- except under
``CI=true``, where nothing may be skipped. Each scenario builds its cluster, runs, and
tears everything down before the next; the logs of each are kept in ``log_dir``.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path

from ...cluster import balancing, brokercut, scaleout, workercut
from ...cluster.network import unavailable

#: Each run by name (its logs' folder): the worker cut three ways (workercut.RUNS).
SCENARIOS = {
    "scaleout": scaleout.run,
    **{f"workercut-{cut:g}s": functools.partial(workercut.run, cut_s=cut, busy=busy)
       for cut, busy in workercut.RUNS},
    "brokercut": brokercut.run,
    "balancing": balancing.run,
}


def watch(log_dir: Path | None = None, only: tuple[str, ...] = ()) -> list[dict]:
    """Each scenario's row (its counts and times), or one row saying why none ran."""
    if why := unavailable():
        if os.environ.get("CI") == "true":
            print(f"hosts: {why} (CI=true: nothing may be skipped)", file=sys.stderr)
            raise SystemExit(2)
        print(f"hosts: skipped: {why}", file=sys.stderr)
        return [{"skipped": why}]
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="lab-hosts-"))
    rows = []
    for name, run in SCENARIOS.items():
        if not only or name in only or name.split("-")[0] in only:
            print(f"hosts: {name} (logs in {log_dir / name})", file=sys.stderr)
            rows.append(run(log_dir / name))
    return rows
