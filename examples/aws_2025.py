"""The DNS Enactor of the October 2025 outage, as ordinary asyncio code.

Read it next to the AWS post-event summary (aws.amazon.com/message/101925) and the DynamoDB
talk at re:Invent 2025 (DAT453). Every `await h.…` is one scheduling point: under the
scheduler, the race can happen between any two of them.

    .venv/bin/reproducer explore --strategy bfs --enactor examples.aws_2025:enactor --enactors 2
    .venv/bin/reproducer run --enactor examples.aws_2025:enactor

This is a port of the `aws-2025` variant's state machine (reproducer/world/enactor.py): it takes
the same steps, so breadth-first search finds a story of the same length. `examples.cas_flip`
is the fix, by changing two things in `apply_plan`.
"""

from __future__ import annotations

from fake_dns import Change, ChangeKind, LookupResult, PrereqKind, Prerequisite, Update
from reproducer import Handle, LockValue, Plan

ALIAS_TTL_S = 3


def cname(answer: LookupResult) -> str | None:
    """The alias target in an answer, if any."""
    return next((rr.rdata for rr in answer.answer if rr.rtype == "CNAME"), None)


class Lock:
    """The TXT lock record as this enactor believes it to be. The talk: every change batch
    deletes the lock exactly as the enactor believes it to be and re-creates it with a fresh
    timestamp, so a batch aborts atomically when someone else holds the lock."""

    def __init__(self, h: Handle) -> None:
        self.h = h
        self.believed: LockValue | None = LockValue.free()
        self.writes = 0

    def _prerequisite(self) -> Prerequisite:
        name = self.h.layout.lock_name
        if self.believed is None:
            return Prerequisite(PrereqKind.RRSET_DOES_NOT_EXIST, name, "TXT")
        return Prerequisite(PrereqKind.RRSET_EXISTS_VALUE, name, "TXT",
                            frozenset((self.believed.txt,)))

    async def batch(self, *parts: list[Prerequisite] | list[Change], release: bool,
                    why: str) -> bool:
        """One all-or-nothing UPDATE under the lock; True when it committed."""
        h = self.h
        self.writes += 1
        stamp = f"{h.name}.{self.writes}"  # a fresh value every write: no ABA
        new = (LockValue.free(stamp) if release
               else LockValue(h.name, h.now_ms + h.settings.lease_ms, stamp))
        name = h.layout.lock_name
        prerequisites = [p for part in parts for p in part if isinstance(p, Prerequisite)]
        changes = [c for part in parts for c in part if isinstance(c, Change)]
        update = Update(h.layout.zone, (self._prerequisite(), *prerequisites),
                        (Change(ChangeKind.DELETE_RRSET, name, "TXT"),
                         Change(ChangeKind.ADD, name, "TXT", 0, new.txt), *changes))
        if await h.update(update, why) == "NOERROR":
            self.believed = new
            return True
        return False

    async def _read(self) -> LockValue | None:
        answer = await self.h.query(self.h.layout.lock_name, "TXT", "read the lock")
        txt = next((rr.rdata for rr in answer.answer if rr.rtype == "TXT"), None)
        return LockValue.parse(txt) if txt is not None else None

    async def take(self, *, first: LockValue | None = None, read: bool = True) -> None:
        """Wait until the lock is free, ours, or expired. The talk: the slow enactor lost the
        lock several times in a row and backed off further each time."""
        h = self.h
        backoff = 0
        seen = await self._read() if read else first
        while not (seen is None or seen.takeable_by(h.name, h.now_ms)):
            h.note(f"lost the lock to {seen.holder}: backing off (attempt {backoff + 1})")
            await h.sleep(min(h.settings.backoff_base_ms << backoff, h.settings.backoff_max_ms))
            backoff += 1
            seen = await self._read()
        self.believed = seen

    async def still_ours(self) -> bool:
        """After a refused batch: True if the lock is still what we wrote (so something else
        refused it); otherwise wait until we can take it again and say False."""
        seen = await self._read()
        if seen == self.believed:
            return True
        await self.take(first=seen, read=False)
        return False


async def apply_plan(h: Handle, plan: Plan, lock: Lock, *, recheck: bool, cas: bool) -> bool:
    """Create the plan's tree and flip each endpoint's alias to it, pointing the rollback
    record at the tree that was active. False when the plan was abandoned."""
    lay = h.layout
    failures = 0
    for ep in lay.endpoints:
        alias = lay.endpoint_name(ep)
        suspect = False  # our flip was refused though the lock is still ours
        old: str | None = None
        while True:
            active = cname(await h.query(alias, "CNAME", f"read the active tree of {ep}"))
            now_on = lay.generation_of_tree(active)
            if suspect and active == old:
                failures += 1  # the flip itself is refused: its rollback target is gone
                if failures >= h.settings.max_failures:
                    return await abandon(h, plan, lock)
            elif recheck and now_on is not None and now_on >= plan.generation:
                h.note(f"re-check: {ep} already has g{now_on}, skip it")
                if lock.believed is not None and lock.believed.holder == h.name:
                    await lock.batch(release=True, why="release the lock")
                break
            old = active
            if not suspect:
                h.note(f"{ep} is on g{now_on}; the rollback record will point there")
                await lock.take()
                adds = [Change(ChangeKind.ADD, rr.name, rr.rtype, rr.ttl, rr.rdata)
                        for rr in lay.tree_records(plan, ep)]
                while not await lock.batch(adds, release=False, why=(
                        f"take the lock, create the record tree of g{plan.generation} "
                        f"for {ep}")):
                    if await lock.still_ours():
                        failures += 1
                        if failures >= h.settings.max_failures:
                            return await abandon(h, plan, lock)
            if await lock.batch(*flip(h, ep, plan, old, cas=cas), release=True,
                                why=f"flip {ep} to g{plan.generation}, release the lock"):
                h.note(f"flipped {ep} to g{plan.generation}")
                break
            suspect = await lock.still_ours()  # if not, the lock moved: start over
    return True


def flip(h: Handle, ep: str, plan: Plan, old: str | None, *, cas: bool
         ) -> tuple[list[Prerequisite], list[Change]]:
    """The flip: alias -> our tree, rollback -> the tree that was active. The AWS summary: it
    requires the active plan to exist, so once that is deleted no enactor can apply a later
    plan."""
    lay = h.layout
    alias, tree = lay.endpoint_name(ep), lay.tree_name(ep, plan.generation)
    prerequisites: list[Prerequisite] = []
    changes = [Change(ChangeKind.DELETE_RRSET, alias, "CNAME"),
               Change(ChangeKind.ADD, alias, "CNAME", ALIAS_TTL_S, tree)]
    if old is not None:
        prerequisites.append(Prerequisite(PrereqKind.RRSET_EXISTS, old, "A"))
        rollback = lay.rollback_name(ep)
        changes += [Change(ChangeKind.DELETE_RRSET, rollback, "CNAME"),
                    Change(ChangeKind.ADD, rollback, "CNAME", ALIAS_TTL_S, old)]
    if cas:  # the fix: the freshness check and the write are one UPDATE (compare-and-set)
        prerequisites.append(
            Prerequisite(PrereqKind.RRSET_DOES_NOT_EXIST, alias, "CNAME") if old is None
            else Prerequisite(PrereqKind.RRSET_EXISTS_VALUE, alias, "CNAME", frozenset((old,))))
        prerequisites.append(Prerequisite(PrereqKind.RRSET_EXISTS, tree, "A"))
    return prerequisites, changes


async def abandon(h: Handle, plan: Plan, lock: Lock) -> bool:
    h.note(f"cannot apply g{plan.generation}: the UPDATE is refused every time though the "
           "lock is ours; abandoning the plan")
    await lock.batch(release=True, why="release the lock")
    return False


async def clean_up(h: Handle, applied: int, lock: Lock) -> None:
    """Delete the trees of plans "significantly older" than the one just applied (the AWS
    summary). By age only: nothing spares the tree an alias points at."""
    horizon = applied - h.settings.keep_generations
    doomed = [g for g in await h.list_plans() if g < horizon]
    if not doomed:
        return
    h.note("clean-up: plans older than g" + str(horizon) + " are "
           + ", ".join(f"g{g}" for g in doomed))
    await lock.take()
    failures = 0
    while not await lock.batch(
            [Change(ChangeKind.DELETE_RRSET, h.layout.tree_name(ep, g), "A")
             for g in doomed for ep in h.layout.endpoints],
            release=True, why="clean-up: delete the trees of "
                              + ", ".join(f"g{g}" for g in doomed) + ", release the lock"):
        if await lock.still_ours():
            failures += 1
            if failures >= h.settings.max_failures:
                await lock.batch(release=True, why="release the lock")
                return
    await h.delete_plans(doomed)


async def run_enactor(h: Handle, *, recheck: bool = False, cas: bool = False) -> None:
    lock = Lock(h)
    done = 0
    while (plan := await h.newest_plan(newer_than=done)) is not None:
        h.note(f"picked up plan g{plan.generation}")
        # The one-time check (the AWS summary: made once, long before the slow enactor wrote).
        regional = h.layout.endpoint_name(h.layout.endpoints[0])
        applied = h.layout.generation_of_tree(cname(await h.query(
            regional, "CNAME", f"one-time check: is g{plan.generation} newer than the "
                               "applied plan?"))) or 0
        if plan.generation <= applied:
            h.note(f"check failed: g{plan.generation} is not newer than g{applied}")
            done = plan.generation
            continue
        h.note(f"check passed: g{plan.generation} is newer than the applied g{applied}")
        applied_ok = await apply_plan(h, plan, lock, recheck=recheck, cas=cas)
        done = plan.generation
        if applied_ok:
            await clean_up(h, done, lock)


async def enactor(h: Handle) -> None:
    """aws-2025: one-time check, clean-up by age."""
    await run_enactor(h)
