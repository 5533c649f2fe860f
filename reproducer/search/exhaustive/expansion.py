"""The successor rule of a breadth-first search: one definition for the search in one process
(`bfs`) and for every share of a split one (`reproducer.search.distributed.partition`).

A state is a tuple of integers of the integer engine (`reproducer.running.engine`), and its
identity a sum of its parts' numbers (`identity`). A state is expanded by stepping each worker
the rule names (`movers`), in the order of its ready workers (the core's order; fewer under
the partial-order reduction, `persistent`, and the glued steps, `glue`); a finished state has
no children. A child's identity is its parent's with the numbers of the parts the step
changed swapped, so a child already known is dropped before it is built (`expand`); only a
step that rewrites every part (a committed UPDATE under `values`, which makes beliefs stale,
or a move of the clock, which moves every time) builds the child to sum it afresh.

Both searches call `expand` and stop at the first child whose step broke an invariant, so they
take the same steps in the same order, and their counts of states and steps agree. The step
memo's key is the engine's `step_key`, computed inline.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

from reproducer.running.engine import (
    CLOCK,
    CLOCK_SET,
    FINISHED,
    FIRST,
    MARKS,
    ORDER,
    OWN,
    READS_STORE,
    READS_ZONE,
    STORE,
    STORE_CHANGED,
    ZONE,
    ZONE_CHANGED,
    Engine,
    State,
)
from reproducer.search.exhaustive.glue import glued
from reproducer.search.exhaustive.identity import MASK, REDUCTIONS, Identity, check_reductions
from reproducer.search.exhaustive.persistent import persistent_movers
from reproducer.world.config import Config

__all__ = ["Child", "Expansion", "Paths", "stable_identity"]

Child = tuple[int, int, int, State]  # (rank in the rule's order, worker, identity, state)


class Expansion:
    """The engine a search steps in, the identity of its states under the reductions asked
    for (`used`: those that apply), and which workers to step from a state (`movers`).
    `movers` (worker indices) narrows the rule to those workers (`minimise`'s last check);
    `stable` asks for identities that are the same in every process (a split search);
    `current` adds who moved last to the identity (a bounded search); `states` tells async
    enactors by their state (False: by their history, as the differential test does)."""

    def __init__(self, config: Config, reductions: Iterable[str],
                 movers: frozenset[int] | None = None, *, stable: bool = False,
                 current: bool = False, states: bool = True) -> None:
        asked = check_reductions(reductions)
        self.engine = engine = Engine(config, values="values" in asked,
                                      unread="unread" in asked, dead="dead" in asked,
                                      states=states)
        self.identity = Identity(engine, asked, stable=stable, current=current)
        self.used = tuple(r for r in REDUCTIONS if r in self.identity.used)
        self._por = "por" in self.used
        self._glue = "glue" in self.used
        self._only = movers
        self._rule: dict[tuple[int, int, Any], tuple[int, ...]] = {}
        self._glued: dict[tuple[int, int], bool] = {}

    def movers(self, state: State) -> tuple[int, ...]:
        """The workers to step from `state`, in order (module docstring)."""
        engine = self.engine
        if self._glue:
            store = state[STORE]
            for w in range(1, engine.count):
                c = state[FIRST + w]
                known = self._glued.get((c, store))
                if known is None:
                    known = self._glued[c, store] = glued(
                        [engine.comps[0][0], engine.comps[c][0]], engine.stores[store]) == 1
                if known:
                    return (w,) if self._only is None or w in self._only else ()
        key: tuple[int, int, Any] = (state[ORDER], state[STORE],
                                     itemgetter(*state[FIRST:])(engine.pclass))
        rule = self._rule.get(key)
        if rule is None:
            rule = self._rule[key] = self._movers(state)
        return rule

    def _movers(self, state: State) -> tuple[int, ...]:
        engine = self.engine
        ready = engine.ready_from(state)
        if self._por:
            ready = persistent_movers(ready, engine.pending(state))
        if self._only is not None:
            ready = [w for w in ready if w in self._only]
        return tuple(ready)

    def expand(self, state: State, fp: int, known: set[int], room: int | None = None
               ) -> tuple[int, list[Child], tuple[int, int] | None, bool]:
        """Step every worker the rule names from `state` (whose identity is `fp`): (steps
        taken, the children whose identity was not in `known`, in order, the (rank, worker)
        of the step that broke an invariant, where expansion stopped, if one did, and whether
        a new child was cut by `room`). A new child's identity is added to `known`, while
        `known` holds fewer than `room`; beyond, the child is cut."""
        engine = self.engine
        ident = self.identity
        steps = engine.steps
        reads = engine.reads
        next_order = engine.next_order
        comp = ident.comp
        order_z = ident.order
        cur_z = ident.current
        moved_last = engine.orders[state[ORDER]][1] if cur_z is not None else None
        zone, store, clock, marks, o = state[ZONE], state[STORE], state[CLOCK], state[MARKS], \
            state[ORDER]
        holder = engine.holder[zone]
        whole = ident.renamings is not None  # (a least sum over renamings is not swapped)
        new: list[Child] = []
        add = known.add
        cut = False
        if room is None:
            room = 1 << 62
        made = 0
        for rank, w in enumerate(self.movers(state)):
            made += 1
            c = state[FIRST + w]
            r = reads[c]
            read = zone if r == READS_ZONE else store if r == READS_STORE else 0
            key = (c << 32 | read) if clock == 0 else (c, read, clock)
            effect = steps.get(key)
            if effect is None:
                effect = engine.effect_missed(key, c, zone, store, clock)
            kind, c2, arg = effect
            if reads[c2] == FINISHED or kind == CLOCK_SET or whole:
                # the rare steps (a worker finishes, the clock moves without `values`), and
                # every step under a symmetry by renaming: the child whole
                child, broke = engine.apply(state, w, effect)
                if broke:
                    return made, new, (rank, w), cut
                h = ident.fingerprint(child)
            elif kind in (OWN, STORE_CHANGED):
                # the step changed its worker's part (and the store): swap their numbers
                o2 = next_order[o][w]
                if o2 < 0:
                    o2 = engine.order_after(o, w)
                bit = holder == w
                h = fp - comp[c][bit] + comp[c2][bit]
                if order_z is not None:
                    h += order_z[o2] - order_z[o]
                if kind == STORE_CHANGED:
                    h += ident.store[arg] - ident.store[store]
                if cur_z is not None:  # `w` is the one that moved last now
                    h += cur_z[c2] - (0 if moved_last is None else cur_z[state[FIRST + moved_last]])
                h &= MASK
                if h in known:
                    continue
                parts = list(state)
                parts[ORDER] = o2
                parts[FIRST + w] = c2
                if kind == STORE_CHANGED:
                    parts[STORE] = arg
                child = tuple(parts)
            else:
                # a committed UPDATE, or the clock moved: every part may change, sum them again
                o2 = next_order[o][w]
                if o2 < 0:
                    o2 = engine.order_after(o, w)
                parts = list(state)
                parts[ORDER] = o2
                parts[FIRST + w] = c2
                if kind == ZONE_CHANGED:
                    zone2 = arg
                    judged = engine.judged.get((marks, zone2))
                    if judged is None:
                        judged = engine.judge(marks, zone2)
                    marks2, broke = judged
                    if broke:
                        return made, new, (rank, w), cut
                    parts[ZONE] = zone2
                    parts[MARKS] = marks2
                    if engine.values:
                        stale = engine.stale
                        for v in range(FIRST + 1, len(parts)):
                            if v != FIRST + w:
                                s = stale[parts[v]]
                                parts[v] = s if s >= 0 else engine.made_stale(parts[v])
                else:  # SHIFTED
                    marks2 = marks
                    zone2 = engine.zone_shifted.get((zone, arg), -1)
                    if zone2 < 0:
                        zone2 = engine.shift_zone(zone, arg)
                    parts[ZONE] = zone2
                    shifted = engine.shifted
                    for v in range(FIRST, len(parts)):
                        if v != FIRST + w:
                            s = shifted.get((parts[v], arg), -1)
                            parts[v] = s if s >= 0 else engine.shift(parts[v], arg)
                holder2 = engine.holder[zone2] + FIRST
                h = (ident.zone[zone2] + ident.store[store] + ident.clock[clock]
                     + ident.marks[marks2])
                if order_z is not None:
                    h += order_z[o2]
                for v in range(FIRST, len(parts)):
                    h += comp[parts[v]][holder2 == v]
                if cur_z is not None:
                    h += cur_z[c2]
                h &= MASK
                child = tuple(parts)
            if h in known:
                continue
            if len(known) >= room:
                cut = True
                continue
            add(h)
            new.append((rank, w, h, child))
        return made, new, None, cut

    def children(self, state: State) -> list[tuple[int, State]]:
        """(worker, child) for every worker the rule steps from `state`, in its order (every
        child, known or not; for tests and tools, not the searches)."""
        if self.engine.finished(state):
            return []
        return [(w, self.engine.step(state, w)[0]) for w in self.movers(state)]


def stable_identity(config: Config, reductions: Iterable[str]) -> bool:
    """Whether every process gives this configuration's states the same identity (a split
    search needs it; async enactors hold live coroutines, whose identities are one process's)."""
    return Expansion(config, reductions, stable=True).identity.stable


class Paths:
    """A search's path table: entry i was reached from entry `parent[i]` by worker
    `mover[i]`; entry 0 is the root. Two flat arrays: a state's path is kept by the number of
    its entry, and who moved is all a story needs (the `Simulation` replays it)."""

    def __init__(self) -> None:
        self.parent = array("q", [-1])
        self.mover = array("b", [-1])

    def __len__(self) -> int:
        return len(self.parent)

    def add(self, parent: int, worker: int) -> int:
        """A new entry, reached from `parent` by `worker`; its number."""
        self.parent.append(parent)
        self.mover.append(worker)
        return len(self.parent) - 1

    def of(self, entry: int) -> list[int]:
        """Who moved, from the root to `entry`."""
        who: list[int] = []
        parent, mover = self.parent, self.mover
        while entry > 0:
            who.append(mover[entry])
            entry = parent[entry]
        return who[::-1]
