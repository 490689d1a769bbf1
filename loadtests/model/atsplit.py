"""The twin's prediction of a measured run at the split that run measured.

Where a client keeps its connections, each stays with the worker that accepted it, and the
few opened first decide where the requests go. The twin draws that as the real run does,
by chance: fed one measured split, its seeded runs put 51 % of the requests on one worker
in one seed and 90 % in another, and p99 follows the split (gthread -w2 --threads 4 on
``/io`` at ρ 0.39, the open sample's run: 24.6 to 40.5 ms over 20 seeds, 23.7 measured at a
split of 0.53). The split is measured with every run, so the twin predicts that run at it:
of :data:`DRAWS` seeded runs it keeps the :data:`KEPT` whose split is nearest the measured
one. It selects on an input the run measured, never on a latency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .simulate import Outcome

#: Seeded runs drawn where the split is the twin's to draw, and the runs kept of them.
DRAWS, KEPT = 20, 5


def distance(shares: Sequence[float], split: Sequence[float]) -> float:
    """How far a run's shares (largest first) are from ``split`` (largest first).

    >>> round(distance((0.75, 0.25), (0.5, 0.5)), 2)
    0.5
    """
    return sum(abs(a - b) for a, b in zip(shares, split, strict=True))


def at_split(run: Callable[[int], Outcome], split: Sequence[float] | None, *,
             draws: int = DRAWS, kept: int = KEPT) -> list[Outcome]:
    """``kept`` runs of ``run(seed)``: seeds 1 to ``kept`` when ``split`` is None (the
    twin has no split to draw: one queue, or one process); else the ``kept`` of seeds 1 to
    ``draws`` whose :attr:`Outcome.shares` are nearest ``split`` (the lower seed first
    where they tie)."""
    if split is None:
        return [run(seed) for seed in range(1, kept + 1)]
    runs = [run(seed) for seed in range(1, draws + 1)]
    return sorted(runs, key=lambda outcome: distance(outcome.shares, split))[:kept]
