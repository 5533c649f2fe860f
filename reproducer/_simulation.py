"""The synchronous in-process runtime: the world stepped over the zone engine, no asyncio.

This is what exploration uses (Hypothesis, random, PCT, breadth-first search): a `Simulation` is
copyable (`clone`) and fingerprintable (`fingerprint`), and it follows exactly the rules of
`_runtime.py` (one mover, choice 0 unsurprising, virtual time, observation after each step), so
its traces equal those of `run_async` for the same choices (a differential test checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from fake_dns import Zone, ZoneStore
from reproducer._model import (
    Action,
    Done,
    EndpointState,
    Query,
    Result,
    SendUpdate,
    Sleep,
    UpdateOutcome,
)
from reproducer._runtime import (
    ChoiceSource,
    RunResult,
    _is_ready,
    _order_ready,
    _perform_store,
    describe_action,
    describe_result,
)
from reproducer._world import Config, InvariantChecker, Step, Violation, Worker, observe_endpoint

__all__ = ["Simulation", "run_memory"]


def _copy_zone(zone: Zone) -> Zone:
    clone = Zone.__new__(Zone)
    clone.origin = zone.origin
    clone.nodes = {name: dict(node) for name, node in zone.nodes.items()}
    return clone


class Simulation:
    """The world stepped synchronously over the in-process zone engine. Copyable (`clone`) and
    fingerprintable (`fingerprint`) for the exhaustive search."""

    def __init__(self, config: Config, *, stop_at_violation: bool = True) -> None:
        self.config = config
        self.layout = config.layout
        self.stop_at_violation = stop_at_violation
        self.dns = config.initial_dns()
        self.store = config.initial_store()
        self.clock_ms = 0
        self.workers: list[Worker] = config.initial_workers()
        self.names = [w.name for w in self.workers]
        self.pending: list[Action | None] = [w.next_action(0) for w in self.workers]
        self.parked_at = list(range(len(self.workers)))
        self.sequence = len(self.workers)
        self.current: int | None = None
        self.checker = InvariantChecker(self.layout, config.newest_generation,
                                        watched=frozenset(config.invariants))
        self.steps: list[Step] = []
        self.violations: list[Violation] = []
        self.choices: list[int] = []
        self.checker.after_step(0, self.observe())  # record the starting generations

    def clone(self) -> Simulation:
        other = Simulation.__new__(Simulation)
        other.config = self.config
        other.layout = self.layout
        other.stop_at_violation = self.stop_at_violation
        other.dns = ZoneStore([_copy_zone(z) for z in self.dns.zones.values()])
        other.store = self.store
        other.clock_ms = self.clock_ms
        other.workers = list(self.workers)
        other.names = self.names
        other.pending = list(self.pending)
        other.parked_at = list(self.parked_at)
        other.sequence = self.sequence
        other.current = self.current
        other.checker = InvariantChecker(self.layout, self.checker.newest_generation,
                                         dict(self.checker.highest), self.checker.watched)
        other.steps = list(self.steps)
        other.violations = list(self.violations)
        other.choices = list(self.choices)
        return other

    def fingerprint(self) -> Hashable:
        """Everything that decides the future: zone content (not the serial), store, clock,
        worker states, the order of parking, who moved last, the generations seen."""
        zone = self.dns.zones[self.layout.zone]
        content = frozenset(
            (name, rtype, rrset) for name, node in zone.nodes.items()
            for rtype, rrset in node.items() if rtype != "SOA")
        order = tuple(sorted(range(len(self.workers)), key=lambda w: self.parked_at[w]))
        return (content, self.store, self.clock_ms, tuple(self.workers), order, self.current,
                tuple(sorted(self.checker.highest.items())))

    @property
    def finished(self) -> bool:
        return all(p is None for p in self.pending)

    @property
    def stopped(self) -> bool:
        return (self.finished or len(self.steps) >= self.config.max_steps
                or (self.stop_at_violation and bool(self.violations)))

    def ready(self) -> list[int]:
        ready = [w for w, a in enumerate(self.pending) if _is_ready(a, self.store)]
        return _order_ready(ready, self.current, self.parked_at)

    def observe(self) -> tuple[EndpointState, ...]:
        lay = self.layout
        return tuple(observe_endpoint(lay, ep, self.dns.lookup(lay.endpoint_name(ep), "A"))
                     for ep in lay.endpoints)

    def _perform(self, worker: int, action: Action) -> Result:
        match action:
            case Query(name=name, rtype=rtype):
                return self.dns.lookup(name, rtype)
            case SendUpdate(update=update):
                return UpdateOutcome(self.dns.apply(update, self.names[worker] + ".").rcode.name)
            case Sleep(until_ms=until):
                self.clock_ms = max(self.clock_ms, until)
                return Done()
        result, self.store = _perform_store(action, self.store, self.config)
        return result

    def step(self, worker: int) -> Step:
        action = self.pending[worker]
        assert action is not None and _is_ready(action, self.store), "worker is not ready"
        result = self._perform(worker, action)
        moved = self.workers[worker].receive(result, self.clock_ms)
        self.workers[worker] = moved
        self.pending[worker] = moved.next_action(self.clock_ms)
        self.parked_at[worker] = self.sequence
        self.sequence += 1
        self.current = worker
        index = len(self.steps) + 1
        states = self.observe()
        violations = self.checker.after_step(index, states)
        if self.finished:
            violations += self.checker.at_end(index, states)
        step = Step(index, self.names[worker], describe_action(action), describe_result(result),
                    moved.note, self.clock_ms, states, violations)
        self.steps.append(step)
        self.violations.extend(violations)
        return step

    def run(self, source: ChoiceSource, on_step: Callable[[Step], None] | None = None
            ) -> RunResult:
        while not self.stopped:
            ready = self.ready()
            if not ready:
                break
            if len(ready) > 1:
                choice = source.choose([self.names[w] for w in ready])
                self.choices.append(choice)
            else:
                choice = 0
            step = self.step(ready[choice])
            if on_step:
                on_step(step)
        return self.result()

    def result(self) -> RunResult:
        return RunResult(self.config, tuple(self.choices), tuple(self.steps),
                         tuple(self.violations), self.finished)


def run_memory(config: Config, source: ChoiceSource, *, stop_at_violation: bool = True,
               on_step: Callable[[Step], None] | None = None) -> RunResult:
    """One run over the in-process engine, synchronously."""
    return Simulation(config, stop_at_violation=stop_at_violation).run(source, on_step)


