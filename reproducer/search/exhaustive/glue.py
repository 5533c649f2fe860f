"""Glued steps for the breadth-first search: Lipton's reduction (Lipton, CACM 1975, "Reduction:
a method of proving properties of parallel programs"; Flanagan and Qadeer's movers) for the
steps of an enactor that are *right movers*, glued to the step that follows them.

Right movers
------------
A step R of worker q is a right mover when, for every step x of another worker taken just
after it, x could have been taken just before it with the same outcome for both (the same
state, up to the identity of `reproducer.search.exhaustive.identity` with `values`), and R changes
nothing an observer sees (no UPDATE commits). Two kinds, each recognised exactly from the
state right after it:

- G1, a refused UPDATE whose lock prerequisite failed ("doomed"). Lock values carry a stamp
  unique to each write (`LockValue`) and every committed UPDATE writes a fresh one, so the
  lock record never again holds the value q believed: sent later, the UPDATE is refused
  again. It commits nothing, and what it leaves in q differs only in the clock reading
  (`moved_ms`, which the lock read that follows replaces before anything uses it) and the
  rcode in q's note (which the `values` identity leaves out). Recognised as q in LOCK_READ,
  retrying, resuming CREATE_TREES, or CLEANUP_DNS under the age clean-up: those UPDATEs
  carry no prerequisite but the lock's, so a refusal of one was doomed. (A refused flip or
  cas clean-up may have failed on another prerequisite, and is not recognised.)
- G2, reading the newest plan once the store is sealed: the Planner has stopped and a clean-up
  never deletes the newest plan (`por`), so the answer is fixed. Recognised
  as q in CHECK (entered only by a plan read) on the newest plan of a sealed store: the
  newest plan is published in the step that seals, so q read it after the seal.

Both recognitions read only what the identity keeps (the phase, `retrying`, `resume`, the
plan in CHECK, the store), so states merged by the identity are glued alike.

Rule: if an enactor is glued (it just took a right mover, as recognised above), expand it
alone; otherwise expand what the next rule (the Planner's deferral, or every ready worker)
expands. Only from the root: a search that starts after a given schedule (`start=`) does
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

from collections.abc import Callable

from reproducer.running.core import State
from reproducer.world.enactor import Phase, StateMachineEnactor

__all__ = ["glue_rule"]


def glue_rule(fallback: Callable[[State], list[int]]) -> Callable[[State], list[int]]:
    """The successor rule (module docstring): the glued enactor alone, else `fallback`."""

    def movers(state: State) -> list[int]:
        workers = state.workers
        store = state.store
        newest = store.newest.generation if store.sealed and store.newest is not None else None
        for w in range(1, len(workers)):
            e = workers[w]
            if not isinstance(e, StateMachineEnactor):
                continue
            ph = e.phase
            if ph is Phase.LOCK_READ:
                if e.retrying and (e.resume is Phase.CREATE_TREES or (
                        e.resume is Phase.CLEANUP_DNS and e.policy.cleanup == "age")):
                    return [w]
            elif (ph is Phase.CHECK and newest is not None and e.plan is not None
                  and e.plan.generation == newest):
                return [w]
        return fallback(state)

    return movers
