"""The DNS Planner: turns backend health into plan generations (the AWS post-event summary,
aws.amazon.com/message/101925: the DNS Planner and the DNS Enactors).

Like the enactors it is a frozen state machine with `next_action` / `receive`; its one kind of
step is `PublishPlan`, a plan-store write. The plan itself is computed by `make_plan`, a pure
function of the generation and the health snapshot the runtime reads for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reproducer.world.health import BackendHealth
from reproducer.world.values import Action, Plan, PublishPlan, Result, Target

__all__ = ["Planner", "make_plan"]


def make_plan(generation: int, health: tuple[BackendHealth, ...],
              endpoints: tuple[str, ...]) -> Plan:
    """Every endpoint gets every healthy backend, weighted by its capacity.

    A plan with no address would empty every endpoint by itself, so when nothing is healthy
    the Planner refuses to write one (ValueError) rather than publish an outage.
    """
    live = tuple(Target(h.address, max(1, h.capacity))
                 for h in sorted(health, key=lambda h: h.address) if h.healthy)
    if not live:
        raise ValueError(f"generation {generation}: no healthy backend among "
                         f"{[h.address for h in health]}; refusing to write an empty plan")
    return Plan(generation, tuple((ep, live) for ep in endpoints))


@dataclass(frozen=True, slots=True)
class Planner:
    """Writes generations `next_generation` .. `last_generation`, then stops (and seals)."""

    name: str = "planner"
    next_generation: int = 2
    last_generation: int = 4
    note: str = ""

    def next_action(self, now_ms: int) -> Action | None:
        if self.next_generation > self.last_generation:
            return None
        return PublishPlan(self.next_generation,
                           seal_after=self.next_generation == self.last_generation)

    def receive(self, result: Result, now_ms: int) -> Planner:
        gen = self.next_generation
        last = gen == self.last_generation
        return replace(self, next_generation=gen + 1,
                       note=f"wrote plan g{gen}" + (" and stopped" if last else ""))
