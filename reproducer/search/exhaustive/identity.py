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
  canonicalised.
  * Lock stamps ("enactor-2.3") are compared only for equality, and a stamp names exactly one
    lock value (its writer's n-th write, with one expiry), so stamps are renamed by order of
    first appearance (the zone's lock first) and each enactor's write counter, which only
    makes the next stamp fresh, is dropped; so is the expiry an enactor believes the lock has
    (its stamp decides every comparison the enactor makes with it).
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
  prerequisites name only the lock, the aliases and the trees' addresses) and the trees' TXT
  descriptions.
- dead (with values): an enactor's fields that it will overwrite before it reads them again
  are left out (Spin's dead variable reduction). Which fields are live in which phase is the
  enactor's own statement, beside its transitions (`StateMachineEnactor.live_fields`, in
  `reproducer.world.enactor`): a field it leaves out decides nothing the enactor will do, so
  two states that differ only there have the same futures.
- symmetry (with values): the enactors are identical but for their names, which appear only
  in their own state, the lock's holder and the stamps. Enactors are listed sorted by what
  they hold (holders as positions in that list), trying every order of the ones that tie,
  and the least description is the identity: states that differ by a renaming of enactors are
  one (TLC's SYMMETRY; invariants never name an enactor).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from fake_dns import ZoneStore
from reproducer.running.core import State
from reproducer.running.simulation import Universe, state_key
from reproducer.search.exhaustive.digest import Undigestible, digest
from reproducer.world.enactor import Phase, StateMachineEnactor
from reproducer.world.planner import Planner
from reproducer.world.values import LockValue

__all__ = ["DEFAULT_REDUCTIONS", "REDUCTIONS", "Identity", "check_reductions"]

REDUCTIONS = ("bookkeeping", "values", "unread", "dead", "symmetry", "por", "glue")
# The reductions used unless asked otherwise: those that pay. `glue` is sound and tested, but
# costs more time than it saves (docs/benchmarks.md), so it is there to be asked
# for by name.
DEFAULT_REDUCTIONS = tuple(r for r in REDUCTIONS if r != "glue")
_NEEDS = {"values": "bookkeeping", "unread": "values", "dead": "values", "symmetry": "values",
          "por": "bookkeeping", "glue": "values"}
_MAX_ORDERS = 720  # orders of tied enactors tried; beyond, one order (sound, merges less)


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


class Identity:
    """`fingerprint(state)`: a 64-bit identity under the reductions in `used` (which may be
    fewer than asked: `values` and `symmetry` need the built-in workers)."""

    def __init__(self, universe: Universe, reductions: Iterable[str]) -> None:
        asked = check_reductions(reductions)
        config = universe.config
        self._read_aliases = frozenset(config.layout.endpoint_name(ep)
                                       for ep in config.layout.endpoints)
        builtin = (universe.memo and isinstance(universe.root.workers[0], Planner) and all(
            type(w) is StateMachineEnactor for w in universe.root.workers[1:]))
        self.used = asked if builtin else asked & {"bookkeeping"}
        self.builtin = builtin
        self.universe = universe
        self._lock_name = config.layout.lock_name
        self._index = {w.name: i for i, w in enumerate(universe.root.workers)}
        self._interned: dict[Hashable, int] = {}
        self._objects: dict[int, tuple[Any, int]] = {}
        self._zones: dict[int, tuple[int, int | None, str | None, int]] = {}
        self._enactors: dict[int, tuple[int, int | None, str | None, int | None]] = {}
        # stable: every process gives a state the same identity (`digest`),
        # which a visited set split across processes needs; async enactors' values hold live
        # coroutines, so their identities are of this process only
        root = universe.root
        try:
            self.fingerprint_of_parts(root)
            self.stable = True
        except Undigestible:
            self.stable = False
        self.fingerprint: Callable[[State], int]
        if "values" in self.used:
            self.fingerprint = self._canonical
        elif not self.stable:
            self.fingerprint = (_without_bookkeeping if "bookkeeping" in self.used
                                else _plain)
        elif "bookkeeping" in self.used:
            self.fingerprint = self._stable_without_bookkeeping
        else:
            self.fingerprint = self.fingerprint_of_parts

    def _intern(self, value: Hashable) -> int:
        """The digest of a small value, remembered by the value."""
        known = self._interned.get(value)
        if known is None:
            known = self._interned[value] = digest(value)
        return known

    def _object(self, obj: Any) -> int:
        """The digest of an interned part of a state, remembered by its identity (the object
        is kept, so its id is never reused)."""
        known = self._objects.get(id(obj))
        if known is None:
            known = (obj, self._zone_digest(obj) if isinstance(obj, ZoneStore) else digest(obj))
            self._objects[id(obj)] = known
        return known[1]

    @staticmethod
    def _zone_digest(dns: ZoneStore) -> int:
        return digest(frozenset((origin, name, rtype, rrset)
                                for origin, zone in dns.zones.items()
                                for name, node in zone.nodes.items()
                                for rtype, rrset in node.items() if rtype != "SOA"))

    def place(self, state: State) -> int:
        """Where a state lives when the visited set is split (`partition`): a function of
        its identity that few steps change, so that most children stay with their parent's
        share: the zone's content but the lock, the plan store and, for the built-in
        enactors, the generations they have finished with (sorted: the same for any renaming
        of enactors). The last splits the states that share a zone and a store (enactors
        spinning on the lock over the same records), and changes only when an enactor is
        done with a plan: it evens the shares out for a few more states crossing
        (docs/benchmarks.md)."""
        if "values" in self.used:
            # (a finished enactor's generation is not part of its identity: dead)
            done = tuple(sorted(-1 if w.phase is Phase.DONE else w.last_done  # type: ignore
                                for w in state.workers[1:]))
            return hash((self._zone(state.dns)[0], self._object(state.store),
                         done)) & 0x7FFFFFFFFFFFFFFF
        return hash((self._object(state.dns), self._object(state.store))) & 0x7FFFFFFFFFFFFFFF

    def fingerprint_of_parts(self, state: State) -> int:
        """The identity with no reduction, the same in every process."""
        obj = self._object
        return hash((obj(state.dns), obj(state.store), state.clock_ms,
                     tuple(map(obj, state.workers)), tuple(map(obj, state.pending)),
                     state.order, -1 if state.current is None else state.current,
                     self._intern(state.highest), self._intern(state.broken)))

    def _stable_without_bookkeeping(self, state: State) -> int:
        obj = self._object
        return hash((obj(state.dns), obj(state.store), state.clock_ms,
                     tuple(map(obj, state.workers)), tuple(map(obj, state.pending)),
                     self._intern(state.highest), self._intern(state.broken)))

    def _zone(self, dns: Any) -> tuple[int, int | None, str | None, int]:
        """(content but the lock, lock holder index, lock stamp, lock expiry), per zone."""
        known = self._zones.get(id(dns))
        if known is None:
            rest = []
            lock: LockValue | None = None
            unread = "unread" in self.used
            aliases = self._read_aliases
            for origin, zone in dns.zones.items():
                for name, node in zone.nodes.items():
                    for rtype, rrset in node.items():
                        if rtype == "SOA":
                            continue
                        if name == self._lock_name and rtype == "TXT":
                            lock = LockValue.parse(rrset[1][0]) if len(rrset[1]) == 1 else None
                            if lock is not None:
                                continue
                        if unread and rtype != "A" and not (rtype == "CNAME"
                                                            and name in aliases):
                            continue
                        rest.append((origin, name, rtype, rrset))
            holder = None if lock is None else self._index.get(lock.holder)
            known = (self._intern(frozenset(rest)), holder,
                     None if lock is None else lock.stamp,
                     0 if lock is None or holder is None else lock.expires_ms)
            self._zones[id(dns)] = known
        return known

    def _enactor(self, e: StateMachineEnactor) -> tuple[int, int | None, str | None, int | None]:
        """(what it holds but names, stamps and times; lock holder index; lock stamp; the
        absolute time that can still matter), per enactor state."""
        known = self._enactors.get(id(e))
        if known is None:
            backoff = e.backoff_that_matters
            lock = e.lock
            local: tuple[Any, ...] = (
                e.phase, e.plan, e.last_done, e.endpoint, e.lock is None, e.resume,
                e.after_release, e.retrying, e.suspect, backoff, e.failures, e.active, e.doomed)
            if "dead" in self.used:
                local, lock = _live(e, backoff)
            when = e.deadline_ms()
            known = (self._intern(local), None if lock is None else self._index.get(lock.holder),
                     None if lock is None else lock.stamp, when)
            self._enactors[id(e)] = known
        return known

    def _canonical(self, state: State) -> int:
        now = state.clock_ms
        rest, zone_holder, zone_stamp, zone_expiry = self._zone(state.dns)
        workers = state.workers
        enactors = range(1, len(workers))
        infos = {w: self._enactor(workers[w]) for w in enactors}  # type: ignore[arg-type]
        # What an enactor holds, told without any name: (local, time, holder, stamp) classes.
        sig = {}
        for w, (local, holder, stamp, when) in infos.items():
            sig[w] = (local, -1 if when is None else max(when - now, 0),
                      0 if holder is None else 1 if holder == w else
                      2 if holder == zone_holder else 3,
                      -1 if stamp is None else 0 if stamp == zone_stamp else 1)
        if "symmetry" in self.used:
            order = sorted(enactors, key=sig.__getitem__)
            orders = _tie_orders(order, sig)
        else:
            orders = [list(enactors)]
        best: tuple[Any, ...] | None = None
        for candidate in orders:
            pos = {w: j for j, w in enumerate(candidate)}
            labels = {zone_stamp: 0}
            parts: list[Any] = [-1 if zone_holder is None else pos.get(zone_holder, -2),
                                max(zone_expiry - now, 0)]
            for w in candidate:
                _, holder, stamp, _ = infos[w]
                parts.append((sig[w], -1 if holder is None else pos.get(holder, -2),
                              -1 if stamp is None else labels.setdefault(stamp, len(labels))))
            key = tuple(parts)
            if best is None or key < best:
                best = key
        return hash((rest, self._object(state.store), self._object(workers[0]),
                     self._intern(state.highest), self._intern(state.broken), best))


def _tie_orders(order: list[int], sig: dict[int, Any]) -> list[list[int]]:
    """Every order of `order` that permutes only enactors with equal signatures."""
    groups = [list(g) for _, g in itertools.groupby(order, key=sig.__getitem__)]
    count = 1
    for g in groups:
        for n in range(2, len(g) + 1):
            count *= n
    if count == 1 or count > _MAX_ORDERS:
        return [order]
    return [[w for part in combo for w in part]
            for combo in itertools.product(*(itertools.permutations(g) for g in groups))]


def _live(e: StateMachineEnactor, backoff: int) -> tuple[tuple[Any, ...], LockValue | None]:
    """What the enactor holds, and the lock it believes, with the fields it will overwrite
    before reading them (`StateMachineEnactor.live_fields`) left out."""
    live = e.live_fields()
    if not live:  # done: it never moves again
        return (e.phase,), None
    lock = e.lock if "lock" in live else None

    def kept(name: str) -> Any:
        return getattr(e, name) if name in live else None

    return ((e.phase, kept("plan"), e.last_done, kept("endpoint"), lock is None, kept("resume"),
             kept("after_release"), e.retrying, e.suspect, backoff,
             e.failures if "failures" in live else 0, kept("active"), kept("doomed")), lock)


def _plain(state: State) -> int:
    return hash(state_key(state))


def _without_bookkeeping(state: State) -> int:
    return hash((id(state.dns), id(state.store), state.clock_ms, tuple(map(id, state.workers)),
                 tuple(map(id, state.pending)), state.highest, state.broken))
