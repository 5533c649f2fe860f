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
decision, nothing else. (`reproducer explore` draws seeds of random walks instead, and keeps
its own minimised stories in the example database: `reproducer.search`.)
"""

from __future__ import annotations

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


