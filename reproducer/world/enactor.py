"""The DNS Enactor as a state machine; its policies, the variants, are in `variants.py`.

An enactor does no I/O. It is a frozen value with two methods:
- `next_action(now_ms)` says what it wants to do at its next scheduling point (a DNS query, a
  DNS UPDATE, a plan-store call, a back-off sleep), or None once it has finished;
- `receive(result, now_ms)` returns the enactor's next state given what the world answered.
The scheduling core (`reproducer.running.core`) moves it by these two calls alone, so the
same enactor runs over a real socket, over the in-process transport, and inside the exhaustive
search, which copies states freely because they are values.

Theory of operation (the AWS post-event summary, aws.amazon.com/message/101925, and the
DynamoDB talk at re:Invent 2025, DAT453; each phase is one scheduling point)
-------------------------------------------------------------------------------
  FIND_PLAN      store: wait for and read the newest plan newer than the last one handled
  CHECK          query the regional alias: the ONE-TIME check "my plan is newer than the applied
                 one" (the summary: the slow enactor's check was made once, long before).
                 aws-2025 never checks again: check-then-act.
  LOCK_READ      query the TXT lock; free, ours, or expired -> take it as our belief
  BACKOFF        the lock is someone else's: sleep, doubling each time (the talk: the slow
                 enactor lost the lock several times in a row, backing off further each time)
  CREATE_TREES   UPDATE: lock CAS + the plan's record tree for every endpoint
  READ_ALIAS     query endpoint i's alias: which tree is active now (the rollback will point at it)
  FLIP           UPDATE: lock CAS + "old tree still has its records" (the rollback must point at
                 an existing tree: the summary's inconsistent state) + alias -> new tree +
                 rollback -> old tree. The last flip releases the lock.
  RELEASE        UPDATE: lock CAS, lock := free (only when the phase's last batch did not)
  CLEANUP_LIST   store: list the generations
  CLEANUP_READ_ACTIVE  (fixes only) query each alias, to spare the active trees
  CLEANUP_DNS    UPDATE: lock CAS + delete the leaf records of every doomed tree; releases lock
  CLEANUP_STORE  store: delete the doomed plans
  DONE
Rules:
  1. Every UPDATE starts with the lock prerequisite: the TXT lock is exactly what we believe
     (RFC 2136 §2.4.2) — Route 53's "DELETE exactly as believed" — and re-creates it.
  2. A refused UPDATE sends us to LOCK_READ. If the lock is still ours, the refusal was about
     something else: that counts as a failure of the plan; after `max_failures` the plan is
     abandoned (a real enactor would retry forever; the bound lets runs end).
  3. Clean-up deletes plans older than `last applied - keep_generations` ("significantly older").

Facts the exhaustive search relies on (`reproducer.search.exhaustive`), stated here, beside
the transitions they are read off, so that a change to a phase, a field or a policy changes
them in the same place (the differential test of the reductions guards them):
  - `live_fields()`: the fields an enactor may read before it overwrites them; the others
    decide nothing it will do (Spin's dead variables);
  - `deadline_ms()`: the one absolute time that can still matter to it; `backoff_that_matters`:
    the back-off count as far as it changes a delay;
  - `just_took_right_mover(store)`: its last step was a right mover (Lipton's reduction),
    recognised from the state right after it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from fake_dns import Change, ChangeKind, LookupResult, PrereqKind, Prerequisite, Update
from reproducer.world.values import (
    ALIAS_TTL_S,
    Action,
    DeletePlans,
    Layout,
    ListPlans,
    LockValue,
    Plan,
    PlanList,
    PlanRead,
    PlanStore,
    Query,
    ReadNewestPlan,
    Result,
    SendUpdate,
    Sleep,
    UpdateOutcome,
    evolve,
)
from reproducer.world.variants import EnactorSettings, Policy, Variant

__all__ = ["Phase", "StateMachineEnactor"]


class Phase(enum.Enum):
    FIND_PLAN = "find-plan"
    CHECK = "check"
    LOCK_READ = "lock-read"
    BACKOFF = "backoff"
    CREATE_TREES = "create-trees"
    READ_ALIAS = "read-alias"
    FLIP = "flip"
    RELEASE = "release"
    CLEANUP_LIST = "cleanup-list"
    CLEANUP_READ_ACTIVE = "cleanup-read-active"
    CLEANUP_DNS = "cleanup-dns"
    CLEANUP_STORE = "cleanup-store"
    DONE = "done"


_FREE = LockValue.free()
# phase groups the facts below read (`live_fields`)
_LOCK_REPLACED = (Phase.FIND_PLAN, Phase.CHECK, Phase.READ_ALIAS, Phase.LOCK_READ, Phase.BACKOFF)
_WAITING = (Phase.LOCK_READ, Phase.BACKOFF)  # waiting for the lock, to resume `resume`
_CLEANUP = (Phase.CLEANUP_LIST, Phase.CLEANUP_READ_ACTIVE, Phase.CLEANUP_DNS, Phase.CLEANUP_STORE)


def _answer_rdata(result: LookupResult, rtype: str) -> str | None:
    for rr in result.answer:
        if rr.rtype == rtype:
            return rr.rdata
    return None


@dataclass(frozen=True, slots=True)
class StateMachineEnactor:
    """One DNS Enactor. Configuration fields do not take part in equality or hashing."""

    name: str
    layout: Layout = field(compare=False)
    policy: Policy = field(compare=False)
    settings: EnactorSettings = field(compare=False)
    phase: Phase = Phase.FIND_PLAN
    plan: Plan | None = None
    last_done: int = 0  # newest generation applied, skipped or abandoned
    endpoint: int = 0  # index of the endpoint being flipped or read
    lock: LockValue | None = _FREE  # what we believe the lock record holds
    resume: Phase = Phase.FIND_PLAN  # where to go with the lock in hand
    after_release: Phase = Phase.FIND_PLAN
    retrying: bool = False  # LOCK_READ after a refused UPDATE
    suspect: bool = False  # a flip was refused with the lock ours: did the alias move?
    backoff: int = 0
    failures: int = 0
    moved_ms: int = 0  # the virtual clock when this enactor last moved: its idea of "now"
    writes: int = 0  # lock writes attempted, for the stamp of the next one
    active: tuple[str | None, ...] = ()  # alias targets read
    doomed: tuple[int, ...] = ()
    note: str = ""  # what the last step meant, in the outage summary's words

    @classmethod
    def create(cls, name: str, layout: Layout, variant: Variant,
               settings: EnactorSettings) -> StateMachineEnactor:
        return cls(name, layout, variant.policy, settings)

    # -- helpers ---------------------------------------------------------------------------

    def _lock_prereq(self) -> Prerequisite:
        name = self.layout.lock_name
        if self.lock is None:
            return Prerequisite(PrereqKind.RRSET_DOES_NOT_EXIST, name, "TXT")
        return Prerequisite(PrereqKind.RRSET_EXISTS_VALUE, name, "TXT",
                            frozenset((self.lock.txt,)))

    def _lock_changes(self, new: LockValue) -> tuple[Change, ...]:
        name = self.layout.lock_name
        return (Change(ChangeKind.DELETE_RRSET, name, "TXT"),
                Change(ChangeKind.ADD, name, "TXT", 0, new.txt))

    def _lock_to_write(self, release: bool) -> LockValue:
        """What the next batch writes into the lock record: a fresh stamp every time."""
        stamp = f"{self.name}.{self.writes + 1}"
        if release:
            return LockValue.free(stamp)
        return LockValue(self.name, self.moved_ms + self.settings.lease_ms, stamp)

    def _batch(self, now_ms: int, prereqs: tuple[Prerequisite, ...],
               changes: tuple[Change, ...], release: bool) -> Update:
        new = self._lock_to_write(release)
        return Update(self.layout.zone, (self._lock_prereq(), *prereqs),
                      (*self._lock_changes(new), *changes))

    def _gen(self, tree: str | None) -> int | None:
        return self.layout.generation_of_tree(tree)

    def _backoff_delay_ms(self) -> int:
        return min(self.settings.backoff_base_ms << self.backoff, self.settings.backoff_max_ms)

    @property
    def _endpoints(self) -> tuple[str, ...]:
        return self.layout.endpoints

    @property
    def _plan(self) -> Plan:
        assert self.plan is not None, f"{self.name}: phase {self.phase} without a plan"
        return self.plan

    # -- facts for the exhaustive search (module docstring) ------------------------------------

    def live_fields(self) -> frozenset[str]:
        """The fields this enactor may still read before it overwrites them (a sound
        over-approximation: every field left out is overwritten first, on every path; the
        configuration fields and `name` never change and are not listed). Read off the
        transitions below:

        - DONE: none (it never moves again);
        - `phase`, `last_done`, `retrying`, `suspect`, `backoff`, `writes`: always;
        - `lock`, unless it will replace it before using it: in FIND_PLAN, CHECK, READ_ALIAS,
          LOCK_READ and BACKOFF, the next lock read replaces the lock it believes, unless it
          believes it holds it (`_next_endpoint` releases it under that belief), or a refused
          UPDATE is behind it (`retrying`, `suspect`: the lock read compares with it);
        - by where it is headed (its phase, or in LOCK_READ and BACKOFF the phase it resumes
          with the lock): `plan`, unless it will pick up a plan (FIND_PLAN) or clean up (which
          never reads it) or release the lock on its way to either; `endpoint`, when it will
          read an alias, create, flip or clean-up-read (every other way into those sets it);
          `active`, when it will create or flip, read the aliases for clean-up, re-read after
          a refused flip, or delete under the cas clean-up's prerequisite; `doomed`, in the
          clean-up after its listing (which sets them);
        - `resume`, in LOCK_READ and BACKOFF; `after_release`, in RELEASE (every way into those
          sets them); `failures`, outside FIND_PLAN (picking up a plan resets it);
        - `moved_ms`, in BACKOFF and CREATE_TREES only (`deadline_ms`): every step sets it;
        - `note`: never (it is prose for the trace).
        """
        ph = self.phase
        if ph is Phase.DONE:
            return frozenset()
        live = {"phase", "last_done", "retrying", "suspect", "backoff", "writes"}
        holds = self.lock is not None and self.lock.holder == self.name
        if not (ph in _LOCK_REPLACED and not holds and not self.retrying and not self.suspect):
            live.add("lock")
        waiting = ph in _WAITING
        goal = self.resume if waiting else ph
        if not (ph is Phase.FIND_PLAN or goal in _CLEANUP or (
                ph is Phase.RELEASE and self.after_release is not Phase.READ_ALIAS)):
            live.add("plan")
        if goal in (Phase.CREATE_TREES, Phase.READ_ALIAS, Phase.FLIP,
                    Phase.CLEANUP_READ_ACTIVE) or (
                ph is Phase.RELEASE and self.after_release is Phase.READ_ALIAS):
            live.add("endpoint")
        if (goal in (Phase.CREATE_TREES, Phase.FLIP, Phase.CLEANUP_READ_ACTIVE)
                or (goal is Phase.READ_ALIAS and (waiting or self.suspect))
                or (goal is Phase.CLEANUP_DNS and self.policy.cleanup == "cas")):
            live.add("active")
        if goal in _CLEANUP and goal is not Phase.CLEANUP_LIST:
            live.add("doomed")
        if waiting:
            live.add("resume")
        if ph is Phase.RELEASE:
            live.add("after_release")
        if ph is not Phase.FIND_PLAN:
            live.add("failures")
        if ph in (Phase.BACKOFF, Phase.CREATE_TREES):
            live.add("moved_ms")
        return frozenset(live)

    def deadline_ms(self) -> int | None:
        """The absolute virtual time that can still change what this enactor does: when it
        wakes (BACKOFF), or the expiry it will write into the lock (CREATE_TREES); None in
        every other phase, whose next step replaces `moved_ms` before anything reads it.
        Every rule adds constants to it and compares, so only its distance from now
        matters, and only until it has passed."""
        if self.phase is Phase.BACKOFF:
            return self.moved_ms + self._backoff_delay_ms()
        if self.phase is Phase.CREATE_TREES:
            return self.moved_ms + self.settings.lease_ms
        return None

    @property
    def backoff_that_matters(self) -> int:
        """`backoff` as far as it can change anything: it counts only through the delay, which
        stops doubling at its cap, so every count past the first capped one is that one."""
        base, cap = self.settings.backoff_base_ms, self.settings.backoff_max_ms
        capped = 0
        while base > 0 and (base << capped) < cap:
            capped += 1
        return min(self.backoff, capped)

    def just_took_right_mover(self, store: PlanStore) -> bool:
        """Whether this enactor's last step was a right mover: for every step x of another
        worker taken just after it, x could have been taken just before it with the same
        outcome for both (the same state, up to the identity with `values` of
        `reproducer.search.exhaustive.identity`), and it changed nothing an observer sees (no
        UPDATE committed). Recognised from this state and the plan store, exactly:

        - G1, a refused UPDATE whose lock prerequisite failed ("doomed"): this enactor is in
          LOCK_READ, `retrying`, resuming CREATE_TREES, or CLEANUP_DNS under the age clean-up
          (those UPDATEs carry no prerequisite but the lock's, so their refusal was the
          lock's; a refused flip or cas clean-up may have failed on another prerequisite, and
          is not recognised). Lock values carry a stamp unique to each write and every
          committed UPDATE writes a fresh one, so the lock record never again holds the value
          it believed: sent later, the UPDATE is refused again. It commits nothing, and what
          it leaves differs only in `moved_ms` (which the lock read that follows replaces
          before anything uses it) and the rcode in `note`.
        - G2, reading the newest plan once the store is sealed: this enactor is in CHECK
          (entered only by a plan read) on the newest plan of a sealed store. The Planner
          has stopped and a clean-up never deletes the newest plan (rule 3), so the answer is
          fixed; the newest plan is published in the step that seals, so it was read after.

        Both read only what that identity keeps (the phase, `retrying`, `resume`, the plan in
        CHECK, the store), so states it merges are recognised alike."""
        ph = self.phase
        if ph is Phase.LOCK_READ:
            return self.retrying and (self.resume is Phase.CREATE_TREES or (
                self.resume is Phase.CLEANUP_DNS and self.policy.cleanup == "age"))
        if ph is Phase.CHECK:
            newest = store.newest
            return (store.sealed and newest is not None and self.plan is not None
                    and self.plan.generation == newest.generation)
        return False

    # -- the two methods -------------------------------------------------------------------

    def next_action(self, now_ms: int) -> Action | None:
        lay = self.layout
        ph = self.phase
        if ph is Phase.DONE:
            return None
        if ph is Phase.FIND_PLAN:
            return ReadNewestPlan(self.last_done)
        if ph is Phase.CHECK:
            return Query(lay.endpoint_name(self._endpoints[0]), "CNAME",
                         f"one-time check: is g{self._plan.generation} newer than the "
                         "applied plan?")
        if ph is Phase.LOCK_READ:
            return Query(lay.lock_name, "TXT", "read the lock")
        if ph is Phase.BACKOFF:
            return Sleep(self.moved_ms + self._backoff_delay_ms())
        if ph is Phase.CREATE_TREES:
            plan = self._plan
            ep = self._endpoints[self.endpoint]
            adds = tuple(Change(ChangeKind.ADD, rr.name, rr.rtype, rr.ttl, rr.rdata)
                         for rr in lay.tree_records(plan, ep))
            return SendUpdate(self._batch(now_ms, (), adds, release=False),
                              f"take the lock, create the record tree of g{plan.generation} "
                              f"for {ep}")
        if ph is Phase.READ_ALIAS:
            ep = self._endpoints[self.endpoint]
            return Query(lay.endpoint_name(ep), "CNAME", f"read the active tree of {ep}")
        if ph is Phase.FLIP:
            return self._flip(now_ms)
        if ph is Phase.RELEASE:
            return SendUpdate(self._batch(now_ms, (), (), release=True), "release the lock")
        if ph is Phase.CLEANUP_LIST:
            return ListPlans()
        if ph is Phase.CLEANUP_READ_ACTIVE:
            ep = self._endpoints[self.endpoint]
            return Query(lay.endpoint_name(ep), "CNAME",
                         f"clean-up: which tree of {ep} is active?")
        if ph is Phase.CLEANUP_DNS:
            return self._cleanup(now_ms)
        if ph is Phase.CLEANUP_STORE:
            return DeletePlans(self.doomed)
        raise AssertionError(f"unhandled phase {ph}")

    def _flip(self, now_ms: int) -> SendUpdate:
        lay = self.layout
        plan = self._plan
        ep = self._endpoints[self.endpoint]
        alias = lay.endpoint_name(ep)
        new_tree = lay.tree_name(ep, plan.generation)
        old_tree = self.active[0] if self.active else None
        prereqs: list[Prerequisite] = []
        changes = [Change(ChangeKind.DELETE_RRSET, alias, "CNAME"),
                   Change(ChangeKind.ADD, alias, "CNAME", ALIAS_TTL_S, new_tree)]
        if old_tree is not None:
            # The AWS summary: once the active plan was deleted, no enactor could apply a later
            # plan. The flip points the rollback record at the active plan, and requires that
            # plan to exist. Once the active tree is deleted, every flip fails.
            prereqs.append(Prerequisite(PrereqKind.RRSET_EXISTS, old_tree, "A"))
            rollback = lay.rollback_name(ep)
            changes += [Change(ChangeKind.DELETE_RRSET, rollback, "CNAME"),
                        Change(ChangeKind.ADD, rollback, "CNAME", ALIAS_TTL_S, old_tree)]
        if self.policy.cas_flip:
            # The fix: the freshness check and the write are one step. The alias must still be
            # exactly what we read (and judged older than our plan), and our tree must exist.
            if old_tree is None:
                prereqs.append(Prerequisite(PrereqKind.RRSET_DOES_NOT_EXIST, alias, "CNAME"))
            else:
                prereqs.append(Prerequisite(PrereqKind.RRSET_EXISTS_VALUE, alias, "CNAME",
                                            frozenset((old_tree,))))
            prereqs.append(Prerequisite(PrereqKind.RRSET_EXISTS, new_tree, "A"))
        old = f"g{self._gen(old_tree)}" if old_tree else "nothing"
        return SendUpdate(self._batch(now_ms, tuple(prereqs), tuple(changes), release=True),
                          f"flip {ep} to g{plan.generation} (rollback -> {old}), "
                          "release the lock")

    def _cleanup(self, now_ms: int) -> SendUpdate:
        lay = self.layout
        prereqs: list[Prerequisite] = []
        if self.policy.cleanup == "cas":
            for ep, target in zip(self._endpoints, self.active, strict=True):
                alias = lay.endpoint_name(ep)
                prereqs.append(
                    Prerequisite(PrereqKind.RRSET_DOES_NOT_EXIST, alias, "CNAME") if target is None
                    else Prerequisite(PrereqKind.RRSET_EXISTS_VALUE, alias, "CNAME",
                                      frozenset((target,))))
        changes = tuple(Change(ChangeKind.DELETE_RRSET, lay.tree_name(ep, g), "A")
                        for g in self.doomed for ep in self._endpoints)
        gens = ", ".join(f"g{g}" for g in self.doomed)
        return SendUpdate(self._batch(now_ms, tuple(prereqs), changes, release=True),
                          f"clean-up: delete the trees of {gens}, release the lock")

    def receive(self, result: Result, now_ms: int) -> StateMachineEnactor:
        moved = self._receive(result, now_ms)
        wrote = self.phase in (Phase.CREATE_TREES, Phase.FLIP, Phase.RELEASE, Phase.CLEANUP_DNS)
        return evolve(moved, moved_ms=now_ms, writes=self.writes + 1 if wrote else self.writes)

    def _receive(self, result: Result, now_ms: int) -> StateMachineEnactor:
        ph = self.phase
        if ph is Phase.FIND_PLAN:
            assert isinstance(result, PlanRead)
            if result.plan is None:
                return evolve(self, phase=Phase.DONE, note="no newer plan, and the planner "
                               "has stopped: done")
            plan = result.plan
            return evolve(self, phase=Phase.CHECK, plan=plan, failures=0,
                           note=f"picked up plan g{plan.generation}")
        if ph is Phase.CHECK:
            assert isinstance(result, LookupResult)
            applied = self._gen(_answer_rdata(result, "CNAME")) or 0
            plan = self._plan
            if plan.generation > applied:
                return evolve(self, phase=Phase.READ_ALIAS, endpoint=0,
                               note=f"check passed: g{plan.generation} is newer than the "
                                    f"applied g{applied}" + (
                                        " (and re-checked before each flip)"
                                        if self.policy.recheck_before_flip
                                        else " (checked once, never again)"))
            return evolve(self, phase=Phase.FIND_PLAN, last_done=plan.generation,
                           note=f"check failed: g{plan.generation} is not newer than g{applied}")
        if ph is Phase.LOCK_READ:
            assert isinstance(result, LookupResult)
            txt = _answer_rdata(result, "TXT")
            seen = LockValue.parse(txt) if txt is not None else None
            if self.retrying and seen == self.lock:
                return self._refused_with_lock()
            if seen is None or seen.takeable_by(self.name, now_ms):
                return evolve(self, phase=self.resume, lock=seen, retrying=False, backoff=0,
                               note="the lock is free" if seen is None or seen.is_free
                               else "the lock is ours" if seen.holder == self.name
                               else f"the lock of {seen.holder} has expired: taking it")
            return evolve(self, phase=Phase.BACKOFF, retrying=False,
                           note=f"lost the lock to {seen.holder}: backing off "
                                f"(attempt {self.backoff + 1})")
        if ph is Phase.BACKOFF:
            return evolve(self, phase=Phase.LOCK_READ, backoff=self.backoff + 1, note="woke up")
        if ph in (Phase.CREATE_TREES, Phase.FLIP, Phase.RELEASE, Phase.CLEANUP_DNS):
            assert isinstance(result, UpdateOutcome)
            if result.rcode != "NOERROR":
                return self._refused(result.rcode)
            return self._committed()
        if ph in (Phase.READ_ALIAS, Phase.CLEANUP_READ_ACTIVE):
            assert isinstance(result, LookupResult)
            return self._read_alias(_answer_rdata(result, "CNAME"))
        if ph is Phase.CLEANUP_LIST:
            assert isinstance(result, PlanList)
            horizon = self.last_done - self.settings.keep_generations
            doomed = tuple(g for g in result.generations if g < horizon)
            if not doomed:
                return evolve(self, phase=Phase.FIND_PLAN, note="clean-up: nothing old enough")
            if self.policy.cleanup == "age":
                return evolve(self, phase=Phase.LOCK_READ, resume=Phase.CLEANUP_DNS,
                               doomed=doomed, note="clean-up: plans older than g"
                               f"{horizon} are " + ", ".join(f"g{g}" for g in doomed))
            return evolve(self, phase=Phase.CLEANUP_READ_ACTIVE, endpoint=0, active=(),
                           doomed=doomed, note="clean-up: candidates "
                           + ", ".join(f"g{g}" for g in doomed))
        if ph is Phase.CLEANUP_STORE:
            return evolve(self, phase=Phase.FIND_PLAN, doomed=(),
                           note="clean-up: plans deleted from the store")
        raise AssertionError(f"{self.name}: result {result!r} in phase {ph}")

    def _read_alias(self, target: str | None) -> StateMachineEnactor:
        if self.phase is Phase.CLEANUP_READ_ACTIVE:
            active = (*self.active, target)
            if len(active) < len(self._endpoints):
                return evolve(self, active=active, endpoint=self.endpoint + 1, note="")
            spared = {self._gen(t) for t in active}
            doomed = tuple(g for g in self.doomed if g not in spared)
            if not doomed:
                return evolve(self, phase=Phase.FIND_PLAN, active=active, doomed=(),
                               note="clean-up: every candidate is active; nothing to delete")
            return evolve(self, phase=Phase.LOCK_READ, resume=Phase.CLEANUP_DNS, active=active,
                           doomed=doomed, note="clean-up: will delete "
                           + ", ".join(f"g{g}" for g in doomed))
        plan = self._plan
        gen = self._gen(target)
        ep = self._endpoints[self.endpoint]
        if self.suspect and target == (self.active[0] if self.active else None):
            # Our flip was refused, the lock is still ours, and the alias has not moved:
            # the flip itself cannot pass (the stuck state the AWS summary describes).
            failures = self.failures + 1
            if failures >= self.settings.max_failures:
                return self._abandon(failures)
            return evolve(self, phase=Phase.FLIP, active=(target,), suspect=False,
                           failures=failures,
                           note=f"the alias has not moved: the flip itself is refused "
                                f"(failure {failures})")
        if (self.policy.recheck_before_flip and gen is not None
                and gen >= plan.generation):
            return self._next_endpoint(note=f"re-check: {ep} already has g{gen}, skip it")
        if self.suspect:  # the alias moved under our refused flip; we still hold the lock
            return evolve(self, phase=Phase.FLIP, active=(target,), suspect=False,
                           note=f"{ep} moved to g{gen}: flipping again")
        return evolve(self, phase=Phase.LOCK_READ, resume=Phase.CREATE_TREES,
                       active=(target,),
                       note=(f"{ep} is on g{gen} now; the rollback record will point there"
                             if gen is not None else f"{ep} has no alias yet")
                       + (" (re-check passed)" if self.policy.recheck_before_flip else ""))

    def _next_endpoint(self, note: str) -> StateMachineEnactor:
        holding = self.lock is not None and self.lock.holder == self.name
        if self.endpoint + 1 < len(self._endpoints):
            nxt = evolve(self, endpoint=self.endpoint + 1, suspect=False, note=note)
            return evolve(nxt, phase=Phase.RELEASE, after_release=Phase.READ_ALIAS) \
                if holding else evolve(nxt, phase=Phase.READ_ALIAS)
        done = evolve(self, last_done=self._plan.generation, failures=0, suspect=False,
                       note=note)
        return evolve(done, phase=Phase.RELEASE, after_release=Phase.CLEANUP_LIST) \
            if holding else evolve(done, phase=Phase.CLEANUP_LIST)

    def _committed(self) -> StateMachineEnactor:
        ph = self.phase
        held = self._lock_to_write(release=False)
        released = self._lock_to_write(release=True)
        if ph is Phase.CREATE_TREES:
            return evolve(self, phase=Phase.FLIP, lock=held,
                           note=f"holds the lock; created the tree of g{self._plan.generation}"
                                f" for {self._endpoints[self.endpoint]}")
        if ph is Phase.FLIP:
            plan = self._plan
            old = self._gen(self.active[0]) if self.active else None
            flipped = (f"flipped {self._endpoints[self.endpoint]} from g{old} to "
                       f"g{plan.generation}" if old is not None else
                       f"pointed {self._endpoints[self.endpoint]} at g{plan.generation}")
            if self.endpoint + 1 < len(self._endpoints):
                return evolve(self, phase=Phase.READ_ALIAS, endpoint=self.endpoint + 1,
                               lock=released, note=flipped)
            return evolve(self, phase=Phase.CLEANUP_LIST, lock=released,
                           last_done=plan.generation, failures=0,
                           note=f"{flipped}: g{plan.generation} applied to every endpoint")
        if ph is Phase.RELEASE:
            return evolve(self, phase=self.after_release, lock=released,
                           note="released the lock")
        # CLEANUP_DNS
        return evolve(self, phase=Phase.CLEANUP_STORE, lock=released,
                       note="clean-up deleted the trees of "
                       + ", ".join(f"g{g}" for g in self.doomed))

    def _refused(self, rcode: str) -> StateMachineEnactor:
        ph = self.phase
        if ph is Phase.RELEASE:
            # Someone took the lock from us: nothing to release.
            return evolve(self, phase=self.after_release, note=f"release refused ({rcode})")
        resume = {Phase.CREATE_TREES: Phase.CREATE_TREES, Phase.FLIP: Phase.READ_ALIAS,
                  Phase.CLEANUP_DNS: Phase.CLEANUP_DNS if self.policy.cleanup == "age"
                  else Phase.CLEANUP_READ_ACTIVE}[ph]
        return evolve(self, phase=Phase.LOCK_READ, resume=resume, retrying=True,
                       endpoint=0 if resume is Phase.CLEANUP_READ_ACTIVE else self.endpoint,
                       active=() if resume is Phase.CLEANUP_READ_ACTIVE else self.active,
                       note=f"UPDATE refused with {rcode}: re-reading the lock")

    def _refused_with_lock(self) -> StateMachineEnactor:
        """Rule 2: the UPDATE was refused though the lock is still ours."""
        failures = self.failures + 1
        if self.resume is Phase.CLEANUP_DNS or self.resume is Phase.CLEANUP_READ_ACTIVE:
            if failures >= self.settings.max_failures:
                return evolve(self, phase=Phase.RELEASE, after_release=Phase.FIND_PLAN,
                               retrying=False, failures=0, doomed=(),
                               note="clean-up keeps being refused: giving up on it")
            return evolve(self, phase=self.resume, retrying=False, failures=failures,
                           note="an alias moved under the clean-up: reading them again")
        if self.resume is Phase.READ_ALIAS:
            # A flip was refused. If the alias has not moved since we read it, the tree
            # prerequisite failed; `_read_alias` tells the two apart.
            return evolve(self, phase=Phase.READ_ALIAS, retrying=False, suspect=True,
                           note="the lock is still ours, so another prerequisite failed: "
                                "reading the alias again")
        return self._abandon(failures)

    def _abandon(self, failures: int) -> StateMachineEnactor:
        plan = self._plan
        if failures >= self.settings.max_failures:
            return evolve(self, phase=Phase.RELEASE, after_release=Phase.FIND_PLAN,
                           last_done=plan.generation, retrying=False, suspect=False,
                           failures=0,
                           note=f"cannot apply g{plan.generation}: the UPDATE is refused every "
                                "time though the lock is ours; abandoning the plan")
        return evolve(self, phase=self.resume, retrying=False, suspect=False,
                       failures=failures, note="trying again")
