"""Hypothesis strategies for writing your own property tests over the world.

    from hypothesis import given
    from reproducer import Config, run_memory
    from reproducer.strategies import schedules

    @given(schedules())
    def test_the_alias_never_goes_backwards(schedule):
        result = run_memory(Config(variant="cas-flip", invariants=(2,)), schedule)
        assert result.violation is None, schedule.replay_command(result)

A schedule is a `ChoiceSource`: every time two or more workers are ready, the runtime asks it
for an index into them. Each schedule is a uniform random walk whose seed Hypothesis draws: one
draw per example, so every example is a fresh interleaving from the first one, and a failing
one is found and reported in seconds (drawing each decision instead made Hypothesis's
shrinking and its explain phase replay the run under a tracer thousands of times: minutes on a
failing test). Hypothesis shrinks only the seed; the story is shrunk by the project's own
minimiser, which knows the shortest violating schedule: `replay_command` prints the command
that replays the *shortest* story of the failure, not the random walk that found it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache

from hypothesis import strategies as st
from hypothesis.control import current_build_context, currently_in_test_context

from reproducer.commands import config_flags, shell_command
from reproducer.running.trace import RunResult
from reproducer.search import minimise

__all__ = ["HypothesisSchedule", "schedules"]

SEEDS = 2**64  # the seeds Hypothesis draws from


class HypothesisSchedule:
    """A `ChoiceSource`: a uniform random walk from a seed Hypothesis drew. One run only."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(f"reproducer/schedule/{seed}")
        self.choices: list[int] = []

    def choose(self, ready: Sequence[str]) -> int:
        if len(ready) < 2:
            raise ValueError(f"choose() needs two or more ready workers, got {list(ready)}")
        choice = self._rng.randrange(len(ready))
        self.choices.append(choice)
        return choice

    def replay_command(self, result: RunResult) -> str:
        """A line to put in an assertion message: how to replay this failure from the shell
        (this installation's `reproducer` script, so it works without activating a venv).
        When `result` broke an invariant, the command replays its shortest story (the project's
        minimiser, in process: a fraction of a second), and says how long the run was — in the
        example Hypothesis reports, not in every failing example it tries while it shrinks."""
        if result.violation is None or not _reported():
            return _command(result)
        story = _shortest(result)
        if story.length == result.length:
            return _command(story)
        return (f"{_command(story)}  (the shortest story of this failure: {story.length} steps; "
                f"the run that found it had {result.length})")

    def __repr__(self) -> str:
        return f"HypothesisSchedule(seed={self.seed})"


def schedules() -> st.SearchStrategy[HypothesisSchedule]:
    """Schedules whose seeds Hypothesis draws (module docstring)."""
    return st.integers(min_value=0, max_value=SEEDS - 1).map(HypothesisSchedule)


def _reported() -> bool:
    """Whether this is the example Hypothesis reports (its last run of the failure), or no
    Hypothesis test at all: only then is the shortest story worth its replays."""
    if not currently_in_test_context():
        return True
    try:
        return bool(getattr(current_build_context(), "is_final", True))
    except Exception:  # Hypothesis's internals moved: compute it every time, still correct
        return True


def _command(result: RunResult) -> str:
    return shell_command("run", *config_flags(result.config), "--choices",
                         ",".join(map(str, result.choices)) or "0")


@lru_cache(maxsize=64)
def _shortest(result: RunResult) -> RunResult:
    """The failure's shortest story; remembered, since Hypothesis evaluates an assertion's
    message at every failing example while it shrinks, and again to report."""
    return minimise(result).result
