"""Where scheduling decisions come from: the one source of choices every runner draws from.

A choice is an index into the ready workers, offered in the core's fixed order (the worker that
moved last first, then the longest-parked: see `reproducer.running.core`), so index 0 is always
the unsurprising move. Same choices, same trace. A new way of picking schedules that needs
nothing but the ready list is a `ChoiceSource` here or in `reproducer.search`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

__all__ = ["ChoiceSource", "FollowWorkers", "RandomChoices", "ReplayChoices", "ReplayDiverged"]


class ChoiceSource(Protocol):
    """Where scheduling decisions come from. A source may also define `moved(worker: str)`,
    which the runtimes call after every step, with or without a choice."""

    def choose(self, ready: Sequence[str]) -> int:
        """Index into `ready` (two or more worker names; index 0 is the unsurprising move)."""
        ...


class ReplayDiverged(ValueError):
    """A replayed choice does not fit the run (the file belongs to another configuration)."""


class ReplayChoices:
    """Choices from a list; once it is used up, every further choice is 0."""

    def __init__(self, choices: Sequence[int]) -> None:
        self.choices = tuple(choices)
        self.position = 0

    def choose(self, ready: Sequence[str]) -> int:
        if self.position >= len(self.choices):
            return 0
        choice = self.choices[self.position]
        self.position += 1
        if not 0 <= choice < len(ready):
            raise ReplayDiverged(
                f"replay choice #{self.position} is {choice}, but only {len(ready)} workers "
                f"are ready ({', '.join(ready)}): the schedule does not belong to this "
                "configuration")
        return choice


class FollowWorkers:
    """The same interleaving, by worker name: at step i, the worker that moved at step i of
    another run if it is ready now, otherwise the unsurprising move (choice 0); after the list,
    always 0. This is how a schedule found under one variant is replayed under another, whose
    workers take different steps (a choice index would not fit)."""

    def __init__(self, workers: Sequence[str]) -> None:
        self.workers = tuple(workers)
        self.step = 0

    def choose(self, ready: Sequence[str]) -> int:
        want = self.workers[self.step] if self.step < len(self.workers) else None
        if want is not None and want in ready:
            return list(ready).index(want)
        return 0

    def moved(self, worker: str) -> None:
        """Called by the runtimes after every step (also the steps that needed no choice)."""
        self.step += 1


class RandomChoices:
    """Uniformly random choices from a seeded generator."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def choose(self, ready: Sequence[str]) -> int:
        return self._rng.randrange(len(ready))
