"""PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS
2010), as Coyote and Shuttle implement it: the n workers get distinct random priorities, d-1
priority change points are drawn in [1, k], and the ready worker with the highest priority
moves. At a change point the worker that moved last is demoted below every other worker,
including the ones demoted before it (so a worker stalled earlier can overtake one stalled
later, which the paper's fixed values 1..d-1 never allow). Steps are counted in scheduling
decisions (a step with one ready worker offers no choice to change); k starts at the decisions
of the run where every choice is 0 and grows to the most decisions any run of the exploration
has made, as Shuttle does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from reproducer.running.choices import ReplayChoices
from reproducer.running.simulation import Simulation
from reproducer.search.outcome import Exploration, Progress
from reproducer.search.sampling import TransportName, sample
from reproducer.world.config import Config

__all__ = ["PCTChoices", "explore_pct", "pct_horizon"]


class PCTChoices:
    """PCT as a `ChoiceSource`; see the module docstring."""

    def __init__(self, seed: int, workers: Sequence[str], depth: int, horizon: int) -> None:
        if depth < 1:
            raise ValueError(f"PCT depth {depth}: need at least 1 (d-1 change points)")
        rng = random.Random(seed)
        priorities = list(range(1, len(workers) + 1))
        rng.shuffle(priorities)
        self.priority = dict(zip(workers, priorities, strict=True))  # higher moves first
        points = min(depth - 1, horizon)
        self.change_points = frozenset(rng.sample(range(1, horizon + 1), points))
        self.decisions = 0
        self._lowest = 0
        self._last: str | None = None

    def choose(self, ready: Sequence[str]) -> int:
        self.decisions += 1
        if self.decisions in self.change_points:
            # Demote the worker that moved last (or, before anyone moved, the one about to).
            victim = self._last if self._last is not None else max(
                ready, key=self.priority.__getitem__)
            self.priority[victim] = self._lowest
            self._lowest -= 1
        return max(range(len(ready)), key=lambda i: self.priority[ready[i]])

    def moved(self, worker: str) -> None:
        self._last = worker


def pct_horizon(config: Config) -> int:
    """The first k of PCT: the scheduling decisions of the run where every choice is 0."""
    sim = Simulation(config, stop_at_violation=False)
    sim.advance(ReplayChoices(()))
    return max(1, len(sim.choices))


def explore_pct(config: Config, *, max_runs: int = 10_000, seed: int = 0, depth: int = 3,
                transport: TransportName = "memory", progress: Progress | None = None,
                shrink: bool = True) -> Exploration:
    """PCT with bug depth `depth` (d-1 priority change points per run)."""
    names = config.worker_names
    previous: list[PCTChoices] = []
    horizon = pct_horizon(config)

    def source(n: int) -> PCTChoices:
        nonlocal horizon
        if previous:  # k: the most decisions any run so far has made
            horizon = max(horizon, previous[-1].decisions)
        previous[:] = [PCTChoices(seed * 1_000_003 + n, names, depth, horizon)]
        return previous[0]

    return sample("pct", config, source, max_runs, transport, progress, shrink)
