"""Schedules written by hand, by worker name: "planner, enactor-1, enactor-1, ...".

A story reads better as who moves at each step than as choice indices. `script_choices` turns
such a script into the choice list every runtime and the replay file use, refusing a script that
names a worker which is not ready at that step.
"""

from __future__ import annotations

from collections.abc import Sequence

from reproducer._simulation import Simulation
from reproducer._world import Config

__all__ = ["ScriptError", "script_choices"]


class ScriptError(ValueError):
    """The script names a worker that cannot move at that step."""


def script_choices(config: Config, workers: Sequence[str]) -> tuple[int, ...]:
    """The choice indices that make `workers[i]` take step i+1, for every i."""
    sim = Simulation(config, stop_at_violation=False)
    choices: list[int] = []
    for index, name in enumerate(workers, start=1):
        ready = sim.ready()
        names = [sim.names[w] for w in ready]
        if name not in names:
            raise ScriptError(f"step {index}: {name!r} is not ready; the ready workers are "
                              f"{names or 'none (the run is over)'}")
        if len(ready) > 1:
            choices.append(names.index(name))
        sim.step(ready[names.index(name)])
    return tuple(choices)
