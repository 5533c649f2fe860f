"""The asyncio runner: the scheduling core (`reproducer.running.core`) with its DNS awaited
over a `Transport` — in-process, or TSIG-signed UDP to a fake_dns server.

The workers are frozen state machines, so nothing here needs a task per worker: the core picks
the mover, its action is performed (DNS through the transport, everything else by the core),
the endpoints are observed over the same transport after a committed UPDATE, and the core
records the step. Every await happens between two decisions, with every worker parked.
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
    must_observe,
    next_state,
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
    EndpointState,
    PublishPlan,
    Query,
    Result,
    SendUpdate,
    Sleep,
    UpdateOutcome,
)

__all__ = ["MemoryTransport", "Transport", "run_async"]


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


async def run_async(config: Config, source: ChoiceSource, transport: Transport, *,
                    stop_at_violation: bool = True, health: HealthSource | None = None,
                    on_step: Callable[[Step], None] | None = None,
                    after_step: Callable[[Step], Awaitable[None]] | None = None) -> RunResult:
    """One run with DNS through `transport`.

    `after_step`, when given, is awaited after each step with every worker parked: a live
    demonstration uses it to pace the run and to watch what clients see in between.

    The transport's zone must hold `config.initial_records()` when the run starts.
    `health`, when given, is read for every plan the Planner writes (the live fleet's
    `/healthz`); otherwise the scripted health of the configuration is used.
    """
    layout = config.layout

    async def observe() -> tuple[EndpointState, ...]:
        states = []
        for ep in layout.endpoints:
            answer = await transport.query(layout.endpoint_name(ep), "A")
            states.append(observe_endpoint(layout, ep, answer))
        return tuple(states)

    run = Run(config, initial_state(config, config.initial_workers(), None, await observe(),
                                    config.initial_store()),
              stop_at_violation=stop_at_violation)
    while (worker := run.next_worker(source)) is not None:
        state = run.state
        action = state.pending[worker]
        assert action is not None
        me = state.workers[worker]
        store, clock_ms = state.store, state.clock_ms
        result: Result
        match action:
            case Query(name=name, rtype=rtype):
                result = await transport.query(name, rtype)
            case SendUpdate(update=update):
                result = UpdateOutcome(await transport.update(update, me.name))
            case Sleep(until_ms=until):
                clock_ms = max(clock_ms, until)
                result = Done()
            case PublishPlan(generation=gen) if health is not None:
                plan = make_plan(gen, await health.read(), layout.endpoints)
                result, store = perform_store(action, store, config, plan)
            case _:
                result, store = perform_store(action, store, config)
        moved, parked_on = worker_move(me, result, clock_ms)
        answers = await observe() if must_observe(result) else None
        run.record(Edge(worker, action, result,
                        next_state(config, state, worker, dns=None, store=store,
                                   clock_ms=clock_ms, moved=moved, parked_on=parked_on,
                                   answers=answers)), source)
        if on_step is not None or after_step is not None:
            step = run.steps[-1]
            if on_step is not None:
                on_step(step)
            if after_step is not None:
                await after_step(step)
    return run.result()
