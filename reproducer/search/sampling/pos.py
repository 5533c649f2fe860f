"""POS, partial order sampling (Yuan, Yang, Gu, CAV 2018; Fray's POSScheduler, Shuttle's
pos.rs). Every worker's pending action has a random priority and the ready worker with the
highest moves. After a step, only the mover's next action and the pending actions that *race*
with the step just taken (`footprint.races`: a common object, one of them writing) draw new
priorities; everyone else keeps theirs. So a worker with a low priority stays delayed across
many steps until a conflict reshuffles it: the "slow enactor" of the outage.

Where the randomness comes from is injected (`draw`): run i of `--strategy pos` draws from a
generator seeded with (seed, i) (`sources`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from reproducer.search.outcome import Exploration, Progress
from reproducer.search.sampling.footprint import Shadow, races
from reproducer.search.sampling.loop import Sources, TransportName, sample
from reproducer.world.config import Config

__all__ = ["PRIORITY_LEVELS", "POSChoices", "explore_pos", "sources"]

PRIORITY_LEVELS = 1 << 16  # priorities are integers in [0, PRIORITY_LEVELS)


class POSChoices:
    """POS as a `ChoiceSource` (module docstring). Ties go to the earlier ready worker (index 0
    is the unsurprising move)."""

    def __init__(self, config: Config, draw: Callable[[], int]) -> None:
        self._shadow = Shadow(config)
        self._draw = draw
        self.priority: dict[str, int] = {}
        self.choices: list[int] = []

    def _of(self, worker: str) -> int:
        p = self.priority.get(worker)
        if p is None:
            p = self.priority[worker] = self._draw()
        return p

    def choose(self, ready: Sequence[str]) -> int:
        best = 0
        top = self._of(ready[0])
        for i in range(1, len(ready)):
            p = self._of(ready[i])
            if p > top:
                best, top = i, p
        self.choices.append(best)
        return best

    def moved(self, worker: str) -> None:
        shadow = self._shadow
        step = shadow.pending(worker)
        shadow.moved(worker)
        self.priority.pop(worker, None)  # its next action draws anew
        for other in list(self.priority):
            if races(step, shadow.pending(other)):
                del self.priority[other]  # drawn again when it is next offered


def seeded_draw(seed: int) -> Callable[[], int]:
    rng = random.Random(seed)
    return lambda: rng.randrange(PRIORITY_LEVELS)


def sources(config: Config, seed: int, depth: int) -> Sources:
    """Run i draws its priorities from the generator seeded with (seed, i)."""
    return lambda n: POSChoices(config, seeded_draw(seed * 1_000_003 + n))


def explore_pos(config: Config, *, max_runs: int = 10_000, seed: int = 0,
                transport: TransportName = "memory", progress: Progress | None = None,
                shrink: bool = True) -> Exploration:
    """POS (`sources`), in this process."""
    return sample("pos", config, sources(config, seed, 0), max_runs, transport, progress, shrink)
