"""The world's values: plans, the plan store, the DNS layout of a plan, and the actions workers
take with their results. All frozen, all hashable, no I/O.

The layout follows the DynamoDB team's talk at re:Invent 2025 (DAT453, how a plan is written
into DNS):

    dynamodb.us-east-1.amazonaws.com.                   CNAME g0004.dynamodb.plans.us-east-1...
    g0004.dynamodb.plans.us-east-1.amazonaws.com.       A 127.0.0.11 / A 127.0.0.12 / ...
                                                        TXT "plan=4 endpoint=dynamodb weights=..."
    dynamodb.rollback.us-east-1.amazonaws.com.          CNAME g0003.dynamodb.plans.us-east-1...
    _enactor-lock.us-east-1.amazonaws.com.              TXT "holder=enactor-2 expires_ms=5000
                                                             stamp=enactor-2.3"

- the stable name customers resolve is an alias (a CNAME) at the top, pointing at the active
  plan's tree; the tree's leaf records are one A record per load balancer (address; its weight is
  in the tree's TXT record, since plain DNS has no weighted A records);
- the same UPDATE that flips the alias points the rollback record at the previously active tree;
- a TXT lock record serialises the enactors: every change batch deletes it exactly as the
  enactor believes it to be (a value-dependent prerequisite, RFC 2136 §2.4.2 — plain DNS deletes
  of absent records are silently ignored, so the prerequisite is what makes the batch abort)
  and re-creates it with a fresh expiry.

Choice written down (where the public sources are silent): clean-up deletes a
tree's *leaf records* (its A RRset) and leaves the tree's TXT description in place. A resolver
following the alias into a cleaned tree therefore gets NOERROR with no address — exactly what
resolvers saw on 20 October ("NOERROR with an empty answer"). Deleting the whole name would have
made the answer NXDOMAIN (RFC 6604 §2.1), which is not what happened.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

from fake_dns import RR, LookupResult, Update

if TYPE_CHECKING:  # fake_dns.route53 brings in aiohttp: imported where a call is performed
    from fake_dns.route53 import Route53Request, Route53Response

__all__ = [
    "ACTION_TYPES",
    "Action",
    "DeletePlans",
    "Done",
    "EnactorError",
    "EndpointState",
    "IssuedChange",
    "Layout",
    "ListPlans",
    "LockValue",
    "Plan",
    "PlanList",
    "PlanRead",
    "PlanStore",
    "PlansRead",
    "PublishPlan",
    "Query",
    "ReadNewestPlan",
    "ReadPlans",
    "Result",
    "Route53Answer",
    "Route53Call",
    "SendUpdate",
    "Sleep",
    "Target",
    "UpdateOutcome",
    "action_kind",
    "describe_action",
    "describe_result",
    "evolve",
    "request_digest",
]

DEFAULT_ZONE = "us-east-1.amazonaws.com."
# The regional endpoint first: it is the one the outage emptied. The others stand for the many
# names sharing one regional plan (the AWS summary, aws.amazon.com/message/101925: FIPS, IPv6,
# account-specific).
ENDPOINT_LABELS = ("dynamodb", "dynamodb-fips", "dynamodb-ipv6", "ddb-account-000000000001",
                   "ddb-account-000000000002", "ddb-account-000000000003",
                   "ddb-account-000000000004", "ddb-account-000000000005")
TREE_TTL_S = 3
ALIAS_TTL_S = 3


@dataclass(frozen=True, slots=True)
class Target:
    """One load balancer in a plan: its address and its weight."""

    address: str
    weight: int


@dataclass(frozen=True, slots=True)
class Plan:
    """A generation of the DNS plan: for every endpoint, the targets with weights."""

    generation: int
    endpoints: tuple[tuple[str, tuple[Target, ...]], ...]

    def targets(self, endpoint: str) -> tuple[Target, ...]:
        for label, targets in self.endpoints:
            if label == endpoint:
                return targets
        raise KeyError(f"plan {self.generation} has no endpoint {endpoint!r}")

    def to_json(self) -> dict[str, object]:
        return {"generation": self.generation,
                "endpoints": {label: [{"address": t.address, "weight": t.weight} for t in ts]
                              for label, ts in self.endpoints}}


@dataclass(frozen=True, slots=True)
class PlanStore:
    """The plans by generation (AWS kept them as JSON documents in S3, per the talk).

    `sealed` is set when the Planner has stopped: a modelling device that lets enactors finish
    instead of polling forever. Real enactors never know; the invariants do not depend on it.
    """

    plans: tuple[Plan, ...] = ()
    sealed: bool = False

    @property
    def newest(self) -> Plan | None:
        return self.plans[-1] if self.plans else None

    @property
    def generations(self) -> tuple[int, ...]:
        return tuple(p.generation for p in self.plans)

    def newer_than(self, generation: int) -> Plan | None:
        newest = self.newest
        return newest if newest is not None and newest.generation > generation else None

    def put(self, plan: Plan) -> PlanStore:
        if self.plans and plan.generation <= self.plans[-1].generation:
            raise ValueError(f"plan generation {plan.generation} is not newer than "
                             f"{self.plans[-1].generation}: generations only increase")
        return PlanStore((*self.plans, plan), self.sealed)

    def delete(self, generations: tuple[int, ...]) -> PlanStore:
        doomed = set(generations)
        return PlanStore(tuple(p for p in self.plans if p.generation not in doomed), self.sealed)

    def seal(self) -> PlanStore:
        return PlanStore(self.plans, True)


@dataclass(frozen=True, slots=True)
class LockValue:
    """The TXT lock record's content: who holds it, until when (virtual milliseconds), and a
    stamp unique to each write ("enactor-2.7": its writer's seventh lock write).

    The stamp is the model of the talk's "re-creating it with a fresh timestamp": no two writes
    produce the same value, so an enactor that read the lock free, stalled, and then sends a
    batch expecting "free" fails if anyone took and released the lock meanwhile (no ABA).
    """

    holder: str
    expires_ms: int
    stamp: str = "initial"

    FREE_HOLDER = "none"

    @classmethod
    def free(cls, stamp: str = "initial") -> LockValue:
        return cls(cls.FREE_HOLDER, 0, stamp)

    @property
    def is_free(self) -> bool:
        return self.holder == self.FREE_HOLDER

    @property
    def txt(self) -> str:
        return f'"holder={self.holder} expires_ms={self.expires_ms} stamp={self.stamp}"'

    @classmethod
    def parse(cls, txt: str) -> LockValue | None:
        m = re.fullmatch(r'"holder=(\S+) expires_ms=(\d+) stamp=(\S+)"', txt)
        return cls(m.group(1), int(m.group(2)), m.group(3)) if m else None

    def takeable_by(self, who: str, now_ms: int) -> bool:
        return self.holder in (self.FREE_HOLDER, who) or self.expires_ms <= now_ms


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each part of the world lives in DNS."""

    zone: str = DEFAULT_ZONE
    endpoints: tuple[str, ...] = ENDPOINT_LABELS[:1]

    @property
    def lock_name(self) -> str:
        return f"_enactor-lock.{self.zone}"

    def endpoint_name(self, endpoint: str) -> str:
        return f"{endpoint}.{self.zone}"

    def rollback_name(self, endpoint: str) -> str:
        return f"{endpoint}.rollback.{self.zone}"

    def tree_name(self, endpoint: str, generation: int) -> str:
        return f"g{generation:04d}.{endpoint}.plans.{self.zone}"

    def generation_of_tree(self, tree: str | None) -> int | None:
        """g0007.dynamodb.plans.<zone> -> 7; None for anything else."""
        if tree is None:
            return None
        m = re.match(r"g(\d+)\.", tree)
        return int(m.group(1)) if m and tree.endswith(f".plans.{self.zone}") else None

    def tree_records(self, plan: Plan, endpoint: str) -> list[RR]:
        name = self.tree_name(endpoint, plan.generation)
        targets = plan.targets(endpoint)
        weights = ",".join(f"{t.address}:{t.weight}" for t in targets)
        records = [RR(name, "A", TREE_TTL_S, t.address) for t in targets]
        records.append(RR(name, "TXT", TREE_TTL_S,
                          f'"plan={plan.generation} endpoint={endpoint} weights={weights}"'))
        return records


@dataclass(frozen=True, slots=True)
class EndpointState:
    """An endpoint as a client sees it after a step: the answer to an A query."""

    endpoint: str
    rcode: str
    alias_target: str | None
    generation: int | None
    addresses: tuple[str, ...]

    @property
    def tree(self) -> str:
        """The plan the alias points at: "g4", or "no plan tree"."""
        return f"g{self.generation}" if self.generation is not None else "no plan tree"

    def describe(self) -> str:
        """"dynamodb -> g4 (3 addresses)", "dynamodb -> g2: NO ADDRESSES", "dynamodb: NXDOMAIN"."""
        if self.rcode != "NOERROR":
            return f"{self.endpoint}: {self.rcode}"
        count = len(self.addresses)
        if not count:
            return f"{self.endpoint} -> {self.tree}: NO ADDRESSES"
        return f"{self.endpoint} -> {self.tree} ({count} address{'es' if count != 1 else ''})"



# -- actions: what a worker asks the world to do at a scheduling point ------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """A DNS query (a real one over the real transport)."""

    name: str
    rtype: str
    why: str = ""


@dataclass(frozen=True, slots=True)
class SendUpdate:
    """An RFC 2136 UPDATE (TSIG-signed over the real transport)."""

    update: Update
    why: str = ""


@dataclass(frozen=True, slots=True)
class ReadNewestPlan:
    """Plan-store read: the newest plan newer than `newer_than`, once there is one (or the store
    is sealed). Until then the worker is not ready: it waits, as a watcher would."""

    newer_than: int


@dataclass(frozen=True, slots=True)
class ListPlans:
    """Plan-store read: the generations present."""


@dataclass(frozen=True, slots=True)
class DeletePlans:
    """Plan-store delete of the given generations."""

    generations: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PublishPlan:
    """The Planner writes generation `generation` from the health it reads now."""

    generation: int
    seal_after: bool


@dataclass(frozen=True, slots=True)
class Sleep:
    """Back off until virtual time `until_ms` (the scheduler owns the clock)."""

    until_ms: int


@dataclass(frozen=True, slots=True)
class ReadPlans:
    """Plan-store read: every plan, in full (a program's `GET /plans`)."""


@dataclass(frozen=True, slots=True)
class IssuedChange:
    """A change batch the Route 53 API accepted for a worker: its id, when (virtual ms) and
    its comment. A `GetChange` for it is answered from this, the worker's own history."""

    change_id: str
    submitted_ms: int
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Route53Call:
    """A call to the Route 53 API (`fake_dns.route53.Route53Request`, parsed, not yet applied)
    made by `principal`. `sequence` counts the calls its sender made before, so that a change
    batch it makes gets an id of its own in every run; `change` is, for a `GetChange`, the
    change the sender was given under that id (None: it was given no such change)."""

    request: Route53Request
    principal: str
    sequence: int = 0
    change: IssuedChange | None = None


Action = (Query | SendUpdate | ReadNewestPlan | ListPlans | DeletePlans | PublishPlan | Sleep
          | ReadPlans | Route53Call)


# -- results: what the world answers ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    """The rcode of an UPDATE, by name ('NOERROR', 'NXRRSET', ...): all the wire tells."""

    rcode: str


@dataclass(frozen=True, slots=True)
class PlanRead:
    plan: Plan | None


@dataclass(frozen=True, slots=True)
class PlanList:
    generations: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Done:
    """A step with nothing to report (a sleep, a store delete, a publish)."""


@dataclass(frozen=True, slots=True)
class PlansRead:
    plans: tuple[Plan, ...]


@dataclass(frozen=True, slots=True)
class Route53Answer:
    """What the Route 53 API answered (status, headers, XML body)."""

    response: Route53Response

    @property
    def committed(self) -> bool:
        """A change batch was accepted (and is in the zone)."""
        return self.response.change_id is not None


Result = LookupResult | UpdateOutcome | PlanRead | PlanList | Done | PlansRead | Route53Answer

# -- the one formatter of each action and answer (the prose of a trace) ---------------------


def action_kind(action: Action) -> str:
    """query, update, store or sleep (a Route 53 call is an update when it may write)."""
    if isinstance(action, Query):
        return "query"
    if isinstance(action, SendUpdate):
        return "update"
    if isinstance(action, Sleep):
        return "sleep"
    if isinstance(action, Route53Call):
        return "update" if action.request.writes else "query"
    return "store"


def describe_action(action: Action) -> str:
    match action:
        case Query(name=name, rtype=rtype, why=why):
            return f"query {name} {rtype}" + (f" ({why})" if why else "")
        case SendUpdate(update=update, why=why):
            return f"UPDATE {why or update.describe()}"
        case Route53Call(request=request):
            return f"Route 53: {request.describe()}"
        case ReadPlans():
            return "store: read every plan"
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
        case PlansRead(plans=plans):
            return ", ".join(f"g{p.generation}" for p in plans) or "none"
        case Route53Answer(response=response):
            return response.describe()
    raise AssertionError(f"unknown result {result!r}")


def request_digest(action: Action) -> str:
    """A canonical digest of the request an action stands for (16 hex digits), the same
    whatever the message id, the TSIG time or the signature: a DNS query's question, an
    UPDATE's zone, prerequisites and changes, a Route 53 call's method, path and body
    (`Route53Request.digest`), a plan-store call's method and path."""
    match action:
        case Query(name=name, rtype=rtype):
            text = f"QUERY {name.lower()} {rtype.upper()}"
        case SendUpdate(update=update):
            text = f"UPDATE {update.describe()}"
        case Route53Call(request=request):
            return request.digest()[:16]
        case ReadNewestPlan(newer_than=n):
            text = f"GET /plans/newest?newer_than={n}"
        case ReadPlans():
            text = "GET /plans"
        case DeletePlans(generations=gens):
            text = " ".join(f"DELETE /plans/{g}" for g in gens)
        case _:
            text = describe_action(action)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


ACTION_TYPES = (Query, SendUpdate, ReadNewestPlan, ListPlans, DeletePlans, PublishPlan, Sleep,
                ReadPlans, Route53Call)


class EnactorError(TypeError):
    """A worker's code broke the contract or failed: `next_action` returned something that is
    not an action, an async enactor raised or awaited something outside its handle. The
    message names the worker and what happened; the runners add the step (`step`)."""

    step: int | None = None

    def at_step(self, step: int) -> EnactorError:
        if self.step is None:
            self.step = step
            self.args = (f"step {step}: {self.args[0]}", *self.args[1:])
        return self


_E = TypeVar("_E")
_FIELDS: dict[type, tuple[str, ...]] = {}


def evolve(obj: _E, **changes: Any) -> _E:
    """`dataclasses.replace` for these frozen, slotted state machines without a
    `__post_init__`, and cheaper (docs/benchmarks.md): an exploration calls it twice per step."""
    cls = type(obj)
    if hasattr(cls, "__post_init__"):
        return replace(obj, **changes)  # type: ignore[type-var]
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(obj))  # type: ignore[arg-type]
    new = object.__new__(cls)
    set_ = object.__setattr__
    for name in names:
        set_(new, name, changes[name] if name in changes else getattr(obj, name))
    return new
