"""Running a world under a controlled scheduler: the choices, the two runtimes, the trace.

Theory of operation
-------------------
- Every worker (the Planner, each Enactor) is parked at a scheduling point with the action it
  wants to take next. A worker is *ready* when its action can run now: a plan-store wait
  (`ReadNewestPlan`) is ready only once a newer plan exists or the planner has stopped.
- Rule 1 (one mover): the scheduler picks one ready worker, lets it take exactly its action,
  and waits until it is parked again (or finished) before the next decision. A run is therefore
  a pure function of its configuration and its choices.
- Rule 2 (choice 0 is unsurprising): the ready workers are offered in a fixed order — the worker
  that moved last, if it is ready, then the others from the longest-parked to the most recently
  parked. Choice 0 keeps the current worker going; every other choice is a context switch. A
  choice is drawn only when two or more workers are ready.
- Rule 3 (virtual time): back-off sleeps and lock expiry run on a clock the scheduler owns;
  a sleeping worker that is chosen moves the clock to its wake-up time (never backwards).
- Rule 4 (observation): after every step, each endpoint is resolved with an A query over the
  run's own transport and the invariants are checked on the answers.

Two runtimes, one set of workers: `Simulation` steps the state machines synchronously over the
in-process zone engine (fast, copyable: what exploration uses), and `run_async` runs each worker
as an asyncio task whose DNS goes through a `Transport` — in-process or real UDP to fake_dns.
The differential tests require both to produce identical traces for identical choices.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fake_dns import LookupResult, Update, ZoneStore
from reproducer._health import HealthSource
from reproducer._model import (
    Action,
    DeletePlans,
    Done,
    EndpointState,
    ListPlans,
    PlanList,
    PlanRead,
    PlanStore,
    PublishPlan,
    Query,
    ReadNewestPlan,
    Result,
    SendUpdate,
    Sleep,
    UpdateOutcome,
)
from reproducer._planner import make_plan
from reproducer._world import Config, InvariantChecker, Step, Violation, Worker, observe_endpoint

__all__ = [
    "ChoiceSource",
    "FollowWorkers",
    "MemoryTransport",
    "RandomChoices",
    "ReplayChoices",
    "ReplayDiverged",
    "RunResult",
    "Transport",
    "run_async",
]

log = logging.getLogger("reproducer.runtime")


# -- choices ------------------------------------------------------------------------------------


class ChoiceSource(Protocol):
    """Where scheduling decisions come from. A source may also define `moved(worker: str)`,
    which the runtimes call after every step, with or without a choice."""

    def choose(self, ready: Sequence[str]) -> int:
        """Index into `ready` (two or more worker names; index 0 is the unsurprising move)."""
        ...


class ReplayDiverged(ValueError):
    """A replayed choice does not fit the run (the file belongs to another configuration)."""


class ReplayChoices:
    """Choices from a list; once it is used up, every further choice is 0."""

    def __init__(self, choices: Sequence[int]) -> None:
        self.choices = tuple(choices)
        self.position = 0

    def choose(self, ready: Sequence[str]) -> int:
        if self.position >= len(self.choices):
            return 0
        choice = self.choices[self.position]
        self.position += 1
        if not 0 <= choice < len(ready):
            raise ReplayDiverged(
                f"replay choice #{self.position} is {choice}, but only {len(ready)} workers "
                f"are ready ({', '.join(ready)}): the schedule does not belong to this "
                "configuration")
        return choice


class FollowWorkers:
    """The same interleaving, by worker name: at step i, the worker that moved at step i of
    another run if it is ready now, otherwise the unsurprising move (choice 0); after the list,
    always 0. This is how a schedule found under one variant is replayed under another, whose
    workers take different steps (a choice index would not fit)."""

    def __init__(self, workers: Sequence[str]) -> None:
        self.workers = tuple(workers)
        self.step = 0

    def choose(self, ready: Sequence[str]) -> int:
        want = self.workers[self.step] if self.step < len(self.workers) else None
        if want is not None and want in ready:
            return list(ready).index(want)
        return 0

    def moved(self, worker: str) -> None:
        """Called by the runtimes after every step (also the steps that needed no choice)."""
        self.step += 1


class RandomChoices:
    """Uniformly random choices from a seeded generator."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def choose(self, ready: Sequence[str]) -> int:
        return self._rng.randrange(len(ready))


# -- describing steps (shared by both runtimes, so traces agree) --------------------------------


def describe_action(action: Action) -> str:
    match action:
        case Query(name=name, rtype=rtype, why=why):
            return f"query {name} {rtype}" + (f" ({why})" if why else "")
        case SendUpdate(why=why):
            return f"UPDATE {why}"
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
    raise AssertionError(f"unknown result {result!r}")


def _is_ready(action: Action | None, store: PlanStore) -> bool:
    if action is None:
        return False
    if isinstance(action, ReadNewestPlan):
        return store.sealed or store.newer_than(action.newer_than) is not None
    return True


def _order_ready(ready: list[int], current: int | None, parked_at: list[int]) -> list[int]:
    """Rule 2: the current worker first (if ready), then the longest-parked first."""
    rest = sorted((w for w in ready if w != current), key=lambda w: parked_at[w])
    first = [current] if current is not None and current in ready else []
    return first + rest


def _perform_store(action: Action, store: PlanStore, config: Config,
                   plan_health: Callable[[int], object] | None = None) -> tuple[Result, PlanStore]:
    match action:
        case ReadNewestPlan(newer_than=n):
            return PlanRead(store.newer_than(n)), store
        case ListPlans():
            return PlanList(store.generations), store
        case DeletePlans(generations=gens):
            return Done(), store.delete(gens)
        case PublishPlan(generation=gen, seal_after=seal):
            store = store.put(config.plan(gen))
            return Done(), store.seal() if seal else store
    raise AssertionError(f"not a store action: {action!r}")


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


# -- the asyncio runtime -------------------------------------------------------------------------


class Transport(Protocol):
    """How a worker's DNS messages reach the zone: in-process, or real UDP to fake_dns."""

    async def query(self, name: str, rtype: str) -> LookupResult: ...

    async def update(self, update: Update, worker: str) -> str:
        """Send the UPDATE on behalf of `worker`; return the rcode's name."""
        ...


class MemoryTransport:
    """The in-process transport: the same zone engine the server uses, no sockets."""

    def __init__(self, dns: ZoneStore) -> None:
        self.dns = dns

    async def query(self, name: str, rtype: str) -> LookupResult:
        return self.dns.lookup(name, rtype)

    async def update(self, update: Update, worker: str) -> str:
        return self.dns.apply(update, worker + ".").rcode.name


@dataclass(slots=True)
class _Slot:
    index: int
    name: str
    state: Worker
    pending: Action | None = None
    parked_at: int = 0
    grant: asyncio.Future[None] | None = None
    back: asyncio.Future[None] | None = None  # resolved when the granted worker parks again
    done: bool = False
    last: tuple[Action, Result] | None = None


@dataclass(slots=True)
class _Gate:
    """Knows when every worker is parked (or done): the scheduler decides only then."""

    slots: list[_Slot]
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    sequence: int = 0

    def quiescent(self) -> bool:
        return all(s.done or (s.grant is not None and not s.grant.done()) for s in self.slots)

    async def wait_quiescent(self) -> None:
        while not self.quiescent():
            self.changed.clear()
            await self.changed.wait()

    async def park(self, slot: _Slot, action: Action) -> None:
        slot.pending = action
        slot.parked_at = self.sequence
        self.sequence += 1
        slot.grant = asyncio.get_running_loop().create_future()
        self._returned(slot)
        await slot.grant

    def finish(self, slot: _Slot) -> None:
        slot.pending = None
        slot.done = True
        self._returned(slot)

    def _returned(self, slot: _Slot) -> None:
        back = slot.back
        if back is not None and not back.done():
            back.set_result(None)
        self.changed.set()

    async def grant(self, slot: _Slot) -> None:
        """Let `slot` take its action; return once it is parked again or finished. Only the
        granted worker can move (every other one waits for its own grant), so this is the
        point where the whole world is quiescent again."""
        assert slot.grant is not None
        slot.back = back = asyncio.get_running_loop().create_future()
        slot.grant.set_result(None)
        await back
        slot.back = None


async def run_async(config: Config, source: ChoiceSource, transport: Transport, *,
                    stop_at_violation: bool = True, health: HealthSource | None = None,
                    on_step: Callable[[Step], None] | None = None,
                    after_step: Callable[[Step], Awaitable[None]] | None = None) -> RunResult:
    """One run with every worker an asyncio task and DNS through `transport`.

    `after_step`, when given, is awaited after each step with every worker parked: a live
    demonstration uses it to pace the run and to watch what clients see in between.

    The transport's zone must hold `config.initial_records()` when the run starts.
    `health`, when given, is read for every plan the Planner writes (the live fleet's
    `/healthz`); otherwise the scripted health of the configuration is used.
    """
    layout = config.layout
    store = config.initial_store()
    clock_ms = 0
    workers = config.initial_workers()
    slots = [_Slot(i, w.name, w) for i, w in enumerate(workers)]
    gate = _Gate(slots)

    async def perform(slot: _Slot, action: Action) -> Result:
        nonlocal store, clock_ms
        match action:
            case Query(name=name, rtype=rtype):
                return await transport.query(name, rtype)
            case SendUpdate(update=update):
                return UpdateOutcome(await transport.update(update, slot.name))
            case Sleep(until_ms=until):
                clock_ms = max(clock_ms, until)
                return Done()
            case PublishPlan(generation=gen, seal_after=seal) if health is not None:
                plan = make_plan(gen, await health.read(), layout.endpoints)
                store = store.put(plan)
                store = store.seal() if seal else store
                return Done()
        result, store = _perform_store(action, store, config)
        return result

    async def worker_main(slot: _Slot) -> None:
        try:
            while (action := slot.state.next_action(clock_ms)) is not None:
                await gate.park(slot, action)
                result = await perform(slot, action)
                slot.last = (action, result)
                slot.state = slot.state.receive(result, clock_ms)
        finally:
            gate.finish(slot)

    async def observe() -> tuple[EndpointState, ...]:
        states = []
        for ep in layout.endpoints:
            answer = await transport.query(layout.endpoint_name(ep), "A")
            states.append(observe_endpoint(layout, ep, answer))
        return tuple(states)

    checker = InvariantChecker(layout, config.newest_generation,
                               watched=frozenset(config.invariants))
    last_states = await observe()
    checker.after_step(0, last_states)
    steps: list[Step] = []
    violations: list[Violation] = []
    choices: list[int] = []
    current: int | None = None
    tasks = [asyncio.create_task(worker_main(s), name=s.name) for s in slots]
    moved = getattr(source, "moved", None)
    completed = False
    try:
        while len(steps) < config.max_steps and not (stop_at_violation and violations):
            await gate.wait_quiescent()
            for task in tasks:  # a worker that crashed is our bug: surface it
                if task.done() and not task.cancelled() and task.exception():
                    raise task.exception()  # type: ignore[misc]
            ready = [s.index for s in slots if not s.done and _is_ready(s.pending, store)]
            ordered = _order_ready(ready, current, [s.parked_at for s in slots])
            if not ordered:
                break
            if len(ordered) > 1:
                choice = source.choose([slots[w].name for w in ordered])
                choices.append(choice)
            else:
                choice = 0
            slot = slots[ordered[choice]]
            if moved is not None:
                moved(slot.name)
            current = slot.index
            await gate.grant(slot)
            task = tasks[slot.index]
            if task.done() and not task.cancelled() and task.exception():
                raise task.exception()  # type: ignore[misc]
            assert slot.last is not None
            action, result = slot.last
            index = len(steps) + 1
            # Only a committed UPDATE changes what clients see: after any other step the
            # endpoints answer as before, so the last answers stand (Rule 4, at half the cost).
            if isinstance(result, UpdateOutcome) and result.rcode == "NOERROR":
                last_states = await observe()
            states = last_states
            found = checker.after_step(index, states)
            if all(s.done for s in slots):
                found += checker.at_end(index, states)
            step = Step(index, slot.name, describe_action(action), describe_result(result),
                        slot.state.note, clock_ms, states, found)
            steps.append(step)
            violations.extend(found)
            if on_step:
                on_step(step)
            if after_step:
                await after_step(step)
        completed = all(s.done for s in slots)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return RunResult(config, tuple(choices), tuple(steps), tuple(violations), completed)
