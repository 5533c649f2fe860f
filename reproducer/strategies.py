"""Hypothesis strategies for writing your own property tests over the world.

    from hypothesis import given
    from reproducer import Config, run_memory
    from reproducer.strategies import schedules

    @given(schedules())
    def test_the_alias_never_goes_backwards(schedule):
        result = run_memory(Config(variant="cas-flip", invariants=(2,)), schedule)
        assert result.violation is None, schedule.replay_command(result)

A schedule is a `ChoiceSource`: every time two or more workers are ready, the runtime asks it
for an index into them, and it draws that index from Hypothesis. The ready workers come in a
fixed order whose first entry is the unsurprising move (the worker that moved last keeps going:
`reproducer.running.core`, Rule 2), so index 0 is "no context switch" and Hypothesis, which
shrinks draws towards fewer and smaller values, shrinks towards schedules with fewer context
switches. The draws are the whole of Hypothesis's choice sequence: one bounded integer per
decision, nothing else.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from hypothesis import strategies as st

from reproducer.commands import config_flags, shell_command
from reproducer.running.trace import RunResult

__all__ = ["HypothesisSchedule", "schedules"]


class HypothesisSchedule:
    """A `ChoiceSource` whose every choice is a Hypothesis draw. Use it for one run only."""

    def __init__(self, data: st.DataObject) -> None:
        self._data = data
        self.choices: list[int] = []

    def choose(self, ready: Sequence[str]) -> int:
        if len(ready) < 2:
            raise ValueError(f"choose() needs two or more ready workers, got {list(ready)}")
        choice = self._data.draw(st.integers(0, len(ready) - 1))
        self.choices.append(choice)
        return choice

    def replay_command(self, result: RunResult) -> str:
        """A line to put in an assertion message: how to replay this schedule from the shell
        (this installation's `reproducer` script, so it works without activating a venv)."""
        flags = config_flags(result.config)
        return shell_command("run", *flags, "--choices",
                             ",".join(map(str, result.choices)) or "0")

    def __repr__(self) -> str:
        return f"HypothesisSchedule(choices={self.choices})"


def schedules() -> st.SearchStrategy[HypothesisSchedule]:
    """Schedules drawn from Hypothesis, one bounded integer per scheduling decision."""
    return st.builds(HypothesisSchedule, st.data())



class SampledSchedule(HypothesisSchedule):
    """The default explorer's schedule: a uniform random walk (the best sampler measured on
    every world, `python -m reproducer.bench.measure`) whose generator Hypothesis seeds. Drawing
    each decision instead (`schedules()`) starts Hypothesis in its small-example phase, whose
    every other example is a random prefix and then no context switch at all; drawing the
    seed makes every example a fresh random walk from the first one. Hypothesis shrinks the
    seed only; the story is shrunk by `reproducer.search.minimise`, which ends with an
    exhaustive check."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.choices: list[int] = []

    def choose(self, ready: Sequence[str]) -> int:
        if len(ready) < 2:
            raise ValueError(f"choose() needs two or more ready workers, got {list(ready)}")
        choice = self._rng.randrange(len(ready))
        self.choices.append(choice)
        return choice

    def __repr__(self) -> str:
        return f"SampledSchedule(choices={self.choices})"


def explorer_schedules(salt: int = 0) -> st.SearchStrategy[HypothesisSchedule]:
    """The schedules `reproducer explore` draws by default (`SampledSchedule`). Hypothesis's
    first example is its simplest draw (seed 0); the `salt` makes that, like every other seed,
    a random walk of its own exploration, so no exploration starts with the same walk."""
    def walk(n: int) -> SampledSchedule:
        return SampledSchedule(random.Random(f"reproducer/{salt}/{n}"))

    return st.integers(min_value=0, max_value=2**64 - 1).map(walk)
