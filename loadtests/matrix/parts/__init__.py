"""The parts a matrix cell may have, in the order their hooks run (see
:mod:`loadtests.load.serve`). To add one -- another load generator's meter, a new
watchdog -- write its module here and add its class to :data:`PARTS`; nothing else in the
runner changes.
"""

from __future__ import annotations

from .base import CellPart, Context
from .heartbeat import Heartbeat
from .idle import IdleTiming
from .monitor import LoopWatch
from .proxy import Proxy
from .services import BesideServices, DatabaseWait
from .slow import Slowloris
from .trace import Timeline

#: Services, then the proxy in front, then S in the idle server through it, then the slow
#: clients; after the load the slow clients stop before the log is read and the workers quit.
PARTS: tuple[type[CellPart], ...] = (BesideServices, Proxy, IdleTiming, Slowloris, LoopWatch,
                                     Timeline, Heartbeat, DatabaseWait)


def parts_of(ctx: Context) -> list[CellPart]:
    """The parts ``ctx``'s cell uses, in :data:`PARTS` order."""
    return [part for cls in PARTS if (part := cls.of(ctx)) is not None]


__all__ = ["PARTS", "CellPart", "Context", "parts_of"]
