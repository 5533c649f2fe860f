"""A state's identity for the exhaustive search: what decides the future, and nothing else.

Breadth-first search keeps one state per identity (its 64-bit hash, Spin's hash compaction).
Two states may share an identity only if every future of one is a future of the other, up to
names that no invariant reads; then the violations reachable from them, and the least number
of steps to reach one, are the same. Each reduction below merges more states and says why
that is sound. They are switched on by name (`REDUCTIONS`), so a differential test and the
benchmark can measure each against the search without it.

- bookkeeping: the parking order and who moved last only number the choices (the core's Rule
  2). Breadth-first search expands every ready worker whatever their order, and its path is a
  list of who moved (replayed with `Simulation.follow`), so they decide nothing it reports.
- values (built-in workers only): values that matter only by equality or by order are
  canonicalised, in the states themselves (`reproducer.running.canonical`).
  * Lock stamps ("enactor-2.3") are compared only for equality, and a stamp names exactly one
    lock value (its writer's n-th write, with one expiry). An enactor compares the lock it
    believes only with the zone's lock (a lock read, an UPDATE's prerequisite), and every
    write puts a fresh stamp in the zone, so a belief that is not the zone's lock now never
    will be again: what decides its future is only whether it is the zone's lock, and whether
    it names the enactor itself as holder. So the zone's stamp is "current", a belief is the
    zone's lock or "stale", and each enactor's write counter, which only makes the next stamp
    fresh, is dropped (so are a stale belief's expiry and other holder).
  * Virtual time matters only relative to now and only until it has passed: every rule adds
    constants to it and compares (`takeable_by`, a sleep's `max`), so the clock is dropped and
    the times that can still matter are kept relative to it, clamped at 0 once in the past:
    the zone lock's expiry, and each enactor's `deadline_ms()` (its wake-up time, or the
    expiry it will write); a back-off count, as `backoff_that_matters`.
  * The action a built-in worker is parked on is a function of its state (`next_action`
    reads no clock: its times come from `moved_ms`), and its trace note is prose: dropped.
- unread (with values): records that no worker and no observer ever reads are left out: the
  rollback alias (written by every flip, read by nobody: workers query the endpoint aliases
  and the lock, observers follow an endpoint alias to its tree's addresses, and the UPDATE
  prerequisites name only the lock, the aliases and the trees' addresses), from the states
  themselves, and the trees' TXT descriptions, from the identity only (a tree's name exists
  once it was created, and an alias points only at trees that were).
- dead (with values): an enactor's fields that it will overwrite before it reads them again
  are left out (Spin's dead variable reduction). Which fields are live in which phase is the
  enactor's own statement, beside its transitions (`StateMachineEnactor.live_fields`, in
  `reproducer.world.enactor`): a field it leaves out decides nothing the enactor will do, so
  two states that differ only there have the same futures.
- symmetry (with values): the enactors are identical but for their names, which appear only
  in their own state and the zone lock's holder (stamps are canonical already). An enactor's
  part of the identity is what it holds told without names (a belief's holder as "itself" or
  not) and whether the zone's lock is its own; the zone's part names no holder. The identity
  adds the enactors' parts (a sum: the same in any order), so states that differ by a
  renaming of enactors are one by construction (TLC's SYMMETRY; invariants never name an
  enactor), with no order tried.

The identity is Zobrist's: each part of a state has a 64-bit number, and a state's identity is
their sum (modulo 2**64), so a step that changes one part changes the identity by two numbers,
known before the child is built (`expansion`). In one process the numbers are drawn at random
per distinct part; a search split over processes needs them the same everywhere (`stable`):
then they are digests of the parts' values (`digest`).
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import re
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from reproducer.running.canonical import OTHER
from reproducer.running.engine import FIRST, MARKS, ORDER, STORE, ZONE, Engine, State
from reproducer.search.exhaustive.digest import Undigestible, digest
from reproducer.world.async_enactor import Uncanonical
from reproducer.world.enactor import Phase, StateMachineEnactor
from reproducer.world.planner import Planner
from reproducer.world.values import LockValue

__all__ = ["DEFAULT_REDUCTIONS", "MASK", "REDUCTIONS", "Identity", "check_reductions"]

REDUCTIONS = ("bookkeeping", "values", "unread", "dead", "symmetry", "por", "glue")
# The reductions used unless asked otherwise: those that pay. `glue` is sound and tested, but
# costs more time than it saves (docs/benchmarks.md), so it is there to be asked
# for by name.
DEFAULT_REDUCTIONS = tuple(r for r in REDUCTIONS if r != "glue")
_NEEDS = {"values": "bookkeeping", "unread": "values", "dead": "values", "symmetry": "values",
          "por": "bookkeeping", "glue": "values"}
MASK = (1 << 64) - 1
_COMPARED = tuple(f.name for f in dataclasses.fields(StateMachineEnactor)
                  if f.compare and f.name not in ("name", "lock"))


def check_reductions(names: Iterable[str]) -> frozenset[str]:
    """The reductions asked for, each with the ones it builds on."""
    wanted = set(names)
    unknown = wanted - set(REDUCTIONS)
    if unknown:
        raise ValueError(f"unknown reductions {sorted(unknown)}: choose among "
                         f"{', '.join(REDUCTIONS)}")
    for name in list(wanted):
        while name in _NEEDS:
            name = _NEEDS[name]
            wanted.add(name)
    return frozenset(wanted)


class _Numbers(dict[Any, Any]):
    """A table filled on first look-up (`number[key]`)."""

    def __init__(self, fill: Callable[[Any], Any]) -> None:
        super().__init__()
        self.fill = fill

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self.fill(key)
        return value


class Identity:
    """A state's 64-bit identity under the reductions in `used` (which may be fewer than
    asked: `values` and `symmetry` need the built-in workers): `fingerprint(state)`, or, for a
    step, the parts' numbers (`comp`: a worker part's pair, for "the zone's lock is not / is
    this worker's"; `zone`, `store`, `marks`, `order` and `clock`), which sum to it. `stable`
    asks for numbers that are the same in every process (digests); they are, unless a part has
    no canonical text (an async enactor's live coroutine), and `stable` says so after."""

    def __init__(self, engine: Engine, reductions: Iterable[str], *, stable: bool = False,
                 current: bool = False) -> None:
        asked = check_reductions(reductions)
        self.engine = engine
        # one program for every enactor: interchangeable up to their names (`renamings`)
        programs = {getattr(w, "program", None) for w, _ in
                    (engine.comps[c] for c in engine.root[FIRST + 1:])}
        same_program = (isinstance(engine.comps[engine.root[FIRST]][0], Planner)
                        and len(programs) == 1 and None not in programs)
        self.used = (asked if engine.builtin else
                     asked & {"bookkeeping", "symmetry"} if same_program and engine.states else
                     asked & {"bookkeeping"})
        layout = engine.config.layout
        self._aliases = frozenset(layout.endpoint_name(ep) for ep in layout.endpoints)
        self._lock_name = layout.lock_name
        self._enactors = frozenset(engine.names[1:])
        self._symmetric = "symmetry" in self.used and engine.builtin
        # symmetry among async enactors: every renaming of the enactors (n! of them), the
        # least sum is the identity (names hide in strings: stamps, holders, a lock's text)
        self.renamings: list[tuple[dict[str, str], tuple[int, ...]]] | None = None
        if "symmetry" in self.used and not engine.builtin:
            names = engine.names[1:]
            self.renamings = [
                (dict(zip(names, (engine.names[p] for p in perm), strict=True)), (0, *perm))
                for perm in itertools.permutations(range(1, engine.count))]
            self._renamed: dict[tuple[str, int, Hashable], int] = {}
        self._unread = "unread" in self.used
        self.stable = stable
        self._rng = random.Random(0)
        self._keys: dict[Hashable, int] = {}
        self.comp: dict[int, tuple[int, int]] = _Numbers(self._comp)
        self.zone: dict[int, int] = _Numbers(
            lambda z: self._number(("zone", *self._zone_key(z))))
        self.store: dict[int, int] = _Numbers(
            lambda s: self._number(("store", engine.stores[s])))
        self.marks: dict[int, int] = _Numbers(lambda m: self._number(("marks", engine.marks[m])))
        self.order: dict[int, int] | None = None if "bookkeeping" in self.used else _Numbers(
            lambda o: self._number(("order", engine.orders[o])))
        self.clock: dict[int, int] = _Numbers(lambda k: self._number(("clock", k)))
        # `current`: who moved last is part of the identity, as the part that moved last (a
        # bounded search counts a preemption by it); symmetric under `symmetry` like the part
        self.current: dict[int, int] | None = _Numbers(
            lambda c: self._number(("current", self._comp_key(c)))) if current else None
        self._place_zone: dict[int, int] = _Numbers(self._zone_but_lock)
        self._done: dict[int, int] = _Numbers(self._done_of)
        if stable:
            try:
                self.fingerprint(engine.root)
            except Undigestible:
                self.stable = False
                self._keys.clear()
                for table in (self.comp, self.zone, self.store, self.marks, self.clock,
                              self.order):
                    if table is not None:
                        table.clear()

    def _number(self, key: Hashable) -> int:
        """A part's number: a digest of its value (`stable`), or drawn once per value."""
        if self.stable:
            return digest(key)
        known = self._keys.get(key)
        if known is None:
            known = self._keys[key] = self._rng.getrandbits(64)
        return known

    def fingerprint(self, state: State) -> int:
        """The identity of a whole state (a step's child has it from its parent's, `expansion`)."""
        if self.renamings is not None:
            return min(self._renamed_sum(state, i) for i in range(len(self.renamings)))
        holder = self.engine.holder[state[ZONE]]
        comp = self.comp
        total = (self.zone[state[ZONE]] + self.store[state[STORE]] + self.clock[state[2]]
                 + self.marks[state[MARKS]])
        if self.order is not None:
            total += self.order[state[ORDER]]
        for w in range(len(state) - FIRST):
            total += comp[state[FIRST + w]][holder == w]
        if self.current is not None:
            moved = self.engine.orders[state[ORDER]][1]
            if moved is not None:
                total += self.current[state[FIRST + moved]]
        return total & MASK

    def _renamed_sum(self, state: State, i: int) -> int:
        """The sum of a state's parts' numbers with the enactors renamed by renaming `i`."""
        engine = self.engine
        positions = self.renamings[i][1]  # type: ignore[index]
        total = (self._renamed_number("zone", i, state[ZONE]) + self.store[state[STORE]]
                 + self.clock[state[2]] + self.marks[state[MARKS]])
        if self.order is not None:
            order, moved = engine.orders[state[ORDER]]
            total += self._number(("order", tuple(positions[w] for w in order),
                                   None if moved is None else positions[moved]))
        for w in range(len(state) - FIRST):
            total += self._renamed_number("part", i, state[FIRST + w])
        if self.current is not None:
            moved = engine.orders[state[ORDER]][1]
            if moved is not None:
                total += self._renamed_number("current", i, state[FIRST + moved])
        return total & MASK

    def _renamed_number(self, kind: str, i: int, number: int) -> int:
        key = (kind, i, number)
        known = self._renamed.get(key)
        if known is None:
            names, positions = self.renamings[i]  # type: ignore[index]
            engine = self.engine
            if kind == "zone":
                told: Hashable = ("zone", _renamed(self._zone_key(number), names))
            else:
                worker = engine.comps[number][0]
                state = getattr(worker, "state", None)
                try:
                    inner = state() if state is not None else ("part", number)
                except Uncanonical:  # told by its history: never equal to a renamed one
                    inner = ("part", number)
                told = (kind, positions[engine.position[number]], _renamed(inner, names))
            known = self._renamed[key] = self._number(told)
        return known

    def _comp(self, c: int) -> tuple[int, int]:
        key = self._comp_key(c)
        if isinstance(key, tuple) and key[0] == "enactor":
            return self._number((key, False)), self._number((key, True))
        number = self._number(key)
        return number, number

    def _comp_key(self, c: int) -> Hashable:
        """What a worker's part is, for its number: told without names under `symmetry`."""
        engine = self.engine
        position = engine.position[c]
        worker, pending = engine.comps[c]
        if self._symmetric and position > 0:
            assert isinstance(worker, StateMachineEnactor)
            return ("enactor", tuple(getattr(worker, f) for f in _COMPARED),
                    _lock_told(worker.lock, worker.name, self._enactors))
        if self.stable:
            return ("worker", position, worker, pending)
        return ("part", c)

    def _zone_key(self, z: int) -> tuple[frozenset[Any], Hashable]:
        """The zone's content, what the reductions keep of it: (its records but the lock, the
        lock as `_lock_told`) under `symmetry`, with `unread` only the addresses and the
        endpoint aliases."""
        dns = self.engine.zones[z]
        rest = []
        lock: Hashable = None
        aliases = self._aliases
        for origin, zone in dns.zones.items():
            for name, node in zone.nodes.items():
                for rtype, rrset in node.items():
                    if rtype == "SOA":
                        continue
                    if name == self._lock_name and rtype == "TXT" and self._symmetric:
                        value = LockValue.parse(rrset[1][0]) if len(rrset[1]) == 1 else None
                        if value is not None:
                            lock = _lock_told(value, None, self._enactors)
                            continue
                    if (self._unread and rtype != "A" and not (rtype == "CNAME" and name in aliases)
                            and not (name == self._lock_name and rtype == "TXT")):
                        continue
                    rest.append((origin, name, rtype, rrset))
        return frozenset(rest), lock

    def place(self, state: State) -> int:
        """Where a state lives when the visited set is split (`partition`): a function of
        its identity that few steps change, so that most children stay with their parent's
        share: the zone's content but the lock, the plan store and, for the built-in
        enactors, the generations they have finished with (sorted: the same for any renaming
        of enactors). The last splits the states that share a zone and a store (enactors
        spinning on the lock over the same records), and changes only when an enactor is
        done with a plan: it evens the shares out for a few more states crossing
        (docs/benchmarks.md)."""
        zone = self._place_zone[state[ZONE]]
        store = self.store[state[STORE]]
        if "values" not in self.used:
            return hash((zone, store)) & 0x7FFFFFFFFFFFFFFF
        done = tuple(sorted(self._done[c] for c in state[FIRST + 1:]))
        return hash((zone, store, done)) & 0x7FFFFFFFFFFFFFFF

    def _zone_but_lock(self, z: int) -> int:
        """The zone's part of the identity but its lock (a function of the identity, so a state
        has one place whichever of its equals is met)."""
        rest, _ = self._zone_key(z)
        return digest(("zone", frozenset(record for record in rest
                                         if record[1] != self._lock_name)))

    def _done_of(self, c: int) -> int:
        worker, _ = self.engine.comps[c]
        assert isinstance(worker, StateMachineEnactor)
        # (a finished enactor's generation is not part of its identity: dead)
        return -1 if worker.phase is Phase.DONE else worker.last_done


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """`value` with every enactor's name in it (strings, in stamps and lock texts too)
    replaced by its name under the renaming `names` (tuples, sets and strings are walked;
    anything else names no enactor)."""
    if isinstance(value, str):
        return _NAME.sub(lambda m: names.get(m.group(0), m.group(0)), value)
    if isinstance(value, tuple):
        return tuple(_renamed(v, names) for v in value)
    if isinstance(value, frozenset):
        return frozenset(_renamed(v, names) for v in value)
    return value


_NAME = re.compile(r"enactor-\d+(?!\d)")


def _lock_told(lock: LockValue | None, me: str | None, enactors: frozenset[str]
               ) -> Hashable:
    """A lock value without names: its holder as "self" (`me`), "enactor" (another one), or
    as written (free, or `OTHER`)."""
    if lock is None:
        return None
    holder = ("self" if lock.holder == me else "enactor" if lock.holder in enactors
              else lock.holder if lock.holder in (LockValue.FREE_HOLDER, OTHER) else "enactor")
    return (holder, lock.expires_ms, lock.stamp)
