"""The synchronous in-process runtime: the world stepped over the zone engine, no asyncio.

This is what exploration uses (Hypothesis, random, PCT, breadth-first search): a `Simulation` is
copyable (`clone`) and fingerprintable (`fingerprint`), and it follows exactly the rules of
`_runtime.py` (one mover, choice 0 unsurprising, virtual time, observation after each step), so
its traces equal those of `run_async` for the same choices (a differential test checks it).

Theory of operation (why it is fast)
------------------------------------
- Rule 1: the world is a chain of immutable `_State` values (zone content, plan store, clock,
  worker states, the action each worker is parked on, the parking order, who moved last, the
  highest generation seen and the invariants broken now). A step computes the next `_State`
  and never changes the old one; the zone is copied on write, only when an UPDATE commits.
- Rule 2 (hash-consing): every part of a state is a pure value, and every step is a pure
  function of those values: a zone lookup of (zone content, question), an UPDATE of (zone
  content, update), a store call of (store, action), a worker's move of (worker state, answer,
  clock). With `cache="moves"` (the default) each part is interned — equal values are one
  object — and each of those functions is remembered by the identity of its arguments, per
  `Config` and across runs. A step already taken once by any run is then a few dictionary
  lookups, and whole states compare by the identity of their parts (`_State.key`), which is
  what the exhaustive search de-duplicates on. The memos are bounded (`CACHE_ENTRIES`) and
  dropped together when full. Worker states must be hashable values for this; if they are
  not, the memos switch themselves off for that configuration (`cache="none"` does so too).
- Rule 3: endpoints are re-resolved only after an UPDATE that changed the zone (nothing else can
  change an answer), and the invariants are re-checked only when an answer changed (the
  checker reports a violation when it starts: the same answers break nothing new).
- Rule 4: a `Step` (the narrated trace line) is built only when someone asks for it (`steps`,
  `step()`'s return value, `result()`, `on_step`). `advance()` runs without building any.

What a state's identity leaves out, on purpose: the SOA serial (it counts commits, and nothing
a worker or the observer reads depends on it: answers are judged by their answer section) and
the raw parking counters (only their order decides the ready order, Rule 2 of `_runtime.py`).
What it keeps that is easy to miss: the action each worker is parked on (a back-off sleep's
wake-up time was computed when the worker parked, not from the clock now).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal

from fake_dns import Zone, ZoneStore
from reproducer._model import (
    Action,
    Done,
    EndpointState,
    PlanStore,
    Query,
    ReadNewestPlan,
    Result,
    SendUpdate,
    Sleep,
    UpdateOutcome,
)
from reproducer._runtime import (
    ChoiceSource,
    RunResult,
    _perform_store,
    describe_action,
    describe_result,
)
from reproducer._world import Config, InvariantChecker, Step, Violation, Worker, observe_endpoint

__all__ = ["CACHE_ENTRIES", "CACHE_MODES", "Cache", "Simulation", "clear_cache", "run_memory"]

log = logging.getLogger("reproducer.simulation")

Cache = Literal["none", "moves"]
CACHE_MODES: tuple[Cache, ...] = ("none", "moves")
CACHE_ENTRIES = 1_500_000
"""Interned values plus remembered steps per configuration before the memos are dropped."""


def _copy_zone(zone: Zone, names: set[str]) -> Zone:
    """A new Zone sharing every node dict except those of `names`, which are copied (the engine
    mutates node dicts in place)."""
    clone = Zone.__new__(Zone)
    clone.origin = zone.origin
    nodes = dict(zone.nodes)
    for name in names:
        node = nodes.get(name)
        if node is not None:
            nodes[name] = dict(node)
    clone.nodes = nodes
    return clone


def _store_of(zones: dict[str, Zone]) -> ZoneStore:
    store = ZoneStore.__new__(ZoneStore)
    store.zones = zones
    store.change_log = []
    store._subscribers = []
    return store


def _zone_content(dns: ZoneStore) -> Hashable:
    return frozenset((origin, name, rtype, rrset)
                     for origin, zone in dns.zones.items()
                     for name, node in zone.nodes.items()
                     for rtype, rrset in node.items() if rtype != "SOA")


def _reindex(violations: tuple[Violation, ...], index: int) -> tuple[Violation, ...]:
    return tuple(Violation(v.invariant, index, v.endpoint, v.detail) for v in violations)


@dataclass(slots=True)
class _Edge:
    """What happened when `worker` moved from a state: the action it took, the answer, and the
    state it led to."""

    worker: int
    action: Action
    result: Result
    child: _State


class _State:
    """One immutable state of the world (see the module docstring, Rule 1)."""

    __slots__ = ("_ready", "broken", "clock_ms", "current", "dns", "end_violations", "finished",
                 "highest", "order", "pending", "states", "store", "verdict", "workers")

    def __init__(self, dns: ZoneStore, store: PlanStore, clock_ms: int,
                 workers: tuple[Worker, ...], pending: tuple[Action | None, ...],
                 order: tuple[int, ...], current: int | None,
                 highest: tuple[tuple[str, int], ...], broken: frozenset[tuple[int, str | None]],
                 states: tuple[EndpointState, ...], verdict: tuple[Violation, ...],
                 end_violations: tuple[Violation, ...], finished: bool) -> None:
        self.dns = dns
        self.store = store
        self.clock_ms = clock_ms
        self.workers = workers
        self.pending = pending
        self.order = order  # worker indices, longest-parked first
        self.current = current
        self.highest = highest
        self.broken = broken  # (invariant, endpoint) broken now: reported when they start
        self.states = states
        self.verdict = verdict  # violations that started with this state, step index 0
        self.end_violations = end_violations  # invariant 4, once every worker has finished
        self.finished = finished
        self._ready: list[int] | None = None

    def ready(self) -> list[int]:
        """Rule 2 of `_runtime.py`: the current worker first (if ready), then longest-parked."""
        ready = self._ready
        if ready is None:
            store = self.store
            newest = store.plans[-1].generation if store.plans else None
            sealed = store.sealed
            ok = [a is not None and (not isinstance(a, ReadNewestPlan) or sealed
                                     or (newest is not None and newest > a.newer_than))
                  for a in self.pending]
            cur = self.current
            first = [cur] if cur is not None and ok[cur] else []
            ready = first + [w for w in self.order if ok[w] and w != cur]
            self._ready = ready
        return ready

    def key(self) -> Hashable:
        """The state's identity under hash-consing (valid while its universe lives)."""
        return (id(self.dns), id(self.store), self.clock_ms, tuple(map(id, self.workers)),
                tuple(map(id, self.pending)), self.order, self.current, self.highest,
                self.broken)

    def value(self) -> Hashable:
        """The state as a plain value (slower than `key`; valid forever)."""
        return (_zone_content(self.dns), self.store, self.clock_ms, self.workers, self.pending,
                self.order, self.current, self.highest, self.broken)


class _Universe:
    """Everything the runs of one configuration share: the root state, the interned values and
    the remembered steps (Rule 2)."""

    def __init__(self, config: Config, cache: Cache) -> None:
        if cache not in CACHE_MODES:
            raise ValueError(f"cache={cache!r}: choose one of {', '.join(CACHE_MODES)}")
        self.config = config
        self.layout = config.layout
        self.endpoint_names = tuple(self.layout.endpoint_name(ep) for ep in self.layout.endpoints)
        self.watched = frozenset(config.invariants)
        self.memo = cache == "moves"
        self.bounded = True  # False: never drop the memos (state keys stay valid)
        self.steps = 0
        self._reset()
        self.root = self._initial()

    def _reset(self) -> None:
        self.values: dict[Any, Any] = {}  # value -> the one object that stands for it
        self.zones: dict[Hashable, ZoneStore] = {}  # zone content -> the one zone
        self.queries: dict[tuple[int, int], tuple[ZoneStore, Action, Result]] = {}
        self.updates: dict[tuple[int, int], tuple[ZoneStore, Action, Result, ZoneStore]] = {}
        self.store_calls: dict[tuple[int, int], tuple[PlanStore, Action, Result, PlanStore]] = {}
        self.moves: dict[tuple[int, int, int],
                         tuple[Worker, Result, Worker, Action | None]] = {}
        self.observed: dict[int, tuple[ZoneStore, tuple[EndpointState, ...]]] = {}

    @property
    def entries(self) -> int:
        return (len(self.values) + len(self.zones) + len(self.queries) + len(self.updates)
                + len(self.store_calls) + len(self.moves) + len(self.observed))

    def canon(self, value: Any) -> Any:
        if not self.memo:
            return value
        return self.values.setdefault(value, value)

    def canon_zone(self, dns: ZoneStore) -> ZoneStore:
        if not self.memo:
            return dns
        return self.zones.setdefault(_zone_content(dns), dns)

    def _initial(self) -> _State:
        config = self.config
        dns = config.initial_dns()
        workers = tuple(config.initial_workers())
        pending = tuple(w.next_action(0) for w in workers)
        if self.memo:
            try:
                workers = tuple(self.canon(w) for w in workers)
                pending = tuple(self.canon(a) for a in pending)
            except TypeError:
                log.info("worker states are not hashable: stepping without the memos")
                self.memo = False
        dns = self.canon_zone(dns)
        states = self._observe(dns)
        checker = InvariantChecker(self.layout, config.newest_generation, watched=self.watched)
        verdict = checker.after_step(0, states)  # records the starting generations
        return _State(dns, self.canon(config.initial_store()), 0, workers, pending,
                      tuple(range(len(workers))), None, tuple(sorted(checker.highest.items())),
                      frozenset(checker.broken), states, verdict, (),
                      all(a is None for a in pending))

    def _observe(self, dns: ZoneStore) -> tuple[EndpointState, ...]:
        known = self.observed.get(id(dns)) if self.memo else None
        if known is not None:
            return known[1]
        lay = self.layout
        states = tuple(observe_endpoint(lay, ep, dns.lookup(name, "A"))
                       for ep, name in zip(lay.endpoints, self.endpoint_names, strict=True))
        if self.memo:
            self.observed[id(dns)] = (dns, states)
        return states

    # -- one step, from its parts --------------------------------------------------------------

    def _query(self, dns: ZoneStore, action: Query) -> Result:
        key = (id(dns), id(action))
        known = self.queries.get(key) if self.memo else None
        if known is not None:
            return known[2]
        result = self.canon(dns.lookup(action.name, action.rtype))
        if self.memo:
            self.queries[key] = (dns, action, result)
        return result  # type: ignore[no-any-return]

    def _update(self, dns: ZoneStore, action: SendUpdate, who: str) -> tuple[Result, ZoneStore]:
        key = (id(dns), id(action))
        known = self.updates.get(key) if self.memo else None
        if known is not None:
            return known[2], known[3]
        update = action.update
        zone = dns.zones.get(update.zone)
        after = dns
        if zone is None:
            rcode = dns.apply(update, who).rcode.name
        else:
            names = {c.name for c in update.changes}
            names.add(zone.origin)  # the SOA serial
            candidate = _store_of({**dns.zones, zone.origin: _copy_zone(zone, names)})
            applied = candidate.apply(update, who)
            rcode = applied.rcode.name
            if applied.committed is not None:
                after = self.canon_zone(candidate)
        result: Result = self.canon(UpdateOutcome(rcode))
        if self.memo:
            self.updates[key] = (dns, action, result, after)
        return result, after

    def _store_call(self, store: PlanStore, action: Action) -> tuple[Result, PlanStore]:
        key = (id(store), id(action))
        known = self.store_calls.get(key) if self.memo else None
        if known is not None:
            return known[2], known[3]
        result, after = _perform_store(action, store, self.config)
        result, after = self.canon(result), self.canon(after)
        if self.memo:
            self.store_calls[key] = (store, action, result, after)
        return result, after

    def _receive(self, before: Worker, result: Result, clock_ms: int
                 ) -> tuple[Worker, Action | None]:
        """`receive` then `next_action`: a worker's move."""
        key = (id(before), id(result), clock_ms)
        known = self.moves.get(key) if self.memo else None
        if known is not None:
            return known[2], known[3]
        moved = self.canon(before.receive(result, clock_ms))
        parked_on = self.canon(moved.next_action(clock_ms))
        if self.memo:
            self.moves[key] = (before, result, moved, parked_on)
        return moved, parked_on

    def step(self, state: _State, worker: int) -> _Edge:
        action = state.pending[worker]
        assert action is not None and worker in state.ready(), "worker is not ready"
        self.steps += 1
        if (self.memo and self.bounded and self.steps % 4096 == 0
                and self.entries >= CACHE_ENTRIES):
            log.info("memos full (%d entries): starting them again", CACHE_ENTRIES)
            self._reset()
        dns = state.dns
        store = state.store
        clock_ms = state.clock_ms
        result: Result
        if isinstance(action, Query):
            result = self._query(dns, action)
        elif isinstance(action, SendUpdate):
            result, dns = self._update(dns, action, state.workers[worker].name + ".")
        elif isinstance(action, Sleep):
            clock_ms = max(clock_ms, action.until_ms)
            result = self.canon(Done())
        else:
            result, store = self._store_call(store, action)
        moved, parked_on = self._receive(state.workers[worker], result, clock_ms)
        workers = (*state.workers[:worker], moved, *state.workers[worker + 1:])
        pending = (*state.pending[:worker], parked_on, *state.pending[worker + 1:])
        order = state.order
        if order[-1] != worker:
            at = order.index(worker)
            order = (*order[:at], *order[at + 1:], worker)
        if dns is not state.dns:
            states = self._observe(dns)
            checker = InvariantChecker(self.layout, self.config.newest_generation,
                                       dict(state.highest), self.watched, set(state.broken))
            verdict = checker.after_step(0, states)
            highest = tuple(sorted(checker.highest.items()))
            broken = frozenset(checker.broken)
        else:
            # Rule 3: the same answers are the same violations, already reported.
            states, highest, broken, verdict = state.states, state.highest, state.broken, ()
        end: tuple[Violation, ...] = ()
        finished = parked_on is None and all(a is None for a in pending)
        if finished:
            end = InvariantChecker(self.layout, self.config.newest_generation,
                                   watched=self.watched).at_end(0, states)
        child = _State(dns, store, clock_ms, workers, pending, order, worker, highest, broken,
                       states, verdict, end, finished)
        return _Edge(worker, action, result, child)


_UNIVERSES: dict[tuple[Config, Cache], _Universe] = {}
_MAX_UNIVERSES = 4


def _universe(config: Config, cache: Cache) -> _Universe:
    universe = _UNIVERSES.get((config, cache))
    if universe is None:
        if len(_UNIVERSES) >= _MAX_UNIVERSES:
            _UNIVERSES.pop(next(iter(_UNIVERSES)))
        universe = _Universe(config, cache)
        _UNIVERSES[(config, cache)] = universe
    return universe


def clear_cache() -> None:
    """Forget every interned value and remembered step (benchmarks measure cold runs)."""
    _UNIVERSES.clear()


class Simulation:
    """The world stepped synchronously over the in-process zone engine. Copyable (`clone`) and
    fingerprintable (`fingerprint`) for the exhaustive search.

    `cache`: "moves" (default) shares interned values and remembered steps with every run of
    the same configuration; "none" computes every step afresh. Traces are identical.
    """

    def __init__(self, config: Config, *, stop_at_violation: bool = True,
                 cache: Cache = "moves") -> None:
        universe = _universe(config, cache)
        self.config = config
        self.layout = universe.layout
        self.stop_at_violation = stop_at_violation
        self.names = [w.name for w in universe.root.workers]
        self.choices: list[int] = []
        self.violations: list[Violation] = []
        self._universe = universe
        self._state = universe.root
        self._log: list[_Edge] = []
        self._steps: list[Step] = []

    def clone(self) -> Simulation:
        other = Simulation.__new__(Simulation)
        other.config = self.config
        other.layout = self.layout
        other.stop_at_violation = self.stop_at_violation
        other.names = self.names
        other.choices = list(self.choices)
        other.violations = list(self.violations)
        other._universe = self._universe
        other._state = self._state
        other._log = list(self._log)
        other._steps = list(self._steps)
        return other

    def fingerprint(self) -> Hashable:
        """Everything that decides the future: zone content (not the serial), store, clock,
        worker states and the actions they are parked on, the order of parking, who moved
        last, the highest generation seen per endpoint."""
        return self._state.value()

    # -- the state, read-only ------------------------------------------------------------------

    @property
    def dns(self) -> ZoneStore:
        """The zone as it is now (do not mutate: states share it)."""
        return self._state.dns

    @property
    def store(self) -> PlanStore:
        return self._state.store

    @property
    def clock_ms(self) -> int:
        return self._state.clock_ms

    @property
    def workers(self) -> tuple[Worker, ...]:
        return self._state.workers

    @property
    def pending(self) -> tuple[Action | None, ...]:
        return self._state.pending

    @property
    def current(self) -> int | None:
        return self._state.current

    @property
    def length(self) -> int:
        """Steps taken so far."""
        return len(self._log)

    @property
    def finished(self) -> bool:
        return self._state.finished

    @property
    def stopped(self) -> bool:
        return (self._state.finished or len(self._log) >= self.config.max_steps
                or (self.stop_at_violation and bool(self.violations)))

    def ready(self) -> list[int]:
        return list(self._state.ready())

    def observe(self) -> tuple[EndpointState, ...]:
        return self._state.states

    # -- moving --------------------------------------------------------------------------------

    def _move(self, worker: int) -> _Edge:
        edge = self._universe.step(self._state, worker)
        self._state = child = edge.child
        self._log.append(edge)
        found = child.verdict + child.end_violations if child.finished else child.verdict
        if found:
            self.violations.extend(_reindex(found, len(self._log)))
        return edge

    def step(self, worker: int) -> Step:
        """Let `worker` (an index into `names`; it must be ready) take its action."""
        self._move(worker)
        return self.steps[-1]

    @property
    def steps(self) -> list[Step]:
        """The narrated trace so far (built on demand, Rule 4)."""
        built = self._steps
        for index in range(len(built) + 1, len(self._log) + 1):
            edge = self._log[index - 1]
            child = edge.child
            found = child.verdict + child.end_violations if child.finished else child.verdict
            built.append(Step(index, self.names[edge.worker], describe_action(edge.action),
                              describe_result(edge.result), child.workers[edge.worker].note,
                              child.clock_ms, child.states, _reindex(found, index)))
        return built

    def advance(self, source: ChoiceSource) -> None:
        """Run until stopped, drawing a choice whenever two or more workers are ready; build no
        trace (call `result()` or read `steps` afterwards if one is needed)."""
        universe = self._universe
        log_ = self._log
        choices = self.choices
        violations = self.violations
        max_steps = self.config.max_steps
        stop = self.stop_at_violation
        state = self._state
        names = self.names
        moved = getattr(source, "moved", None)
        while not state.finished and len(log_) < max_steps and not (stop and violations):
            ready = state.ready()
            if not ready:
                break
            if len(ready) > 1:
                choice = source.choose([names[w] for w in ready])
                choices.append(choice)
                worker = ready[choice]
            else:
                worker = ready[0]
            edge = universe.step(state, worker)
            state = edge.child
            log_.append(edge)
            if moved is not None:
                moved(names[worker])
            found = state.verdict + state.end_violations if state.finished else state.verdict
            if found:
                violations.extend(_reindex(found, len(log_)))
        self._state = state

    def run(self, source: ChoiceSource, on_step: Callable[[Step], None] | None = None
            ) -> RunResult:
        if on_step is None:
            self.advance(source)
            return self.result()
        moved = getattr(source, "moved", None)
        while not self.stopped:
            ready = self._state.ready()
            if not ready:
                break
            if len(ready) > 1:
                choice = source.choose([self.names[w] for w in ready])
                self.choices.append(choice)
            else:
                choice = 0
            step = self.step(ready[choice])
            if moved is not None:
                moved(step.worker)
            on_step(step)
        return self.result()

    def schedule(self) -> tuple[str, ...]:
        """Who moved at each step, by name."""
        return tuple(self.names[e.worker] for e in self._log)

    def result(self) -> RunResult:
        return RunResult(self.config, tuple(self.choices), tuple(self.steps),
                         tuple(self.violations), self.finished)


def run_memory(config: Config, source: ChoiceSource, *, stop_at_violation: bool = True,
               on_step: Callable[[Step], None] | None = None) -> RunResult:
    """One run over the in-process engine, synchronously."""
    return Simulation(config, stop_at_violation=stop_at_violation).run(source, on_step)
