"""Canonical values of a world's parts: one value for all the states that have the same futures.

The integer engine (`reproducer.running.engine`) keeps every state in this form, so that a part
it has met once (a worker's state, a zone) is met again instead of differing in a stamp or a
time that decides nothing, and its memo of steps hits. Each rewrite below replaces a part by
another with exactly the same futures — the same steps ready, the same answers, the same
violations at the same step — so a run over canonical values breaks an invariant exactly
when the run over the real values does, with the same choices. Why each is sound is the
exhaustive search's statement of its reductions (`reproducer.search.exhaustive.identity`), on
facts the enactor states beside its transitions (`reproducer.world.enactor`). They apply to
the built-in workers only; any other worker's state is kept as it is.

Rules (the names are those of the reductions):
- values, time: the clock is 0 in every canonical state. A step that moves the clock by d
  (a back-off sleep) moves every time in the state back by d: the zone lock's expiry and each
  enactor's `deadline_ms()` (clamped at 0 once passed, as nothing but "has it passed" matters
  then); an enactor's `moved_ms` outside those phases is 0 (its next step replaces it).
- values, stamps: the zone's lock carries the stamp `CURRENT`. An enactor's believed lock that
  is the zone's lock is that same value; any other belief is stale for ever (every write puts a
  fresh stamp in the zone), so it becomes the `STALE` stamp with the holder it names only as
  far as it is this enactor ("other" otherwise) and no expiry. The write counter, which only
  makes the next stamp fresh, is 0: the next stamp is fresh because none is ever kept.
- values, prose: trace notes are "" (`note` decides nothing); a back-off count is
  `backoff_that_matters`.
- dead: the fields an enactor will overwrite before it reads them (`live_fields`) take their
  defaults (the believed lock, None).
- unread: the rollback aliases, which nothing reads, are left out of the zone. (The trees'
  descriptions stay: whether a cleaned tree's name still exists decides NODATA against
  NXDOMAIN for a resolver that follows an alias there.)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fake_dns import ZoneStore
from reproducer.world.config import Worker
from reproducer.world.enactor import StateMachineEnactor
from reproducer.world.planner import Planner
from reproducer.world.values import Action, Layout, LockValue, evolve

__all__ = ["CURRENT", "OTHER", "STALE", "Canon", "lock_of_zone"]

CURRENT = "current"  # the stamp of the zone's lock in a canonical state
STALE = "stale"  # the stamp of a believed lock that is not the zone's
OTHER = "other"  # a stale belief's holder when it is not the believer

_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(StateMachineEnactor)
    if f.default is not dataclasses.MISSING}
_DEFAULTS["lock"] = None


def lock_of_zone(dns: ZoneStore, lock_name: str) -> LockValue | None:
    """The lock record's value, if the zone holds exactly one that parses."""
    for zone in dns.zones.values():
        node = zone.nodes.get(lock_name)
        if node is not None:
            rrset = node.get("TXT")
            if rrset is not None and len(rrset[1]) == 1:
                return LockValue.parse(rrset[1][0])
    return None


class Canon:
    """The rewrites (module docstring) a configuration's search asked for. `values` applies
    only when every worker is a built-in one (`builtin`); `unread` and `dead` build on it."""

    def __init__(self, layout: Layout, builtin: bool, *, values: bool, unread: bool,
                 dead: bool) -> None:
        self.values = values and builtin
        self.unread = unread and self.values
        self.dead = dead and self.values
        self.lock_name = layout.lock_name
        self.rollbacks = frozenset(layout.rollback_name(ep) for ep in layout.endpoints)

    # -- the zone ------------------------------------------------------------------------------

    def zone(self, dns: ZoneStore, shift_ms: int = 0) -> ZoneStore:
        """The zone with its lock canonical (and the rollback aliases left out: unread)."""
        if not self.values:
            return dns
        lock = lock_of_zone(dns, self.lock_name)
        dropped = [name for zone in dns.zones.values() for name in self.rollbacks
                   if name in zone.nodes] if self.unread else []
        if lock is None and not dropped:
            return dns
        out = dns.branch([self.lock_name])
        for zone in out.zones.values():
            if lock is not None and self.lock_name in zone.nodes:
                node = zone.nodes[self.lock_name]
                node["TXT"] = (node["TXT"][0], (self.lock(lock, shift_ms).txt,))
            for name in dropped:
                zone.nodes.pop(name, None)
        return out

    @staticmethod
    def lock(lock: LockValue, shift_ms: int) -> LockValue:
        """The zone's lock, canonical: stamp `CURRENT`, expiry relative to the clock."""
        return LockValue(lock.holder, max(lock.expires_ms - shift_ms, 0), CURRENT)

    # -- a worker ------------------------------------------------------------------------------

    def worker(self, worker: Worker, pending: Action | None, zone_lock: LockValue | None,
               shift_ms: int = 0) -> tuple[Worker, Action | None]:
        """A worker's state and the action it is parked on, canonical. `zone_lock` is the
        zone's lock after the step (as the zone holds it, before it is made canonical), and
        `shift_ms` how far the step moved the clock."""
        if not self.values:
            return worker, pending
        if isinstance(worker, Planner):
            return evolve(worker, note=""), pending
        assert isinstance(worker, StateMachineEnactor)
        e = worker
        deadline = e.deadline_ms()
        moved = 0 if deadline is None else e.moved_ms + max(deadline - shift_ms, 0) - deadline
        changes: dict[str, Any] = {
            "lock": self._belief(e, zone_lock, shift_ms), "writes": 0, "note": "",
            "backoff": e.backoff_that_matters, "moved_ms": moved}
        if self.dead:
            # (read off the value before its rewrite, which keeps all that `live_fields`
            # reads: the phase, whether it believes it holds the lock, `retrying`, `suspect`)
            live = e.live_fields()
            for name, default in _DEFAULTS.items():
                if name not in live and name not in ("name", "phase"):
                    changes[name] = default
        e = evolve(e, **changes)
        return e, e.next_action(0)

    def stale(self, worker: Worker) -> Worker:
        """The worker after another one rewrote the zone's lock: a belief that was the zone's
        lock is stale now."""
        if (self.values and isinstance(worker, StateMachineEnactor) and worker.lock is not None
                and worker.lock.stamp == CURRENT):
            return evolve(worker, lock=self._stale(worker, worker.lock))
        return worker

    def _belief(self, e: StateMachineEnactor, zone_lock: LockValue | None,
                shift_ms: int) -> LockValue | None:
        belief = e.lock
        if belief is None or belief.stamp == STALE:
            return belief
        if belief.stamp == CURRENT:  # the zone's lock, canonical already: it moves with it
            return LockValue(belief.holder, max(belief.expires_ms - shift_ms, 0), CURRENT)
        if zone_lock is not None and belief == zone_lock:
            return self.lock(zone_lock, shift_ms)
        return self._stale(e, belief)

    @staticmethod
    def _stale(e: StateMachineEnactor, belief: LockValue) -> LockValue:
        return LockValue(e.name if belief.holder == e.name else OTHER, 0, STALE)
