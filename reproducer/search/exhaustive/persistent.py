"""Partial-order reduction for the breadth-first search: a persistent set that defers the
Planner (Godefroid's persistent sets; the argument below replaces the usual visibility and
cycle provisos, which exist for reductions that may postpone a transition the violation
needs).

The Planner touches only the plan store (`PublishPlan`), and never reads the zone or the
clock. So its publish commutes with every zone query, UPDATE and back-off sleep, and with a
store delete (which never removes the newest plan: clean-up dooms generations below
`last_done - keep_generations`); it races only with the store reads `ReadNewestPlan` and
`ListPlans`.

Rule: when every enactor that has not finished is ready and none is parked on a store read,
expand only the enactors (T). Soundness, for a shortest violating run π from the state: a run
made of Planner steps alone commits no UPDATE and finishes nobody, so it breaks no invariant;
hence π holds an enactor step, and the first one is the current action of some enactor in T.
Every step before it is the Planner's, which commutes with it (and cannot wake anyone: every
unfinished enactor is already ready), so moving it to the front gives a run of the same
length through a successor in T, with the same answers observed in the same order and so the
same violation. By induction on π's length, the reduced search finds a violation at the same
least depth, within the same step bound: no path gets longer, and a proof stays a proof.
"""

from __future__ import annotations

from collections.abc import Sequence

from reproducer.world.values import Action, ListPlans, ReadNewestPlan

__all__ = ["persistent_movers"]

_RACES_WITH_PUBLISH = (ReadNewestPlan, ListPlans)


def persistent_movers(ready: Sequence[int], pending: Sequence[Action | None]) -> list[int]:
    """The ready workers to expand (module docstring), from the ready workers in the core's
    order and the action each worker is parked on; worker 0 is the Planner."""
    if pending[0] is None or 0 not in ready:
        return list(ready)
    unfinished = 0
    for w in range(1, len(pending)):
        action = pending[w]
        if action is None:
            continue
        unfinished += 1
        if isinstance(action, _RACES_WITH_PUBLISH):
            return list(ready)
    # every unfinished enactor is ready when all but the Planner are
    if unfinished == 0 or len(ready) != unfinished + 1:
        return list(ready)
    return [w for w in ready if w != 0]
