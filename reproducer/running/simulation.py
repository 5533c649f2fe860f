"""The synchronous in-process runtime: the world stepped over the zone engine, no asyncio.

A `Simulation` is the scheduling core (`reproducer.running.core`: one mover, choice 0
unsurprising, virtual time, observation after a committed UPDATE) with in-process effects and a
memo: what tells a run's story (its trace), what replays a schedule and what the minimiser
tries. It is copyable (`clone`), and its traces equal those of `run_async` for the same choices
(a differential test checks it). The searches themselves step the same core over integers
(`reproducer.running.engine`), which takes the same runs, and hand a run they keep to a
`Simulation` for its trace. The `Universe` below is also where the engine's steps are taken the
first time (`Universe.effect`).

Theory of operation (why it is fast)
------------------------------------
- Rule 1: the world is a chain of immutable `State` values (zone content, plan store, clock,
  worker states, the action each worker is parked on, the parking order, who moved last, the
  highest generation seen and the invariants broken now). A step computes the next `State`
  and never changes the old one; the zone is copied on write, only when an UPDATE commits.
- Rule 2 (hash-consing): every part of a state is a pure value, and every step is a pure
  function of those values: a zone lookup of (zone content, question), an UPDATE of (zone
  content, update), a store call of (store, action), a worker's move of (worker state, answer,
  clock). With `cache="moves"` (the default) each part is interned — equal values are one
  object — and each of those functions is remembered by the identity of its arguments, per
  `Config` and across runs. A step already taken once by any run is then a few dictionary
  lookups. The memos are bounded (`CACHE_ENTRIES`) and
  dropped together when full. Worker states must be hashable values for this; if they are
  not, the memos switch themselves off for that configuration (`cache="none"` does so too).
- Rule 3: endpoints are re-resolved only after a committed UPDATE (the core's Rule 4), and
  an observation of a zone seen before is a dictionary lookup.
- Rule 4: a `Step` (the narrated trace line) is built only when someone asks for it (`steps`,
  `step()`'s return value, `result()`, `on_step`). `advance()` runs without building any.

What interning leaves out, on purpose: the SOA serial (it counts commits, and nothing a worker
or the observer reads depends on it: answers are judged by their answer section; zones are one
by `zone_content`). What a state keeps that is easy to miss: the action each worker is parked
on (a back-off sleep's wake-up time was computed when the worker parked, not from the clock
now).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Literal

from fake_dns import ZoneStore
from reproducer.running.choices import ChoiceSource
from reproducer.running.core import (
    Edge,
    Run,
    State,
    initial_state,
    initial_workers,
    must_observe,
    next_state,
    perform_route53,
    perform_store,
    worker_move,
)
from reproducer.running.trace import RunResult, Step
from reproducer.world.config import Config, Worker
from reproducer.world.invariants import observe_endpoint
from reproducer.world.values import (
    Action,
    Done,
    EnactorError,
    EndpointState,
    PlanStore,
    Query,
    Result,
    Route53Call,
    SendUpdate,
    Sleep,
    UpdateOutcome,
)

__all__ = ["CACHE_ENTRIES", "CACHE_MODES", "Cache", "Simulation", "clear_cache", "run_memory",
           "universe_for", "zone_content"]

log = logging.getLogger(__name__)

Cache = Literal["none", "moves"]
CACHE_MODES: tuple[Cache, ...] = ("none", "moves")
CACHE_ENTRIES = 1_500_000
"""Interned values plus remembered steps per configuration before the memos are dropped."""


def zone_content(dns: ZoneStore) -> frozenset[tuple[str, str, str, Any]]:
    """A zone's content as a value: every record but the SOA (whose serial counts commits)."""
    return frozenset((origin, name, rtype, rrset)
                     for origin, zone in dns.zones.items()
                     for name, node in zone.nodes.items()
                     for rtype, rrset in node.items() if rtype != "SOA")


class Universe:
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
        return self.zones.setdefault(zone_content(dns), dns)

    def _initial(self) -> State:
        config = self.config
        dns = config.initial_dns()
        workers = tuple(initial_workers(config))
        if self.memo:
            try:
                workers = tuple(self.canon(w) for w in workers)
                for w in workers:
                    hash(w.next_action(0))
            except TypeError:
                log.info("worker states are not hashable: stepping without the memos")
                self.memo = False
        dns = self.canon_zone(dns)
        return initial_state(config, workers, dns, self.observe(dns),
                             self.canon(config.initial_store()), self.canon)

    def observe(self, dns: ZoneStore) -> tuple[EndpointState, ...]:
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
        after = dns
        if update.zone not in dns.zones:
            rcode = dns.apply(update, who).rcode.name
        else:
            candidate = dns.branch(c.name for c in update.changes)
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
        result, after = perform_store(action, store, self.config)
        result, after = self.canon(result), self.canon(after)
        if self.memo:
            self.store_calls[key] = (store, action, result, after)
        return result, after

    def _receive(self, before: Worker, result: Result, clock_ms: int
                 ) -> tuple[Worker, Action | None]:
        """A worker's move (`worker_move`), remembered."""
        key = (id(before), id(result), clock_ms)
        remember = self.memo and type(before).__dict__.get("memo_moves", True)
        known = self.moves.get(key) if remember else None
        if known is not None:
            return known[2], known[3]
        moved, parked_on = worker_move(before, result, clock_ms)
        parked_on = self.canon(parked_on)
        if self.memo:
            twin = self.values.setdefault(moved, moved)
            if twin is not moved:
                # An async enactor's value made by an earlier run: it takes this run's live
                # coroutine, so a forward run never re-executes (async_enactor, Rule 3).
                absorb = getattr(twin, "absorb", None)
                if absorb is not None:
                    absorb(moved)
                moved = twin
        if remember:
            self.moves[key] = (before, result, moved, parked_on)
        return moved, parked_on

    def effect(self, action: Action, who: str, dns: ZoneStore, store: PlanStore,
               clock_ms: int) -> tuple[Result, ZoneStore, PlanStore, int]:
        """What `action`, taken by the worker named `who`, does to the world: (its answer, the
        zone, the plan store and the clock after it)."""
        result: Result
        if isinstance(action, Query):
            result = self._query(dns, action)
        elif isinstance(action, SendUpdate):
            result, dns = self._update(dns, action, who + ".")
        elif isinstance(action, Sleep):
            clock_ms = max(clock_ms, action.until_ms)
            result = self.canon(Done())
        elif isinstance(action, Route53Call):
            answer, after = perform_route53(action, dns, clock_ms)
            result = self.canon(answer)
            if after is not dns:
                dns = self.canon_zone(after)
        else:
            result, store = self._store_call(store, action)
        return result, dns, store, clock_ms

    def step(self, state: State, worker: int) -> Edge:
        """The core's step with in-process effects: `worker` (ready) takes its action."""
        action = state.pending[worker]
        assert action is not None and worker in state.ready(), "worker is not ready"
        self.steps += 1
        if (self.memo and self.bounded and self.steps % 4096 == 0
                and self.entries >= CACHE_ENTRIES):
            log.info("memos full (%d entries): starting them again", CACHE_ENTRIES)
            self._reset()
        result, dns, store, clock_ms = self.effect(action, state.workers[worker].name,
                                                   state.dns, state.store, state.clock_ms)
        moved, parked_on = self._receive(state.workers[worker], result, clock_ms)
        # An unchanged zone answers as before: the observation is skipped, not repeated.
        answers = self.observe(dns) if dns is not state.dns and must_observe(result) else None
        child = next_state(self.config, state, worker, dns=dns, store=store,
                           clock_ms=clock_ms, moved=moved, parked_on=parked_on, answers=answers)
        return Edge(worker, action, result, child)


_UNIVERSES: dict[tuple[Config, Cache], Universe] = {}
_MAX_UNIVERSES = 4


def universe_for(config: Config, cache: Cache) -> Universe:
    """The memoised transitions of `config`'s world, shared by every simulation of it in this
    process (a few worlds at a time)."""
    universe = _UNIVERSES.get((config, cache))
    if universe is None:
        if len(_UNIVERSES) >= _MAX_UNIVERSES:
            _UNIVERSES.pop(next(iter(_UNIVERSES)))
        universe = Universe(config, cache)
        _UNIVERSES[(config, cache)] = universe
    return universe


def clear_cache() -> None:
    """Forget every interned value and remembered step (benchmarks measure cold runs)."""
    _UNIVERSES.clear()


class Simulation(Run):
    """The scheduling core stepped synchronously over the in-process zone engine. Copyable
    (`clone`).

    `cache`: "moves" (default) shares interned values and remembered steps with every run of
    the same configuration; "none" computes every step afresh. Traces are identical.
    """

    def __init__(self, config: Config, *, stop_at_violation: bool = True,
                 cache: Cache = "moves") -> None:
        universe = universe_for(config, cache)
        super().__init__(config, universe.root, stop_at_violation=stop_at_violation)
        self.layout = universe.layout
        self._universe = universe

    def clone(self) -> Simulation:
        other = Simulation.__new__(Simulation)
        self._copy_into(other)
        other.layout = self.layout
        other._universe = self._universe
        return other

    # -- the state, read-only ------------------------------------------------------------------

    @property
    def dns(self) -> ZoneStore:
        """The zone as it is now (do not mutate: states share it)."""
        return self.state.dns  # type: ignore[no-any-return]

    @property
    def store(self) -> PlanStore:
        return self.state.store

    @property
    def clock_ms(self) -> int:
        return self.state.clock_ms

    @property
    def workers(self) -> tuple[Worker, ...]:
        return self.state.workers

    @property
    def pending(self) -> tuple[Action | None, ...]:
        return self.state.pending

    @property
    def current(self) -> int | None:
        return self.state.current

    def observe(self) -> tuple[EndpointState, ...]:
        return self.state.states

    # -- moving --------------------------------------------------------------------------------

    def move(self, worker: int | str) -> Step:
        """Let `worker` (an index into `names`, or a name; it must be ready) take its action,
        recording the choice that picks it, so the run replays from `result().choices`."""
        index = self.index_of(worker)
        self.note_choice(index)
        try:
            self.record(self._universe.step(self.state, index))
        except EnactorError as exc:
            raise exc.at_step(self.length + 1) from None
        return self.steps[-1]

    def advance(self, source: ChoiceSource) -> None:
        """Run until stopped, drawing a choice whenever two or more workers are ready; build no
        trace (call `result()` or read `steps` afterwards if one is needed)."""
        step = self._universe.step
        record = self.record
        next_worker = self.next_worker
        try:
            while (worker := next_worker(source)) is not None:
                record(step(self.state, worker), source)
        except EnactorError as exc:
            raise exc.at_step(self.length + 1) from None

    def follow(self, workers: Sequence[int | str], *, limit: int | None = None,
               strict: bool = False) -> Simulation:
        """Move the workers in this order (by index or name), recording the choices: a
        schedule replayed by who moves. A worker that is not ready at its turn is skipped, or,
        with `strict`, refused with a ValueError that names the step and the ready workers.
        Stops early once the run stops or has `limit` steps."""
        for worker in workers:
            if limit is not None and self.length >= limit:
                break
            if self.stopped:
                if strict and not self.finished:
                    raise ValueError(f"the run stopped after step {self.length} (a violation, "
                                     f"or max_steps {self.config.max_steps}): {worker} cannot "
                                     "move any more")
                if strict:
                    self.note_choice(self.index_of(worker))  # raises: nobody is ready
                break
            index = self.index_of(worker)
            if index not in self.state.ready():
                if strict:
                    self.note_choice(index)  # raises, saying who is ready
                continue
            self.move(index)
        return self

    def run(self, source: ChoiceSource, on_step: Callable[[Step], None] | None = None
            ) -> RunResult:
        if on_step is None:
            self.advance(source)
            return self.result()
        step = self._universe.step
        try:
            while (worker := self.next_worker(source)) is not None:
                self.record(step(self.state, worker), source)
                on_step(self.steps[-1])
        except EnactorError as exc:
            raise exc.at_step(self.length + 1) from None
        return self.result()


def run_memory(config: Config, source: ChoiceSource, *, stop_at_violation: bool = True,
               on_step: Callable[[Step], None] | None = None) -> RunResult:
    """One run over the in-process engine, synchronously."""
    return Simulation(config, stop_at_violation=stop_at_violation).run(source, on_step)
