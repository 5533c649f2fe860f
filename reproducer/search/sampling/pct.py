"""PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS
2010), as Coyote and Shuttle implement it: the n workers get distinct random priorities, d-1
priority change points are drawn in [1, k], and the ready worker with the highest priority
moves. At a change point the worker that moved last is demoted below every other worker,
including the ones demoted before it (so a worker stalled earlier can overtake one stalled
later, which the paper's fixed values 1..d-1 never allow). Steps are counted in scheduling
decisions (a step with one ready worker offers no choice to change).

k is fixed for an exploration (`pct_horizon`): the most decisions among the run where every
choice is 0 and a few uniformly random runs that keep going to the end. Shuttle instead grows
k to the most decisions any run so far has made; that makes run i depend on the runs before
it, so N worker processes could not run the run i that one process runs. A fixed k keeps every
run a function of (seed, i) alone. (How the fixed k compares with Shuttle's on the measured
worlds: docs/benchmarks.md.)
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from reproducer.running.choices import ChoiceSource, RandomChoices, ReplayChoices
from reproducer.running.simulation import Simulation
from reproducer.search.outcome import Exploration, Progress
from reproducer.search.sampling.loop import TransportName, sample
from reproducer.world.config import Config

__all__ = ["PCTChoices", "PCTSources", "check_depth", "explore_pct", "pct_horizon", "sources"]

PROFILE_RUNS = 8  # uniformly random runs that measure k (as many as SURW's profile)


class PCTChoices:
    """PCT as a `ChoiceSource`; see the module docstring. `depth` is at least 1 (`sources`
    checks it, once per exploration)."""

    def __init__(self, seed: int, workers: Sequence[str], depth: int, horizon: int) -> None:
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


def pct_horizon(config: Config, runs: int = PROFILE_RUNS) -> int:
    """k of PCT for an exploration: the most scheduling decisions among the run where every
    choice is 0 and `runs` uniformly random runs, all kept going to the end (a run cut short
    at its violation would understate how long runs get)."""
    decisions = 1
    sources: list[ChoiceSource] = [ReplayChoices(())]
    sources += (RandomChoices(-1 - seed) for seed in range(runs))
    for source in sources:
        sim = Simulation(config, stop_at_violation=False)
        sim.advance(source)
        decisions = max(decisions, len(sim.choices))
    return decisions


class PCTSources:
    """Run i's `PCTChoices`: a function of (seed, i) alone, k fixed (module docstring)."""

    def __init__(self, seed: int, workers: Sequence[str], depth: int, horizon: int) -> None:
        self.seed, self.workers, self.depth, self.horizon = seed, tuple(workers), depth, horizon

    def __call__(self, n: int) -> PCTChoices:
        return PCTChoices(self.seed * 1_000_003 + n, self.workers, self.depth, self.horizon)


def check_depth(depth: int, name: str = "depth") -> None:
    """The one check of PCT's bug depth (`name`: what the caller calls it)."""
    if depth < 1:
        raise ValueError(f"{name} {depth}: PCT needs a depth of at least 1 (the empty record of "
                         "the outage needs 4)")


def sources(config: Config, seed: int, depth: int) -> PCTSources:
    """PCT with bug depth `depth` (d-1 priority change points per run); run i draws its
    priorities and change points from the generator seeded with (seed, i). The depth is
    checked before anything runs."""
    check_depth(depth)
    return PCTSources(seed, config.worker_names, depth, pct_horizon(config))


def explore_pct(config: Config, *, max_runs: int = 10_000, seed: int = 0, depth: int = 3,
                transport: TransportName = "memory", progress: Progress | None = None,
                shrink: bool = True) -> Exploration:
    """PCT (`sources`), in this process."""
    return sample("pct", config, sources(config, seed, depth), max_runs, transport, progress,
                  shrink)
