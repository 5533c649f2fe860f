"""Uniformly random schedules: at each decision every ready worker is equally likely (the
baseline every other strategy is measured against)."""

from __future__ import annotations

from reproducer.running.choices import RandomChoices
from reproducer.search.outcome import Exploration, Progress
from reproducer.search.sampling.loop import TransportName, sample
from reproducer.world.config import Config

__all__ = ["explore_random"]


def explore_random(config: Config, *, max_runs: int = 10_000, seed: int = 0,
                   transport: TransportName = "memory", progress: Progress | None = None,
                   shrink: bool = True) -> Exploration:
    """Uniformly random schedules; run i uses the generator seeded with (seed, i)."""
    return sample("random", config, lambda n: RandomChoices(seed * 1_000_003 + n), max_runs,
                   transport, progress, shrink)
