"""An enactor written outside the package, as a user would (docs/how-to/your-enactor.md).

    python -m reproducer run --enactor tests.helpers.example_enactor:OneShotEnactor

(from the project's root folder, which the command puts on the path)

It applies a plan in a single UPDATE per endpoint: the tree, the alias flip, and a
compare-and-set prerequisite that the alias is still the older tree it read. It never cleans up,
so it can never delete an active tree — and it never takes the lock either, which the invariants
do not require.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fake_dns import Change, ChangeKind, LookupResult, PrereqKind, Prerequisite, Update
from reproducer import (
    Action,
    Layout,
    Plan,
    PlanRead,
    Query,
    ReadNewestPlan,
    Result,
    SendUpdate,
    UpdateOutcome,
)


@dataclass(frozen=True, slots=True)
class OneShotEnactor:
    name: str
    layout: Layout = field(compare=False)
    plan: Plan | None = None
    last_done: int = 0
    endpoint: int = 0
    alias: str | None = None
    phase: str = "find"  # find -> read -> write -> (next endpoint | find); done
    note: str = ""

    @classmethod
    def create(cls, name: str, layout: Layout, variant: object, settings: object
               ) -> OneShotEnactor:
        return cls(name, layout)

    def next_action(self, now_ms: int) -> Action | None:
        lay = self.layout
        if self.phase == "done":
            return None
        if self.phase == "find":
            return ReadNewestPlan(self.last_done)
        ep = lay.endpoints[self.endpoint]
        alias = lay.endpoint_name(ep)
        if self.phase == "read":
            return Query(alias, "CNAME", f"read {ep}")
        assert self.plan is not None
        tree = lay.tree_name(ep, self.plan.generation)
        cas = (Prerequisite(PrereqKind.RRSET_DOES_NOT_EXIST, alias, "CNAME") if self.alias is None
               else Prerequisite(PrereqKind.RRSET_EXISTS_VALUE, alias, "CNAME",
                                 frozenset((self.alias,))))
        changes = [Change(ChangeKind.ADD, rr.name, rr.rtype, rr.ttl, rr.rdata)
                   for rr in lay.tree_records(self.plan, ep)]
        changes.append(Change(ChangeKind.ADD, alias, "CNAME", 3, tree))
        return SendUpdate(Update(lay.zone, (cas,), tuple(changes)),
                          f"tree and flip of {ep} to g{self.plan.generation} in one step")

    def receive(self, result: Result, now_ms: int) -> OneShotEnactor:
        if self.phase == "find":
            assert isinstance(result, PlanRead)
            if result.plan is None:
                return replace(self, phase="done", note="done")
            return replace(self, phase="read", plan=result.plan, endpoint=0,
                           note=f"picked up g{result.plan.generation}")
        assert self.plan is not None
        if self.phase == "read":
            assert isinstance(result, LookupResult)
            target = next((rr.rdata for rr in result.answer if rr.rtype == "CNAME"), None)
            gen = self.layout.generation_of_tree(target) or 0
            if gen >= self.plan.generation:
                return self._next(f"{target} is not older: skip")
            return replace(self, phase="write", alias=target, note="")
        assert isinstance(result, UpdateOutcome)
        if result.rcode != "NOERROR":
            return replace(self, phase="read", note="the alias moved: read it again")
        return self._next(f"flipped to g{self.plan.generation}")

    def _next(self, note: str) -> OneShotEnactor:
        assert self.plan is not None
        if self.endpoint + 1 < len(self.layout.endpoints):
            return replace(self, phase="read", endpoint=self.endpoint + 1, note=note)
        return replace(self, phase="find", last_done=self.plan.generation, note=note)
