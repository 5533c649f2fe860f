"""The world a run starts from, the invariants it is judged by, and the trace it leaves.

Invariants (issue "The race itself"), checked after every step from what a client sees — the
answer to an A query for each endpoint, over the run's transport:
  1. every endpoint resolves to at least one address;
  2. an endpoint's active generation never goes backwards;
  3. the tree an alias points at is never deleted (the alias answers, its tree has no address);
  4. once the planner has stopped and the enactors have finished, every endpoint is on the
     newest plan (this is what catches the stuck state of outage.md step 6).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from fake_dns import RR, LookupResult, Zone, ZoneStore
from reproducer._enactor import VARIANTS, EnactorSettings, StateMachineEnactor, Variant
from reproducer._health import ScriptedHealth
from reproducer._model import (
    ALIAS_TTL_S,
    DEFAULT_ZONE,
    ENDPOINT_LABELS,
    Action,
    EndpointState,
    Layout,
    LockValue,
    Plan,
    PlanStore,
    Result,
)
from reproducer._planner import Planner, make_plan

__all__ = ["INVARIANTS", "Config", "ConfigError", "Step", "Violation", "Worker"]

INVARIANTS: dict[int, str] = {
    1: "every endpoint resolves to at least one address",
    2: "an endpoint's active generation never goes backwards",
    3: "the tree an alias points at is never deleted",
    4: "once the planner has stopped, the enactors reach the newest plan",
}


class ConfigError(ValueError):
    """A configuration that cannot describe a run; the message says which value and why."""


class Worker(Protocol):
    """What the runtime needs of a planner or an enactor (a frozen state machine)."""

    @property
    def name(self) -> str: ...

    @property
    def note(self) -> str: ...

    def next_action(self, now_ms: int) -> Action | None: ...

    def receive(self, result: Result, now_ms: int) -> Worker: ...


@dataclass(frozen=True, slots=True)
class Config:
    """Everything that defines a world, apart from the schedule."""

    variant: str = "aws-2025"
    enactors: int = 3
    endpoints: int = 1
    keep_generations: int = 1
    plans: int = 3  # generations the Planner writes after the initial plan g1
    max_steps: int = 300
    enactor: str | None = None  # "package.module:Name" of a user enactor class
    invariants: tuple[int, ...] = (1, 2, 3, 4)  # the ones that count as violations

    def __post_init__(self) -> None:
        if self.enactor is None and self.variant not in VARIANTS:
            raise ConfigError(f"unknown variant {self.variant!r}: choose one of "
                              f"{', '.join(VARIANTS)} (see `reproducer variants`)")
        if not 1 <= self.enactors <= 9:
            raise ConfigError(f"--enactors {self.enactors}: need between 1 and 9 enactors")
        if not 1 <= self.endpoints <= len(ENDPOINT_LABELS):
            raise ConfigError(f"--endpoints {self.endpoints}: need between 1 and "
                              f"{len(ENDPOINT_LABELS)} endpoints")
        if not 0 <= self.keep_generations <= 50:
            raise ConfigError(f"--keep-generations {self.keep_generations}: need 0..50")
        if not 1 <= self.plans <= 50:
            raise ConfigError(f"--plans {self.plans}: the planner must write 1..50 generations")
        if isinstance(self.invariants, list):
            object.__setattr__(self, "invariants", tuple(self.invariants))
        if not self.invariants or not set(self.invariants) <= set(INVARIANTS):
            raise ConfigError(f"--invariants {self.invariants}: choose among "
                              f"{sorted(INVARIANTS)}")
        if not 1 <= self.max_steps <= 100_000:
            raise ConfigError(f"max_steps {self.max_steps}: need 1..100000")

    @property
    def label(self) -> str:
        """What to call the enactors in messages: the variant, or the user's enactor class."""
        return self.enactor if self.enactor else self.variant

    @property
    def layout(self) -> Layout:
        return Layout(DEFAULT_ZONE, ENDPOINT_LABELS[: self.endpoints])

    @property
    def variant_info(self) -> Variant:
        return VARIANTS[self.variant]

    @property
    def newest_generation(self) -> int:
        return 1 + self.plans

    @property
    def worker_names(self) -> tuple[str, ...]:
        return ("planner", *(f"enactor-{i}" for i in range(1, self.enactors + 1)))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Config:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown configuration keys {sorted(unknown)}; "
                              f"known keys are {sorted(known)}")
        return cls(**data)

    def initial_workers(self) -> list[Worker]:
        workers: list[Worker] = [Planner("planner", 2, self.newest_generation)]
        settings = EnactorSettings(keep_generations=self.keep_generations)
        factory = load_enactor_class(self.enactor) if self.enactor else None
        for name in self.worker_names[1:]:
            if factory is not None:
                workers.append(factory.create(name, self.layout, self.variant_info_or_none,
                                              settings))
            else:
                workers.append(StateMachineEnactor.create(name, self.layout, self.variant_info,
                                                          settings))
        return workers

    @property
    def variant_info_or_none(self) -> Variant | None:
        return VARIANTS.get(self.variant)

    def health(self) -> ScriptedHealth:
        return ScriptedHealth()

    def plan(self, generation: int) -> Plan:
        return make_plan(generation, self.health().at(generation), self.layout.endpoints)

    def initial_records(self) -> list[RR]:
        """Plan g1 applied: every endpoint's tree, its alias, and a free lock."""
        lay = self.layout
        plan = self.plan(1)
        records = [RR(lay.lock_name, "TXT", 0, LockValue.free().txt)]
        for ep in lay.endpoints:
            records.extend(lay.tree_records(plan, ep))
            records.append(RR(lay.endpoint_name(ep), "CNAME", ALIAS_TTL_S,
                              lay.tree_name(ep, 1)))
        return records

    def initial_zone(self) -> Zone:
        zone = Zone.empty(self.layout.zone)
        return Zone(zone.origin, zone.soa, [*zone.records()[1:], *self.initial_records()])

    def initial_dns(self) -> ZoneStore:
        return ZoneStore([self.initial_zone()])

    def initial_store(self) -> PlanStore:
        return PlanStore((self.plan(1),))


def load_enactor_class(spec: str) -> Any:
    """Import "package.module:Name"; the class must have `create(name, layout, variant,
    settings)` returning a Worker. Errors say what was wrong and how to fix it."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"--enactor {spec!r}: expected the form package.module:ClassName")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--enactor {spec!r}: cannot import {module_name!r} ({exc}); is it "
                          "on PYTHONPATH?") from None
    cls = getattr(module, attr, None)
    if cls is None or not callable(getattr(cls, "create", None)):
        raise ConfigError(f"--enactor {spec!r}: {module_name} has no class {attr!r} with a "
                          "create(name, layout, variant, settings) classmethod")
    return cls


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: int
    step: int
    endpoint: str | None
    detail: str

    @property
    def title(self) -> str:
        return INVARIANTS[self.invariant]

    def describe(self) -> str:
        where = f" on {self.endpoint}" if self.endpoint else ""
        return (f"invariant {self.invariant} broken at step {self.step}{where}: "
                f"{self.title} — {self.detail}")


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

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "worker": self.worker, "action": self.action,
                "outcome": self.outcome, "note": self.note, "clock_ms": self.clock_ms,
                "endpoints": [asdict(e) for e in self.endpoints],
                "violations": [asdict(v) for v in self.violations]}


def observe_endpoint(layout: Layout, endpoint: str, answer: LookupResult) -> EndpointState:
    alias = None
    for rr in answer.answer:
        if rr.rtype == "CNAME":
            alias = rr.rdata
            break
    return EndpointState(endpoint, answer.rcode.name, alias, layout.generation_of_tree(alias),
                         answer.addresses)


@dataclass(slots=True)
class InvariantChecker:
    """Invariants 1–3 after every step, 4 at the end. Keeps the highest generation seen."""

    layout: Layout
    newest_generation: int
    highest: dict[str, int] = field(default_factory=dict)
    watched: frozenset[int] = frozenset(INVARIANTS)
    # (invariant, endpoint) pairs broken now: a violation is reported when it starts, not
    # again on every step it lasts (what a run that keeps going after it needs).
    broken: set[tuple[int, str | None]] = field(default_factory=set)

    def after_step(self, step: int, states: tuple[EndpointState, ...]) -> tuple[Violation, ...]:
        found: list[Violation] = []
        for st in states:
            if st.rcode != "NOERROR" or not st.addresses:
                how = (f"answered {st.rcode}" if st.rcode != "NOERROR" else
                       "answered NOERROR with no address" + (
                           f" (alias -> {st.alias_target})" if st.alias_target else ""))
                found.append(Violation(1, step, st.endpoint, how))
            best = self.highest.get(st.endpoint, 0)
            if st.generation is not None:
                if st.generation < best:
                    found.append(Violation(2, step, st.endpoint,
                                           f"active generation went from g{best} back to "
                                           f"g{st.generation}"))
                self.highest[st.endpoint] = max(best, st.generation)
            if st.alias_target is not None and not st.addresses and st.rcode == "NOERROR":
                found.append(Violation(3, step, st.endpoint,
                                       f"the alias points at {st.alias_target}, whose records "
                                       "were deleted"))
        now = {(v.invariant, v.endpoint) for v in found}
        new = [v for v in found if v.invariant in self.watched
               and (v.invariant, v.endpoint) not in self.broken]
        self.broken = now
        return tuple(sorted(new, key=lambda v: v.invariant))

    def at_end(self, step: int, states: tuple[EndpointState, ...]) -> tuple[Violation, ...]:
        if 4 not in self.watched:
            return ()
        return tuple(
            Violation(4, step, st.endpoint,
                      f"the enactors finished with {st.endpoint} on "
                      f"{'g' + str(st.generation) if st.generation else 'no plan'}, "
                      f"not the newest plan g{self.newest_generation}: stuck")
            for st in states if st.generation != self.newest_generation)
