"""Glued steps for the breadth-first search: Lipton's reduction (Lipton, CACM 1975, "Reduction:
a method of proving properties of parallel programs"; Flanagan and Qadeer's movers) for the
steps of an enactor that are *right movers*, glued to the step that follows them.

Right movers
------------
A step R of worker q is a right mover when, for every step x of another worker taken just
after it, x could have been taken just before it with the same outcome for both (the same
state, up to the identity of `identity` with `values`), and R changes nothing an observer sees
(no UPDATE commits). Which steps of an enactor are right movers, and how each is recognised
exactly from the state right after it, is the enactor's own statement, beside its transitions
(`StateMachineEnactor.just_took_right_mover`, in `reproducer.world.enactor`: G1, a refused
UPDATE whose lock prerequisite failed; G2, reading the newest plan once the store is sealed).
It reads only what the identity keeps, so states merged by the identity are glued alike.

Rule: if an enactor is glued (it just took a right mover, as recognised above: `glued`),
expand it alone; otherwise expand what the next rule (the Planner's deferral, or every ready
worker) expands. Only from the root: a search that starts after a given schedule (`start=`) does
without it, since that schedule may have moved others after a right mover.

Soundness, for lengths too. In the reduced graph a glued state lets only its worker move, and
that step (a lock read or a zone query) is no right mover, so at most one worker is ever glued
and only right after its right mover. Take a shortest violating run π from a state the search
expands that is not glued. Every right mover R of a worker q in π can be moved later, past
other workers' steps, to just before q's next step; if q has none, R moves to the end and drops
out, leaving a shorter violating run (R is invisible and cannot end the run), which contradicts
π being shortest. So some shortest π glues every R to its worker's next step. (In the reduced
graph a glued enactor moves next, so a recognised state is one just after its right mover, as
the argument needs.) The Planner's deferral moves π's first enactor step t to the front past
Planner steps; if t is a right mover it moves together with the step glued to it (a lock read
or, when the store is sealed, with no Planner step left to pass), so the run stays glued.
Either way π begins with a step the reduced search takes, and the rest of π is a glued run of
one step fewer from that successor, which starts with the glued worker's step if the successor
is glued. By induction the reduced search finds a violation at the same least depth, within the
same bound on steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from reproducer.world.config import Worker
from reproducer.world.enactor import StateMachineEnactor
from reproducer.world.values import PlanStore

__all__ = ["glued"]


def glued(workers: Sequence[Worker], store: PlanStore) -> int | None:
    """The glued enactor (module docstring), if one is: it alone is expanded."""
    for w in range(1, len(workers)):
        e = workers[w]
        if isinstance(e, StateMachineEnactor) and e.just_took_right_mover(store):
            return w
    return None
