"""The successor rule of a breadth-first search: one definition for the search in one process
(`bfs`) and for every share of a split one (`reproducer.search.distributed.partition`).

A state is expanded by stepping each worker the rule names, in the order of its ready workers
(`State.ready`; fewer under the partial-order reduction, `persistent`, and the glued steps,
`glue`); a finished state has no children. Both searches walk `Expansion.children` and stop at
the first child whose step broke an invariant (`State.found`), so they take the same steps in
the same order, and their counts of states and steps agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from reproducer.running.core import State
from reproducer.running.simulation import Universe
from reproducer.search.exhaustive.glue import glue_rule
from reproducer.search.exhaustive.identity import REDUCTIONS, Identity
from reproducer.search.exhaustive.persistent import persistent_movers
from reproducer.world.config import Config

__all__ = ["Expansion", "stable_identity"]


class Expansion:
    """The universe a search steps in, the identity of its states under the reductions asked
    for (`used`: those that apply), and which workers to step from a state (`ready_of`).
    `movers` (worker indices) narrows the rule to those workers (`minimise`'s last check)."""

    def __init__(self, config: Config, reductions: Iterable[str],
                 movers: frozenset[int] | None = None) -> None:
        self.universe = Universe(config, "moves")
        self.universe.bounded = False  # state identities must stay valid for the whole search
        self.identity = Identity(self.universe, reductions)
        self.used = tuple(r for r in REDUCTIONS if r in self.identity.used)
        ready_of: Callable[[State], list[int]] = (persistent_movers if "por" in self.used
                                                  else State.ready)
        if "glue" in self.used:
            ready_of = glue_rule(ready_of)
        if movers is not None:
            rule = ready_of
            ready_of = lambda state: [w for w in rule(state) if w in movers]  # noqa: E731
        self.ready_of = ready_of

    def children(self, state: State) -> Iterator[tuple[int, State]]:
        """(worker, child) for every worker the rule steps from `state`, in its order."""
        if state.finished:
            return
        step = self.universe.step
        for w in self.ready_of(state):
            yield w, step(state, w).child


def stable_identity(config: Config, reductions: Iterable[str]) -> bool:
    """Whether every process gives this configuration's states the same identity (a split
    search needs it; async enactors hold live coroutines, whose identities are one process's)."""
    return Expansion(config, reductions).identity.stable
