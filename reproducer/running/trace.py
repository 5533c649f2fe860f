"""What a run leaves: one `Step` per scheduling decision, and the `RunResult`.

A step carries what happened as values (the action, the result, the rcode, the endpoints as a
client resolved them) beside its prose, so the story, the report and the narration read the
structure; the prose is built here once, by `describe_action` and `describe_result`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fake_dns import LookupResult
from reproducer.world.config import Config
from reproducer.world.invariants import Violation
from reproducer.world.values import (
    Action,
    DeletePlans,
    Done,
    EndpointState,
    ListPlans,
    PlanList,
    PlanRead,
    PublishPlan,
    Query,
    ReadNewestPlan,
    Result,
    SendUpdate,
    Sleep,
    UpdateOutcome,
)

__all__ = ["RunResult", "Step", "action_kind", "describe_action", "describe_result"]


def action_kind(action: Action) -> str:
    """query, update, store or sleep."""
    if isinstance(action, Query):
        return "query"
    if isinstance(action, SendUpdate):
        return "update"
    if isinstance(action, Sleep):
        return "sleep"
    return "store"


def describe_action(action: Action) -> str:
    match action:
        case Query(name=name, rtype=rtype, why=why):
            return f"query {name} {rtype}" + (f" ({why})" if why else "")
        case SendUpdate(why=why):
            return f"UPDATE {why}"
        case ReadNewestPlan(newer_than=n):
            return f"store: read the newest plan (newer than g{n})"
        case ListPlans():
            return "store: list the plans"
        case DeletePlans(generations=gens):
            return "store: delete " + ", ".join(f"g{g}" for g in gens)
        case PublishPlan(generation=gen):
            return f"store: write plan g{gen}"
        case Sleep(until_ms=until):
            return f"back off until t={until}ms"
    raise AssertionError(f"unknown action {action!r}")


def describe_result(result: Result) -> str:
    match result:
        case LookupResult():
            rdatas = [rr.rdata for rr in result.answer]
            return result.rcode.name + (" " + " ".join(rdatas) if rdatas else " (empty)")
        case UpdateOutcome(rcode=rcode):
            return rcode
        case PlanRead(plan=plan):
            return f"g{plan.generation}" if plan else "none (the planner has stopped)"
        case PlanList(generations=gens):
            return ", ".join(f"g{g}" for g in gens) or "none"
        case Done():
            return "ok"
    raise AssertionError(f"unknown result {result!r}")


@dataclass(frozen=True, slots=True)
class Step:
    """One scheduling decision and what followed. Identical across transports."""

    index: int
    worker: str
    action: str
    outcome: str
    note: str
    clock_ms: int
    endpoints: tuple[EndpointState, ...]
    violations: tuple[Violation, ...] = ()
    # The step as values: what the worker asked for and what the world answered. Not part of
    # equality: the prose above already says the same, whichever transport answered.
    taken: Action | None = field(default=None, compare=False)
    answer: Result | None = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        """What kind of action: query, update, store or sleep ("" for a step built by hand)."""
        return action_kind(self.taken) if self.taken is not None else ""

    @property
    def rcode(self) -> str | None:
        """The DNS rcode of a query or an UPDATE, by name; None for other steps."""
        match self.answer:
            case LookupResult(rcode=rcode):
                return rcode.name
            case UpdateOutcome(rcode=rcode):
                return rcode
        return None

    @property
    def committed(self) -> bool:
        """An UPDATE the zone accepted."""
        return self.kind == "update" and self.rcode == "NOERROR"

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "worker": self.worker, "kind": self.kind,
                "rcode": self.rcode, "action": self.action,
                "outcome": self.outcome, "note": self.note, "clock_ms": self.clock_ms,
                "endpoints": [asdict(e) for e in self.endpoints],
                "violations": [asdict(v) for v in self.violations]}



@dataclass(frozen=True, slots=True)
class RunResult:
    config: Config
    choices: tuple[int, ...]
    steps: tuple[Step, ...]
    violations: tuple[Violation, ...]
    completed: bool  # every worker finished (as opposed to: stopped at a violation or the bound)

    @property
    def violation(self) -> Violation | None:
        return self.violations[0] if self.violations else None

    @property
    def length(self) -> int:
        return len(self.steps)
