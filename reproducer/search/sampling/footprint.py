"""What an action touches, for the samplers that reason about races (POS, SURW): the names it
reads and writes in the zone, the plan store, the clock. Two actions race when they touch a
common object and at least one writes it (Yuan, Yang, Gu, CAV 2018, "Partial order aware
concurrency sampling"). A runtime-independent shadow run tells a sampler what each worker is
parked on, from the `moved` callbacks every runtime makes (so it works over real UDP too)."""

from __future__ import annotations

from reproducer.running.simulation import universe_for
from reproducer.world.config import Config
from reproducer.world.values import (
    Action,
    DeletePlans,
    ListPlans,
    PublishPlan,
    Query,
    ReadNewestPlan,
    ReadPlans,
    Route53Call,
    SendUpdate,
    Sleep,
)

__all__ = ["Footprint", "Shadow", "footprint", "races"]

Footprint = tuple[frozenset[str], frozenset[str]]  # (reads, writes)
_STORE = "plan-store"
_CLOCK = "clock"
_NOTHING: Footprint = (frozenset(), frozenset())


def footprint(action: Action | None, lock_name: str) -> Footprint:
    """(objects read, objects written) by `action`; a lock read also reads the clock (expiry)."""
    match action:
        case Query(name=name):
            return (frozenset((name, _CLOCK)) if name == lock_name else frozenset((name,)),
                    frozenset())
        case SendUpdate(update=update):
            written = frozenset(c.name for c in update.changes)
            return frozenset(p.name for p in update.prerequisites) | written, written
        case Route53Call(request=request):
            return _route53(request.operation)
        case ReadNewestPlan() | ListPlans() | ReadPlans():
            return frozenset((_STORE,)), frozenset()
        case DeletePlans() | PublishPlan():
            return frozenset(), frozenset((_STORE,))
        case Sleep():
            return frozenset(), frozenset((_CLOCK,))
    return _NOTHING


def _route53(operation: object) -> Footprint:
    """A change batch reads and writes the names it changes (a DELETE compares values); a
    listing reads the name it starts from; the other calls touch nothing that changes."""
    batch = getattr(operation, "batch", None)
    if batch is not None:
        names = frozenset(_name(c.name) for c in batch.changes)
        return names, names
    start = getattr(operation, "start_name", None)
    return (frozenset((_name(start),)) if start else frozenset()), frozenset()


def _name(text: str) -> str:
    """A name as the zone writes it (lower case, absolute): what `Query` names carry."""
    text = text.lower()
    return text if text.endswith(".") else text + "."


def races(a: Footprint, b: Footprint) -> bool:
    """A common object, written by at least one of the two."""
    return bool(a[1] & (b[0] | b[1]) or b[1] & a[0])


class Shadow:
    """The run as the sampler sees it: stepped in memory from `moved(worker)` callbacks."""

    def __init__(self, config: Config) -> None:
        # the memos every in-memory run of this configuration shares: a shadow step is a few
        # dictionary look-ups
        self._universe = universe_for(config, "moves")
        self.state = self._universe.root
        self.names = list(config.worker_names)
        self.lock_name = config.layout.lock_name

    def moved(self, worker: str) -> None:
        self.state = self._universe.step(self.state, self.names.index(worker)).child

    def pending(self, worker: str) -> Footprint:
        return footprint(self.state.pending[self.names.index(worker)], self.lock_name)
