"""SURW, selectively uniform random walk (Zhao, Wolff, Mathur, Roychoudhury, ASPLOS 2025;
Shuttle's urw.rs, Fray's SURWScheduler). A uniform random walk over *interleavings*, not over
choices: the next mover is drawn with probability proportional to the number of interesting
events it has left, which makes every interleaving of those events equally likely (a uniform
choice at each step favours the interleavings where a worker runs early). "Selective": only
the events that touch an object another worker also touches count (`footprint`). Each worker's
count is estimated once, from profiling runs (uniformly random schedules), as the paper does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from reproducer.running.choices import RandomChoices
from reproducer.running.simulation import Simulation
from reproducer.search.outcome import Exploration, Progress
from reproducer.search.sampling.footprint import Footprint, Shadow, footprint
from reproducer.search.sampling.loop import Sources, TransportName, sample
from reproducer.world.config import Config

__all__ = ["SURWChoices", "explore_surw", "profile_events", "sources"]

PROFILE_RUNS = 8


def profile_events(config: Config, runs: int = PROFILE_RUNS
                   ) -> tuple[dict[str, float], frozenset[str]]:
    """Each worker's interesting events per run, averaged over `runs` uniformly random runs
    that keep going to the end, and the shared objects. An event is interesting if it touches
    a shared object: one that more than one worker touches in a run."""
    totals: dict[str, float] = {name: 0.0 for name in config.worker_names}
    lock = config.layout.lock_name
    shared: set[str] = set()
    for seed in range(runs):
        sim = Simulation(config, stop_at_violation=False)
        sim.advance(RandomChoices(-1 - seed))
        steps = sim.result().steps
        prints: list[tuple[str, Footprint]] = [
            (s.worker, footprint(s.taken, lock)) for s in steps if s.taken is not None]
        touched: dict[str, set[str]] = {}
        for worker, (reads, writes) in prints:
            for obj in reads | writes:
                touched.setdefault(obj, set()).add(worker)
        shared.update(obj for obj, who in touched.items() if len(who) > 1)
        for worker, (reads, writes) in prints:
            if any(len(touched[obj]) > 1 for obj in reads | writes):
                totals[worker] += 1 / runs
    return totals, frozenset(shared)


class SURWChoices:
    """SURW as a `ChoiceSource` (module docstring)."""

    def __init__(self, config: Config, seed: int,
                 profile: tuple[dict[str, float], frozenset[str]]) -> None:
        self._rng = random.Random(seed)
        self._left = dict(profile[0])
        self._shared = profile[1]
        self._shadow = Shadow(config)

    def choose(self, ready: Sequence[str]) -> int:
        # A worker past its estimate keeps a small weight, so that it is never starved.
        weights = [max(self._left.get(w, 0.0), 0.5) for w in ready]
        return self._rng.choices(range(len(ready)), weights)[0]

    def moved(self, worker: str) -> None:
        reads, writes = self._shadow.pending(worker)
        self._shadow.moved(worker)
        if (reads | writes) & self._shared:
            self._left[worker] = self._left.get(worker, 0.0) - 1


def sources(config: Config, seed: int, depth: int) -> Sources:
    """The profile, measured once (`profile_events`); run i uses the generator seeded with
    (seed, i)."""
    profile = profile_events(config)
    return lambda n: SURWChoices(config, seed * 1_000_003 + n, profile)


def explore_surw(config: Config, *, max_runs: int = 10_000, seed: int = 0,
                 transport: TransportName = "memory", progress: Progress | None = None,
                 shrink: bool = True) -> Exploration:
    """SURW (`sources`), in this process."""
    return sample("surw", config, sources(config, seed, 0), max_runs, transport, progress,
                  shrink)
