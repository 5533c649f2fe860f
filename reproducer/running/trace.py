"""What a run leaves: one `Step` per scheduling decision, and the `RunResult`.

A step carries what happened as values (the action, the result, the rcode, the endpoints as a
client resolved them) beside its prose, so the story, the report and the narration read the
structure; the prose comes from the values' one formatter (`describe_action`,
`describe_result` in `reproducer.world.values`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fake_dns import LookupResult
from reproducer.world.config import Config
from reproducer.world.invariants import Violation
from reproducer.world.values import (
    Action,
    EndpointState,
    Result,
    Route53Answer,
    UpdateOutcome,
    action_kind,
    describe_action,
    describe_result,
)

__all__ = ["RunResult", "Step", "action_kind", "describe_action", "describe_result"]


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
            case Route53Answer(response=response):  # the API's error code, as an rcode
                return "NOERROR" if response.error is None else response.error.code
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
