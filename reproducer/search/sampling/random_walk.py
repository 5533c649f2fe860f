"""Uniformly random schedules: at each decision every ready worker is equally likely (the
baseline every other strategy is measured against)."""

from __future__ import annotations

from reproducer.running.choices import RandomChoices
from reproducer.search.outcome import Exploration, Progress
from reproducer.search.sampling.loop import Sources, TransportName, sample
from reproducer.world.config import Config

__all__ = ["explore_random", "sources"]


def sources(config: Config, seed: int, depth: int) -> Sources:
    """Run i uses the generator seeded with (seed, i)."""
    return lambda n: RandomChoices(seed * 1_000_003 + n)


def explore_random(config: Config, *, max_runs: int = 10_000, seed: int = 0,
                   transport: TransportName = "memory", progress: Progress | None = None,
                   shrink: bool = True) -> Exploration:
    """Uniformly random schedules (`sources`), in this process."""
    return sample("random", config, sources(config, seed, 0), max_runs, transport, progress,
                  shrink)
