"""The invariants a run is judged by, checked after every step from what a client sees — the
answer to an A query for each endpoint, over the run's transport:
  1. every endpoint resolves to at least one address;
  2. an endpoint's active generation never goes backwards;
  3. the tree an alias points at is never deleted (the alias answers, its tree has no address);
  4. once the planner has stopped and the enactors have finished, every endpoint is on the
     newest plan (this is what catches the stuck state the AWS summary describes: no enactor
     could apply any later plan).

A new invariant goes here: a number and a sentence in `INVARIANTS`, its check in
`InvariantChecker` (a pure function of the answers and what was seen before).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fake_dns import LookupResult
from reproducer.world.values import EndpointState, Layout

__all__ = ["INVARIANTS", "InvariantChecker", "Violation", "observe_endpoint"]

INVARIANTS: dict[int, str] = {
    1: "every endpoint resolves to at least one address",
    2: "an endpoint's active generation never goes backwards",
    3: "the tree an alias points at is never deleted",
    4: "once the planner has stopped, the enactors reach the newest plan",
}


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
                      f"the enactors finished with {st.endpoint} on {st.tree}, "
                      f"not the newest plan g{self.newest_generation}: stuck")
            for st in states if st.generation != self.newest_generation)
