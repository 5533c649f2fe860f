"""The scheduling core over integers: states as short tuples of small integers, and steps
remembered as integer tables, so that the workers' and the zone's Python code runs only the
first time a step is taken.

Theory of operation
-------------------
- Rule 1 (parts): every part of a state is interned once to a small integer — the zone's content
  (`zones`), the plan store (`stores`), each worker's state with the action it is parked on
  (`comps`: one table for every worker, a part belonging to one position), the highest
  generations seen with the invariants broken now (`marks`), and the parking order with who
  moved last (`orders`). A state is the tuple (zone, store, clock, marks, order, worker 0, ...,
  worker n): `ZONE`, `STORE`, `CLOCK`, `MARKS`, `ORDER`, then `FIRST` + w for worker w.
- Rule 2 (one source of truth): the step itself is the core's (`Universe.effect`, then
  `worker_move`, `judge`, `end_violations`, `ready_order`, `moved_order` of
  `reproducer.running.core`). The engine only remembers what they answered, keyed by the
  integers of what they read: a worker's step by (its part, the zone or the store it reads,
  the clock) in `steps`, the invariant step by (marks, zone) in `judged`, the ready workers by
  the parking order, the store and the kind of action each worker is parked on.
- Rule 3 (canonical parts): with `values` (and `unread`, `dead`) the parts are kept in their
  canonical form (`reproducer.running.canonical`): the clock is always 0, stamps are "current"
  or "stale". A step then has one of five effects (`Effect`): on its worker alone (a query, a
  refused UPDATE, a store read); a committed UPDATE (the zone changes, the invariants are
  judged, and under `values` every other enactor's belief in the old lock goes stale); the
  store changes; the clock moves by d under `values` (every part moves back by d: `shifted`);
  the clock moves without `values`.
- Rule 4 (bisimulation): a run over the engine takes the same steps, offers the same ready
  workers in the same order and breaks the same invariant at the same step as the run over
  real values with the same choices (`Canon`'s rewrites keep every future), so who moved is
  all a run needs to keep: its story is replayed by the `Simulation` for the trace.
- Rule 5 (values with a history): an async enactor or a program is a value whose identity is
  its history, moved by its own code. In a search (`states`) an async enactor is one part per
  state of its suspended coroutine (`CoroutineWorker.state`), the first value met standing for
  the others (a deterministic program's future depends on its state alone). In forward runs
  (`forward`: the samplers) such a worker's moves are not remembered: its live coroutine or
  process is handed from value to value, and an equal value met again takes it (`absorb`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from operator import itemgetter
from typing import Any

from fake_dns import ZoneStore
from reproducer.running.canonical import Canon, lock_of_zone
from reproducer.running.choices import ChoiceSource
from reproducer.running.core import (
    EnactorError,
    end_violations,
    judge,
    moved_order,
    must_observe,
    ready_order,
    worker_move,
)
from reproducer.running.simulation import Universe, zone_content
from reproducer.world.async_enactor import CoroutineWorker, Uncanonical
from reproducer.world.config import Config, Worker
from reproducer.world.enactor import StateMachineEnactor
from reproducer.world.planner import Planner
from reproducer.world.values import (
    Action,
    EndpointState,
    ListPlans,
    LockValue,
    PlanStore,
    Query,
    ReadNewestPlan,
    Result,
    Route53Call,
    SendUpdate,
    Sleep,
    evolve,
)

__all__ = ["CLOCK", "FIRST", "MARKS", "ORDER", "STORE", "ZONE", "Effect", "Engine", "Walk",
           "builtin_workers", "clear_cache", "engine_for", "forward_only", "step_key"]

ZONE, STORE, CLOCK, MARKS, ORDER, FIRST = 0, 1, 2, 3, 4, 5

State = tuple[int, ...]
Effect = tuple[int, int, int]
"""(kind, the worker's part after the step, what else changed): kind `OWN` (nothing else),
`ZONE_CHANGED` (the new zone), `STORE_CHANGED` (the new store), `SHIFTED` (the clock moved by
this much under `values`), `CLOCK_SET` (the new clock)."""
OWN, ZONE_CHANGED, STORE_CHANGED, SHIFTED, CLOCK_SET = 0, 1, 2, 3, 4

# where a worker's next step reads: the zone, the store, the clock only; or it has finished
READS_ZONE, READS_STORE, READS_CLOCK, FINISHED = 0, 1, 2, 3


def step_key(c: int, read: int, clock: int) -> Hashable:
    """The key of a remembered step: a worker's part, the zone or store it reads, and the
    clock; one integer when the clock is 0 (always, under `values`). The searches' loops
    compute it inline, the same way."""
    return (c << 32 | read) if clock == 0 else (c, read, clock)


def _number(ids: dict[Hashable, int], value: Any, values: list[Any]) -> int:
    """`value`'s number in `ids`, appending it to `values` when it is new. A value that cannot
    be hashed (not a value: an object with hidden state) is a part of its own, numbered by its
    identity (`values` keeps it alive)."""
    try:
        key: Hashable = value
        number = ids.get(key)
    except TypeError:
        key = ("object", *map(id, value)) if isinstance(value, tuple) else ("object", id(value))
        number = ids.get(key)
    if number is None:
        number = ids[key] = len(values)
        values.append(value)
    return number


def forward_only(worker: Worker) -> bool:
    """A worker whose moves must not be remembered in forward runs (`Engine.forward`)."""
    return not type(worker).__dict__.get("memo_moves", True)


_ENGINES: dict[Config, Engine] = {}
_MAX_ENGINES = 4
MAX_SIZE = 3_000_000
"""Parts plus remembered steps of a shared engine before it is started again."""


def engine_for(config: Config) -> Engine:
    """The engine every sampled run of `config` in this process shares (a few worlds at a
    time), its parts canonical, for forward runs; started again between runs once it holds
    `MAX_SIZE` entries."""
    engine = _ENGINES.get(config)
    if engine is None or engine.size >= MAX_SIZE:
        if engine is None and len(_ENGINES) >= _MAX_ENGINES:
            _ENGINES.pop(next(iter(_ENGINES)))
        engine = _ENGINES[config] = Engine(config, values=True, unread=True, dead=True,
                                           forward=True)
    return engine


def clear_cache() -> None:
    """Forget every shared engine (benchmarks measure cold runs)."""
    _ENGINES.clear()


def builtin_workers(workers: Sequence[Worker]) -> bool:
    """The built-in Planner and state-machine enactors, whose facts the reductions read."""
    return isinstance(workers[0], Planner) and all(
        type(w) is StateMachineEnactor for w in workers[1:])


class Engine:
    """One configuration's world over integers (module docstring). Not shared between
    processes: its integers are its own."""

    def __init__(self, config: Config, *, values: bool = False, unread: bool = False,
                 dead: bool = False, forward: bool = False, states: bool = False) -> None:
        self.config = config
        universe = Universe(config, "none")  # the core's effects, computed afresh on a miss
        self.universe = universe
        root = universe.root
        self.names = tuple(w.name for w in root.workers)
        self.count = len(self.names)
        self.builtin = builtin_workers(root.workers)
        self.canon = Canon(config.layout, self.builtin, values=values, unread=unread, dead=dead)
        self.values = self.canon.values
        self.lock_name = config.layout.lock_name
        self._position = {name: i for i, name in enumerate(self.names)}
        # the parts (Rule 1)
        self.zone_ids: dict[Hashable, int] = {}
        self.zones: list[ZoneStore] = []
        self.zone_locks: list[Any] = []
        self.holder: list[int] = []  # the worker holding the zone's lock, or -1
        self.answers: list[tuple[EndpointState, ...]] = []
        self.ended: list[bool | None] = []  # invariant 4 broken if every worker finished here
        self.store_ids: dict[PlanStore, int] = {}
        self.stores: list[PlanStore] = []
        self.comp_ids: dict[Hashable, int] = {}
        self.comps: list[tuple[Worker, Action | None]] = []
        self._comp_keys: list[tuple[int, Any, Action | None]] = []
        self.position: list[int] = []
        self.reads: list[int] = []  # READS_ZONE ... FINISHED
        # forward runs only (the samplers): a worker whose value is its history (an async
        # enactor, a program) moves by its own code at every step, its live coroutine or
        # process handed forward, never by a remembered move (which would hand out a spent one)
        self.forward = forward
        self.fresh: list[bool] = []
        # `states`: a worker that can tell its state (an async enactor's suspended coroutine,
        # `CoroutineWorker.state`) is one part per state, not per history; one that cannot is
        # told by its value, and why is kept (`by_history`: worker name -> the reason)
        self.states = states
        self.by_history: dict[str, str] = {}
        self.pclass: list[int] = []  # the kind of action parked on, for the ready workers
        self.act: list[int] = []  # the action parked on, interned
        self.mark_ids: dict[Hashable, int] = {}
        self.marks: list[tuple[tuple[tuple[str, int], ...], frozenset[tuple[int, str | None]]]]
        self.marks = []
        self.order_ids: dict[tuple[tuple[int, ...], int | None], int] = {}
        self.orders: list[tuple[tuple[int, ...], int | None]] = []
        self.next_order: list[list[int]] = []
        # the remembered steps (Rule 2)
        self.steps: dict[Hashable, Effect] = {}
        self.answered: dict[tuple[int, int, int], tuple[int, int, LockValue | None]] = {}
        self.store_answered: dict[tuple[int, int], tuple[int, int]] = {}
        self.moved: dict[tuple[int, int, int], int] = {}
        self.result_ids: dict[Hashable, int] = {}
        self.results: list[Result] = []
        self.action_ids: dict[Hashable, int] = {}
        self._asked: list[Action | None] = []
        self.judged: dict[tuple[int, int], tuple[int, bool]] = {}
        self.stale: list[int] = []  # a part after another enactor rewrote the lock, or -1
        self.shifted: dict[tuple[int, int], int] = {}
        self.zone_shifted: dict[tuple[int, int], int] = {}
        self.ready_of: dict[tuple[int, int, Any], tuple[int, ...]] = {}
        self._pclass_ids: dict[Hashable, int] = {}
        self._pclass_example: list[Action | None] = []
        self.root = self._root()

    # -- interning -----------------------------------------------------------------------------

    def intern_zone(self, dns: ZoneStore) -> int:
        key = zone_content(dns)
        z = self.zone_ids.get(key)
        if z is None:
            z = self.zone_ids[key] = len(self.zones)
            self.zones.append(dns)
            lock = lock_of_zone(dns, self.lock_name)
            self.zone_locks.append(lock)
            self.holder.append(-1 if lock is None else self._position.get(lock.holder, -1))
            self.answers.append(self.universe.observe(dns))
            self.ended.append(None)
        return z

    def intern_store(self, store: PlanStore) -> int:
        s = self.store_ids.get(store)
        if s is None:
            s = self.store_ids[store] = len(self.stores)
            self.stores.append(store)
        return s

    def intern_comp(self, position: int, worker: Worker, pending: Action | None) -> int:
        count = len(self._comp_keys)
        told: Any = worker
        if self.states and isinstance(worker, CoroutineWorker):
            try:
                told = worker.state()
            except Uncanonical as exc:
                self.by_history.setdefault(worker.name, f"a local holds {exc}")
        c = _number(self.comp_ids, (position, told, pending), self._comp_keys)
        if c == count:  # a new part
            self.comps.append((worker, pending))
            self.fresh.append(forward_only(worker) and self.forward)
            self.position.append(position)
            self.reads.append(FINISHED if pending is None else
                              READS_ZONE if isinstance(pending, Query | SendUpdate | Route53Call)
                              else
                              READS_CLOCK if isinstance(pending, Sleep) else READS_STORE)
            kind: Hashable = (None if pending is None else ("newest", pending.newer_than)
                              if isinstance(pending, ReadNewestPlan) else "list"
                              if isinstance(pending, ListPlans) else "other")
            p = self._pclass_ids.get(kind)
            if p is None:
                p = self._pclass_ids[kind] = len(self._pclass_example)
                self._pclass_example.append(pending)
            self.pclass.append(p)
            self.stale.append(-1)
            # the world answers what is asked, not why (`why` is the trace's prose)
            asked = evolve(pending, why="") if isinstance(pending, Query | SendUpdate) else pending
            self.act.append(_number(self.action_ids, asked, self._asked))
        return c

    def intern_marks(self, highest: tuple[tuple[str, int], ...],
                     broken: frozenset[tuple[int, str | None]]) -> int:
        key = (highest, broken)
        m = self.mark_ids.get(key)
        if m is None:
            m = self.mark_ids[key] = len(self.marks)
            self.marks.append(key)
        return m

    def intern_order(self, order: tuple[int, ...], current: int | None) -> int:
        key = (order, current)
        o = self.order_ids.get(key)
        if o is None:
            o = self.order_ids[key] = len(self.orders)
            self.orders.append(key)
            self.next_order.append([-1] * self.count)
        return o

    def _root(self) -> State:
        root = self.universe.root
        canon = self.canon
        lock = lock_of_zone(root.dns, self.lock_name)
        comps = tuple(self.intern_comp(w, *canon.worker(worker, pending, lock))
                      for w, (worker, pending) in enumerate(zip(root.workers, root.pending,
                                                                strict=True)))
        return (self.intern_zone(canon.zone(root.dns)), self.intern_store(root.store),
                root.clock_ms, self.intern_marks(root.highest, root.broken),
                self.intern_order(root.order, root.current), *comps)

    # -- the remembered steps (Rule 2) ---------------------------------------------------------

    def effect(self, state: State, w: int) -> Effect:
        """The effect of worker `w`'s step from `state` (remembered under `step_key`)."""
        c = state[FIRST + w]
        reads = self.reads[c]
        key = step_key(c, state[ZONE] if reads == READS_ZONE else state[STORE]
                       if reads == READS_STORE else 0, state[CLOCK])
        known = self.steps.get(key)
        if known is None:
            known = self._effect(c, state[ZONE], state[STORE], state[CLOCK])
            if not self.fresh[c]:
                self.steps[key] = known
        return known

    def effect_missed(self, key: Hashable, c: int, z: int, s: int, clock: int) -> Effect:
        """`effect` for a loop that computed `key` (`step_key`) and missed it."""
        known = self._effect(c, z, s, clock)
        if not self.fresh[c]:
            self.steps[key] = known
        return known

    def _effect(self, c: int, z: int, s: int, clock: int) -> Effect:
        """A step not met before from this part, zone or store: what the world answers (by
        the action and the zone or store it reads, `answered`), then how the worker moves on
        that answer (by its part, the answer and the clock, `moved`). Each is remembered on its
        own, so a new zone whose answer to this action is an old one costs two look-ups."""
        worker, action = self.comps[c]
        assert action is not None, "a finished worker has no step"
        a = self.act[c]
        reads = self.reads[c]
        zone2, store2, clock2 = -1, -1, clock
        if reads == READS_ZONE:
            key = (z, a, clock)  # (a Route 53 call's answer says when: the clock)
            known = self.answered.get(key)
            if known is None:
                dns = self.zones[z]
                result, dns2, _, _ = self.universe.effect(action, worker.name, dns,
                                                          self.stores[s], clock)
                changed = dns2 is not dns and must_observe(result)
                known = self.answered[key] = (
                    self._intern_result(result),
                    self.intern_zone(self.canon.zone(dns2)) if changed else -1,
                    lock_of_zone(dns2, self.lock_name) if changed else None)
            r, zone2, zone_lock = known
        elif reads == READS_STORE:
            known2 = self.store_answered.get((s, a))
            if known2 is None:
                store = self.stores[s]
                result, _, store_after, _ = self.universe.effect(action, worker.name,
                                                                 self.zones[z], store, clock)
                known2 = self.store_answered[s, a] = (
                    self._intern_result(result),
                    -1 if store_after is store else self.intern_store(store_after))
            r, store2 = known2
            zone_lock = None
        else:
            result, _, _, clock2 = self.universe.effect(action, worker.name, self.zones[z],
                                                        self.stores[s], clock)
            r = self._intern_result(result)
            zone_lock = None
        key3 = (c, r, clock2)
        c2 = self.moved.get(key3) if not self.fresh[c] else None
        if c2 is None:
            moved, parked_on = worker_move(worker, self.results[r], clock2)
            shift = clock2 - clock if self.values else 0
            c2 = self.intern_comp(self.position[c],
                                  *self.canon.worker(moved, parked_on, zone_lock, shift))
            twin = self.comps[c2][0]
            if twin is not moved:
                # an equal value made by another run takes this run's live coroutine or
                # process, so a forward run never re-executes (async_enactor, Rule 3)
                absorb = getattr(twin, "absorb", None)
                if absorb is not None:
                    absorb(moved)
            if not self.fresh[c]:
                self.moved[key3] = c2
        if zone2 >= 0:
            return ZONE_CHANGED, c2, zone2
        if clock2 != clock:
            return (SHIFTED, c2, clock2 - clock) if self.values else (CLOCK_SET, c2, clock2)
        if store2 >= 0:
            return STORE_CHANGED, c2, store2
        return OWN, c2, 0

    def _intern_result(self, result: Result) -> int:
        return _number(self.result_ids, result, self.results)

    def judge(self, marks: int, zone: int) -> tuple[int, bool]:
        """The invariant step after a committed UPDATE: (the marks after it, whether a watched
        invariant started to break)."""
        key = (marks, zone)
        known = self.judged.get(key)
        if known is None:
            highest, broken = self.marks[marks]
            highest2, broken2, verdict = judge(self.config, highest, broken, self.answers[zone])
            known = self.judged[key] = (self.intern_marks(highest2, broken2), bool(verdict))
        return known

    def ends_broken(self, zone: int) -> bool:
        """Whether invariant 4 breaks when every worker has finished with this zone."""
        known = self.ended[zone]
        if known is None:
            known = self.ended[zone] = bool(end_violations(self.config, self.answers[zone]))
        return known

    def made_stale(self, c: int) -> int:
        """Part `c` after another worker's UPDATE rewrote the zone's lock (`Canon.stale`)."""
        known = self.stale[c]
        if known < 0:
            worker = self.comps[c][0]
            stale = self.canon.stale(worker)
            known = self.stale[c] = c if stale is worker else self.intern_comp(
                self.position[c], stale, stale.next_action(0))
        return known

    def shift(self, c: int, shift: int) -> int:
        """Part `c` after the clock moved by `shift` (canonical: clock 0)."""
        key = (c, shift)
        known = self.shifted.get(key)
        if known is None:
            worker, pending = self.comps[c]
            # (a belief that is the zone's lock is canonical already, and moves with it)
            known = c if pending is None else self.intern_comp(
                self.position[c], *self.canon.worker(worker, pending, None, shift))
            self.shifted[key] = known
        return known

    def shift_zone(self, z: int, shift: int) -> int:
        key = (z, shift)
        known = self.zone_shifted.get(key)
        if known is None:
            known = self.zone_shifted[key] = self.intern_zone(self.canon.zone(self.zones[z],
                                                                              shift))
        return known

    def order_after(self, o: int, w: int) -> int:
        known = self.next_order[o][w]
        if known < 0:
            order, _ = self.orders[o]
            known = self.next_order[o][w] = self.intern_order(moved_order(order, w), w)
        return known

    def ready(self, state: State) -> tuple[int, ...]:
        """The ready workers in the core's order (Rule 2 of the core), remembered by the
        parking order, the store and the kind of action each worker is parked on."""
        key = (state[ORDER], state[STORE], itemgetter(*state[FIRST:])(self.pclass))
        known = self.ready_of.get(key)
        if known is None:
            known = self.ready_of[key] = tuple(self.ready_from(state))
        return known

    def ready_from(self, state: State) -> list[int]:
        """The ready workers, computed by the core (not remembered)."""
        order, current = self.orders[state[ORDER]]
        pending = [self.comps[c][1] for c in state[FIRST:]]
        return ready_order(pending, self.stores[state[STORE]], order, current)

    def pending(self, state: State) -> list[Action | None]:
        return [self.comps[c][1] for c in state[FIRST:]]

    def finished(self, state: State) -> bool:
        reads = self.reads
        return all(reads[c] == FINISHED for c in state[FIRST:])

    # -- a step, whole ------------------------------------------------------------------------

    def step(self, state: State, w: int) -> tuple[State, bool]:
        """Worker `w` (ready) moves: (the state after, whether a watched invariant started to
        break with the step)."""
        return self.apply(state, w, self.effect(state, w))

    def apply(self, state: State, w: int, effect: Effect) -> tuple[State, bool]:
        """The state after worker `w`'s step whose effect is `effect`, and whether a watched
        invariant started to break (the core's `next_state`, over integers)."""
        kind, c2, arg = effect
        parts = list(state)
        parts[FIRST + w] = c2
        parts[ORDER] = self.order_after(state[ORDER], w)
        broke = False
        if kind == ZONE_CHANGED:
            parts[ZONE] = arg
            parts[MARKS], broke = self.judge(state[MARKS], arg)
            if self.values:
                made_stale = self.made_stale
                for v in range(1, self.count):
                    if v != w:
                        parts[FIRST + v] = made_stale(parts[FIRST + v])
        elif kind == STORE_CHANGED:
            parts[STORE] = arg
        elif kind == SHIFTED:
            parts[ZONE] = self.shift_zone(state[ZONE], arg)
            shift = self.shift
            for v in range(self.count):
                if v != w:
                    parts[FIRST + v] = shift(parts[FIRST + v], arg)
        elif kind == CLOCK_SET:
            parts[CLOCK] = arg
        child = tuple(parts)
        if self.reads[c2] == FINISHED and self.finished(child):
            broke = broke or self.ends_broken(child[ZONE])
        return child, broke

    def follow(self, workers: Sequence[int]) -> State:
        """The state a schedule of who moved leads to (each must be ready at its turn)."""
        state = self.root
        for w in workers:
            if w not in self.ready(state):
                raise ValueError(f"{self.names[w]} is not ready")
            state, _ = self.step(state, w)
        return state

    @property
    def size(self) -> int:
        """Parts and remembered steps, all tables together."""
        return (len(self.comps) + len(self.zones) + len(self.stores) + len(self.marks)
                + len(self.steps) + len(self.judged) + len(self.shifted)
                + len(self.zone_shifted) + len(self.ready_of) + len(self.answered)
                + len(self.store_answered) + len(self.moved) + len(self.results))


class Walk:
    """One run over the engine, drawn from a choice source as the core's `Run` draws it: a
    choice only when two or more workers are ready; `moved` told after every step. Keeps who
    moved and the choices, nothing else (the trace is the `Simulation`'s, by replay)."""

    __slots__ = ("broke", "choices", "finished", "length")

    def __init__(self, engine: Engine, source: ChoiceSource, *, max_steps: int,
                 stop_at_violation: bool = True) -> None:
        self.choices: list[int] = []
        self.broke = False
        names = engine.names
        moved = getattr(source, "moved", None)
        choose = source.choose
        ready_of = engine.ready
        effect_of = engine.effect
        apply = engine.apply
        state = engine.root
        length = 0
        reads = engine.reads
        finished = engine.finished(state)
        while not finished and length < max_steps:
            ready = ready_of(state)
            if not ready:
                break
            if len(ready) == 1:
                w = ready[0]
            else:
                choice = choose([names[v] for v in ready])
                self.choices.append(choice)
                w = ready[choice]
            try:
                state, broke = apply(state, w, effect_of(state, w))
            except EnactorError as exc:
                raise exc.at_step(length + 1) from None
            length += 1
            if moved is not None:
                moved(names[w])
            if broke:
                self.broke = True
                if stop_at_violation:
                    break
            if reads[state[FIRST + w]] == FINISHED:
                finished = engine.finished(state)
        self.length = length
        self.finished = finished
