"""The asyncio runner: the scheduling core (`reproducer.running.core`) with its DNS awaited
over a `Transport` — in-process, or TSIG-signed UDP to a fake_dns server.

The workers are frozen state machines, so nothing here needs a task per worker: the core picks
the mover, its action is performed (DNS through the transport, everything else by the core),
the endpoints are observed over the same transport after a committed UPDATE, and the core
records the step. Every await happens between two decisions, with every worker parked. An
`AsyncRun` can also be moved by hand, one worker at a time (`await run.move("enactor-1")`), as
a learner playing the scheduler does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from fake_dns import LookupResult, Update, ZoneStore
from reproducer.running.choices import ChoiceSource
from reproducer.running.core import (
    Edge,
    Run,
    initial_state,
    initial_workers,
    must_observe,
    next_state,
    perform_route53,
    perform_store,
    worker_move,
)
from reproducer.running.trace import RunResult, Step
from reproducer.world.config import Config
from reproducer.world.health import HealthSource
from reproducer.world.invariants import observe_endpoint
from reproducer.world.planner import make_plan
from reproducer.world.values import (
    Done,
    EnactorError,
    EndpointState,
    PublishPlan,
    Query,
    Result,
    Route53Answer,
    Route53Call,
    SendUpdate,
    Sleep,
    UpdateOutcome,
)

__all__ = ["AsyncRun", "MemoryTransport", "Transport", "run_async"]


class Transport(Protocol):
    """How a worker's DNS messages reach the zone: in-process, or real UDP to fake_dns."""

    async def query(self, name: str, rtype: str) -> LookupResult: ...

    async def update(self, update: Update, worker: str) -> str:
        """Send the UPDATE on behalf of `worker`; return the rcode's name."""
        ...


class MemoryTransport:
    """The in-process transport: the same zone engine the server uses, no sockets. It also
    performs Route 53 calls (`route53`), which a transport may do (`AsyncRun` asks for it)."""

    def __init__(self, dns: ZoneStore) -> None:
        self.dns = dns

    async def query(self, name: str, rtype: str) -> LookupResult:
        return self.dns.lookup(name, rtype)

    async def update(self, update: Update, worker: str) -> str:
        return self.dns.apply(update, worker + ".").rcode.name

    async def route53(self, call: Route53Call, clock_ms: int) -> Route53Answer:
        """A Route 53 call on this zone, as the core performs it (`perform_route53`)."""
        return perform_route53(call, self.dns, clock_ms, in_place=True)[0]


class AsyncRun(Run):
    """The scheduling core with its DNS awaited over `transport`: one run, moved one worker
    at a time (`await move(worker)`) or driven by a choice source (`await advance(source)`).

    Create it with `await AsyncRun.start(config, transport)`: the endpoints are observed once
    before the first move. The transport's zone must hold `config.initial_records()` then.
    `health`, when given, is read for every plan the Planner writes (the live fleet's
    `/healthz`); otherwise the scripted health of the configuration is used.
    """

    def __init__(self, config: Config, transport: Transport, answers: tuple[EndpointState, ...],
                 *, stop_at_violation: bool = True, health: HealthSource | None = None) -> None:
        super().__init__(config, initial_state(config, initial_workers(config), None, answers,
                                               config.initial_store()),
                         stop_at_violation=stop_at_violation)
        self.transport = transport
        self.health = health

    @classmethod
    async def start(cls, config: Config, transport: Transport, *, stop_at_violation: bool = True,
                    health: HealthSource | None = None) -> AsyncRun:
        return cls(config, transport, await _observe(config, transport),
                   stop_at_violation=stop_at_violation, health=health)

    async def move(self, worker: int | str) -> Step:
        """Let `worker` (an index into `names`, or a name; it must be ready) take its action,
        recording the choice that picks it."""
        index = self.index_of(worker)
        self.note_choice(index)
        await self._step(index, None)
        return self.steps[-1]

    async def _step(self, worker: int, source: ChoiceSource | None) -> None:
        config = self.config
        state = self.state
        action = state.pending[worker]
        assert action is not None
        me = state.workers[worker]
        store, clock_ms = state.store, state.clock_ms
        result: Result
        match action:
            case Query(name=name, rtype=rtype):
                result = await self.transport.query(name, rtype)
            case SendUpdate(update=update):
                result = UpdateOutcome(await self.transport.update(update, me.name))
            case Sleep(until_ms=until):
                clock_ms = max(clock_ms, until)
                result = Done()
            case Route53Call():
                route53 = getattr(self.transport, "route53", None)
                if route53 is None:
                    raise EnactorError(
                        f"{me.name} made a Route 53 call, which this transport "
                        f"({type(self.transport).__name__}) does not carry; run it over the "
                        "in-process transport (--transport memory)").at_step(self.length + 1)
                result = await route53(action, clock_ms)
            case PublishPlan(generation=gen) if self.health is not None:
                plan = make_plan(gen, await self.health.read(), config.layout.endpoints)
                result, store = perform_store(action, store, config, plan)
            case _:
                result, store = perform_store(action, store, config)
        try:
            moved, parked_on = worker_move(me, result, clock_ms)
        except EnactorError as exc:
            raise exc.at_step(self.length + 1) from None
        answers = await _observe(config, self.transport) if must_observe(result) else None
        self.record(Edge(worker, action, result,
                         next_state(config, state, worker, dns=None, store=store,
                                    clock_ms=clock_ms, moved=moved, parked_on=parked_on,
                                    answers=answers)), source)

    async def advance(self, source: ChoiceSource,
                      on_step: Callable[[Step], None] | None = None,
                      after_step: Callable[[Step], Awaitable[None]] | None = None) -> None:
        """Run until stopped, drawing a choice whenever two or more workers are ready."""
        while (worker := self.next_worker(source)) is not None:
            await self._step(worker, source)
            if on_step is not None or after_step is not None:
                step = self.steps[-1]
                if on_step is not None:
                    on_step(step)
                if after_step is not None:
                    await after_step(step)


async def _observe(config: Config, transport: Transport) -> tuple[EndpointState, ...]:
    """Every endpoint as a client resolves it: an A query over the run's own transport."""
    layout = config.layout
    states = []
    for ep in layout.endpoints:
        answer = await transport.query(layout.endpoint_name(ep), "A")
        states.append(observe_endpoint(layout, ep, answer))
    return tuple(states)


async def run_async(config: Config, source: ChoiceSource, transport: Transport, *,
                    stop_at_violation: bool = True, health: HealthSource | None = None,
                    on_step: Callable[[Step], None] | None = None,
                    after_step: Callable[[Step], Awaitable[None]] | None = None) -> RunResult:
    """One run with DNS through `transport` (see `AsyncRun`).

    `after_step`, when given, is awaited after each step with every worker parked: a live
    demonstration uses it to pace the run and to watch what clients see in between.
    """
    run = await AsyncRun.start(config, transport, stop_at_violation=stop_at_violation,
                               health=health)
    await run.advance(source, on_step, after_step)
    return run.result()
