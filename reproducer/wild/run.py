"""The race in the wild: the planner and the enactors as free asyncio tasks against a fake_dns
server over real UDP, at real speed, with no scheduler.

Theory of operation
-------------------
- Every worker (the Planner, each Enactor: anything with the `Worker` protocol) is a task that
  loops: take its action for real, hand it the answer (`worker_move`, the scheduler's own
  move), repeat. DNS goes over UDP through the worker's own client and TSIG key; plan-store
  calls run on one shared in-memory store through `perform_store`, the scheduler's semantics,
  in one synchronous step; a back-off `Sleep` sleeps until that wall time. `now_ms` is wall
  milliseconds since the round started. Nothing decides who moves next but timing.
- Rule 1 (rounds): the Planner publishes `config.plans` generations, one per
  `plan_interval_s`, and never seals the store: enactors wait for the next plan as they would in
  production. Once it has stopped and every enactor waits for a plan newer than the newest,
  the round is over, invariant 4 is judged, the zone and the store are reset and the next
  round starts with fresh workers. A round's length is bounded by `Config.plans` (≤ 50), which
  is what keeps every round's capture a replay file of an ordinary configuration.
- Rule 2 (judging): after every committed UPDATE (`ZoneStore.subscribe`, synchronously, as the
  server commits) the endpoints are looked up in the server's zone and invariants 1–3 judged,
  as the scheduler judges after each step; the first violation ends the round. Independently,
  a prober resolves the endpoints over UDP as a client would and counts what clients saw.
- Rule 3 (capture): `reproducer.wild.capture`. A round that broke an invariant is
  replayed under the scheduler and written as a replay file.
- Faults (`faults.py`): latency before each enactor operation, a stall after a freshness
  check. Load balancers (`fake_lb.FleetProcess`, a child process) carry steady traffic when
  `traffic_rate_per_s` > 0.
- Programs (`Config.program`): each enactor is a process whose requests reach it through its
  listeners (`reproducer.programs`) and are taken here as soon as they come, so the faults
  land at the listeners: a request waits its latency there before it is performed. A Route 53
  call is applied to the server's zone with the API's semantics (`perform_route53`, in one
  synchronous step, judged as it commits); a program's move waits for its next request in a
  thread, so the loop keeps serving. A round's programs end with it.
- Lifecycle: every task, client, server and child process is stopped on the way out,
  cancellation (Ctrl-C) included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from fake_dns import ChangeKind, CommittedUpdate, DNSClient, DNSClientError, DNSServer
from reproducer.running.core import initial_workers, perform_route53, perform_store, worker_move
from reproducer.running.transport import TsigKey, reset_update
from reproducer.wild.capture import (
    Captured,
    Commit,
    ReplayCheck,
    RoundCapture,
    check_replay,
    save_capture,
)
from reproducer.wild.faults import WorkerFaults
from reproducer.wild.values import WildError, WildProgress, WildResult, WildSettings
from reproducer.world.config import Config, Worker
from reproducer.world.invariants import InvariantChecker, Violation, observe_endpoint
from reproducer.world.values import (
    Action,
    Done,
    EnactorError,
    EndpointState,
    PlanRead,
    PublishPlan,
    Query,
    ReadNewestPlan,
    Result,
    Route53Call,
    SendUpdate,
    Sleep,
    UpdateOutcome,
)

__all__ = ["WildError", "WildProgress", "WildResult", "WildSettings", "run_wild"]

log = logging.getLogger(__name__)

_DRAIN_S = 3.0  # how long a closing round waits for the DNS messages in flight


class _Round:
    """One round's shared state: the plan store, the capture, the judge."""

    def __init__(self, number: int, config: Config) -> None:
        self.number = number
        self.config = config
        self.capture = RoundCapture(config, number)
        self.store = config.initial_store()
        self.changed = asyncio.Event()
        self.checker = InvariantChecker(config.layout, config.newest_generation,
                                        watched=frozenset(config.invariants))
        self.in_flight: dict[str, int] = {}  # worker -> index of its DNS message in flight
        self.waiting: dict[str, int] = {}  # worker -> the generation it waits to see exceeded
        self.planner_done = False
        self.published = 0
        self.closing = False
        self.over = asyncio.Event()
        self.drained = asyncio.Event()  # set once closing and no DNS message is in flight
        self.error: BaseException | None = None
        self.t0 = time.monotonic()

    def now_ms(self) -> int:
        return int((time.monotonic() - self.t0) * 1000)

    def record(self, worker: str, action: Action, result: Result | None = None) -> Captured:
        step = Captured((time.monotonic() - self.t0) * 1000, worker, action, result)
        self.capture.steps.append(step)
        return step

    def store_changed(self) -> None:
        event, self.changed = self.changed, asyncio.Event()
        event.set()

    def quiescent(self) -> bool:
        newest = self.config.newest_generation
        return self.planner_done and len(self.waiting) == self.config.enactors and all(
            n >= newest for n in self.waiting.values())

    def end(self) -> None:
        self.over.set()


class _Wild:
    def __init__(self, config: Config, settings: WildSettings,
                 on_progress: Callable[[WildProgress], None] | None) -> None:
        self.config = config
        self.settings = settings
        self.on_progress = on_progress
        self.keys = {w: TsigKey.for_worker(w) for w in (*config.worker_names, "reset")}
        self.store = config.initial_dns()
        self.round: _Round | None = None
        self.live: _Round | None = None  # the round whose zone the prober may judge
        self.rounds = self.rounds_completed = self.plans_published = 0
        self.applied: set[tuple[int, int]] = set()
        self.applied_by = {w: 0 for w in config.worker_names[1:]}
        self.violations: list[tuple[int, Violation]] = []
        self.kept: RoundCapture | None = None
        self.clients_saw = 0
        self.requests_sent = self.requests_failed = 0
        self.t0 = time.monotonic()
        self.stop = asyncio.Event()
        self.interrupted = False
        lay = config.layout
        self.regional = lay.endpoint_name(lay.endpoints[0])

    # -- the judge, called by the server's zone as it commits ---------------------------------

    def on_commit(self, committed: CommittedUpdate) -> None:
        rnd = self.round
        worker = (committed.key_name or "").rstrip(".")
        if rnd is None or rnd.closing or worker not in self.config.worker_names:
            return
        index = rnd.in_flight.get(worker)
        step = index + 1 if index is not None else 0
        rnd.capture.commits.append(Commit((time.monotonic() - rnd.t0) * 1000, committed.serial,
                                          committed.key_name or "", step))
        lay = self.config.layout
        for change in committed.changes:
            if change.kind is ChangeKind.ADD and change.rtype == "CNAME" and \
                    change.name == self.regional:
                gen = lay.generation_of_tree(change.rdata)
                self.applied_by[worker] += 1
                if gen is not None:
                    self.applied.add((rnd.number, gen))
        found = rnd.checker.after_step(step, self._states())
        if found and rnd.capture.violation is None:
            self._violated(rnd, found[0])

    def _states(self) -> tuple[EndpointState, ...]:
        lay = self.config.layout
        return tuple(observe_endpoint(lay, ep, self.store.lookup(lay.endpoint_name(ep), "A"))
                     for ep in lay.endpoints)

    def _violated(self, rnd: _Round, violation: Violation) -> None:
        rnd.capture.violation = violation
        rnd.capture.violation_t_ms = (time.monotonic() - rnd.t0) * 1000
        self.violations.append((rnd.number, violation))
        log.info("round %d: %s", rnd.number, violation.describe())
        if self.kept is None:
            self.kept = rnd.capture
        if self.settings.until_violation:
            self.stop.set()
        rnd.end()

    # -- the workers ---------------------------------------------------------------------------

    async def _perform(self, rnd: _Round, name: str, action: Action,
                       client: DNSClient) -> Result:
        if isinstance(action, Route53Call):  # applied to the server's zone as it commits
            step = rnd.record(name, action)
            rnd.in_flight[name] = len(rnd.capture.steps) - 1
            try:
                step.result = perform_route53(action, self.store, rnd.now_ms(),
                                              in_place=True)[0]
            finally:
                del rnd.in_flight[name]
            return step.result
        if isinstance(action, (Query, SendUpdate)):
            step = rnd.record(name, action)
            rnd.in_flight[name] = len(rnd.capture.steps) - 1
            try:
                if isinstance(action, Query):
                    step.result = await client.query(action.name, action.rtype)
                else:
                    step.result = UpdateOutcome((await client.update(action.update)).rcode.name)
            finally:
                del rnd.in_flight[name]
                if rnd.closing and not rnd.in_flight:
                    rnd.drained.set()
            return step.result
        if isinstance(action, Sleep):
            await asyncio.sleep(max(0, action.until_ms - rnd.now_ms()) / 1000)
            return rnd.record(name, action, Done()).result or Done()
        if isinstance(action, ReadNewestPlan):
            while rnd.store.newer_than(action.newer_than) is None:
                rnd.waiting[name] = action.newer_than
                if rnd.quiescent():
                    rnd.end()
                await rnd.changed.wait()
            rnd.waiting.pop(name, None)
        if isinstance(action, PublishPlan):
            # Rule 1: paced, and never sealed (the round's end is judged by quiescence).
            await asyncio.sleep(max(0.0, rnd.published + 1 - (time.monotonic() - rnd.t0)
                                    / self.settings.plan_interval_s)
                                * self.settings.plan_interval_s)
            result, rnd.store = perform_store(replace(action, seal_after=False), rnd.store,
                                              self.config)
            rnd.published += 1
            self.plans_published += 1
            rnd.record(name, action, result)
            rnd.store_changed()
            return result
        result, rnd.store = perform_store(action, rnd.store, self.config)
        rnd.record(name, action, result)
        return result

    async def _work(self, rnd: _Round, worker: Worker, client: DNSClient,
                    faults: WorkerFaults | None) -> None:
        name = worker.name
        action = worker.next_action(0)
        checking = False  # the next query is the freshness check of a plan just picked up
        try:
            while action is not None and not rnd.closing:
                if faults is not None and not isinstance(action, Sleep):
                    await asyncio.sleep(faults.latency_s())
                    if rnd.closing:
                        return
                result = await self._perform(rnd, name, action, client)
                if self.config.program is not None:  # a program's move waits for it
                    worker, following = await asyncio.to_thread(worker_move, worker, result,
                                                                rnd.now_ms())
                else:
                    worker, following = worker_move(worker, result, rnd.now_ms())
                if faults is not None and checking and _reads_dns(action):
                    checking = False
                    stall = faults.stall_s()
                    if stall:
                        log.debug("%s stalls %.1f s after its freshness check", name, stall)
                        await asyncio.sleep(stall)
                if isinstance(result, PlanRead) and result.plan is not None:
                    checking = True
                action = following
            if action is None and name == "planner":
                rnd.planner_done = True
                if rnd.quiescent():
                    rnd.end()
        except DNSClientError as exc:
            rnd.error = WildError(f"{name}: the DNS server stopped answering: {exc}")
            rnd.end()
        except EnactorError as exc:  # an enactor broke the contract or raised: its own words
            step = len(rnd.capture.steps) + 1
            rnd.error = WildError(f"{exc} (at step {step} of round {rnd.number})",
                                  enactor_error=exc, step=step, round_number=rnd.number)
            rnd.end()
        except Exception as exc:  # a worker's own code failed: the run reports it, by name
            step = len(rnd.capture.steps) + 1
            rnd.error = WildError(f"{name} raised {exc!r} at step {step} of round {rnd.number}")
            rnd.error.__cause__ = exc
            rnd.end()
        finally:
            close = getattr(worker, "close", None)
            if close is not None:  # a program's process ends with its round
                close()

    # -- rounds --------------------------------------------------------------------------------

    async def _round(self, server: DNSServer, clients: dict[str, DNSClient],
                     deadline: float) -> None:
        self.rounds += 1
        rnd = _Round(self.rounds, self.config)
        if self.rounds > 1:
            rcode = (await clients["reset"].update(reset_update(self.config))).rcode.name
            if rcode != "NOERROR":
                raise WildError(f"the server refused to reset the zone for round "
                                f"{rnd.number}: {rcode}")
        rnd.t0 = time.monotonic()
        self.round = self.live = rnd
        faults = self.settings.faults
        workers = await asyncio.to_thread(initial_workers, self.config)
        tasks = [asyncio.create_task(self._work(
            rnd, w, clients[w.name], None if w.name == "planner" else faults.for_worker(w.name)),
            name=f"wild-{w.name}") for w in workers]
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await _first(rnd.over.wait(), self.stop.wait())
            ended = rnd.over.is_set() and rnd.error is None and rnd.capture.violation is None
            rnd.closing = True
            self.live = None
            if rnd.in_flight:  # let the messages in flight be answered: their steps count
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_DRAIN_S):
                        await rnd.drained.wait()
        finally:
            rnd.closing = True
            self.live = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if rnd.error is not None:
            raise rnd.error
        if ended and rnd.quiescent():
            self.rounds_completed += 1
            self._end_of_round(rnd)

    def _end_of_round(self, rnd: _Round) -> None:
        """Invariant 4: every enactor waits for a plan that will not come (the scheduler
        seals the store here: each reads "none" and finishes), and the endpoints must be on
        the newest plan."""
        for name in self.config.worker_names[1:]:
            step = rnd.record(name, ReadNewestPlan(rnd.waiting[name]), PlanRead(None))
            step.note = "the round is over: no newer plan (the scheduler seals the store here)"
        if 4 in self.config.invariants:
            found = rnd.checker.at_end(len(rnd.capture.steps), self._states())
            if found:
                self._violated(rnd, found[0])

    # -- around the rounds ---------------------------------------------------------------------

    async def _probe(self, client: DNSClient) -> None:
        """What a client sees: the endpoints resolved over UDP, invariants 1-3 judged."""
        lay = self.config.layout
        watched = frozenset(self.config.invariants) & {1, 2, 3}
        checker: InvariantChecker | None = None
        judged: _Round | None = None
        while True:
            rnd = self.live
            states = []
            for ep in lay.endpoints:
                answer = await client.query(lay.endpoint_name(ep), "A")
                states.append(observe_endpoint(lay, ep, answer))
            if rnd is not None and self.live is rnd:
                if judged is not rnd or checker is None:
                    checker = InvariantChecker(lay, self.config.newest_generation,
                                               watched=watched)
                    judged = rnd
                for v in checker.after_step(0, tuple(states)):
                    self.clients_saw += 1
                    log.info("a client saw round %d: %s", rnd.number, v.describe())
            await asyncio.sleep(self.settings.probe_interval_s)

    def progress(self) -> WildProgress:
        return WildProgress(time.monotonic() - self.t0, self.rounds, self.plans_published,
                        tuple(sorted(self.applied_by.items())), len(self.violations),
                        self.clients_saw, self.requests_sent, self.requests_failed)

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(self.settings.progress_interval_s)
            if self.on_progress is not None:
                self.on_progress(self.progress())

    async def _traffic(self, port: int) -> None:
        from fake_lb import FleetProcess, IntervalStats, TrafficPlan, run_traffic

        def count(stats: IntervalStats) -> None:
            self.requests_sent += stats.sent
            self.requests_failed += stats.failed

        s = self.settings
        async with FleetProcess(("127.0.0.1", port), backends=3, lbs=1,
                                endpoint=self.regional) as fleet:
            await run_traffic(fleet.info.lb_urls,
                              TrafficPlan(s.traffic_rate_per_s, s.duration_s + 5,
                                          min(1.0, s.progress_interval_s), 2.0),
                              on_interval=count)

    async def run(self) -> WildResult:
        s = self.settings
        async with contextlib.AsyncExitStack() as stack:
            server = await stack.enter_async_context(DNSServer(
                self.store, "127.0.0.1", 0, {k.name: k.secret for k in self.keys.values()}))
            stack.callback(self.store.subscribe(self.on_commit))
            clients = {}
            for name, key in self.keys.items():
                clients[name] = await stack.enter_async_context(DNSClient(
                    server.host, server.port, key_name=key.name, secret=key.secret))
            prober = await stack.enter_async_context(DNSClient(server.host, server.port))
            helpers = [asyncio.create_task(self._probe(prober)),
                       asyncio.create_task(self._report())]
            if s.traffic_rate_per_s > 0:
                helpers.append(asyncio.create_task(self._traffic(server.port)))
            stack.push_async_callback(_cancel, helpers)
            self.t0 = time.monotonic()
            deadline = self.t0 + s.duration_s
            try:
                while not self.stop.is_set() and time.monotonic() < deadline:
                    await self._round(server, clients, deadline)
            except asyncio.CancelledError:
                # Ctrl-C: what was caught so far is kept (its replay file written below) and
                # reported; the caller sees `interrupted`. Every task has been cancelled by
                # `_round`, and the stack stops the rest.
                current = asyncio.current_task()
                if current is None or current.uncancel() > 0:
                    raise  # a cancellation from elsewhere: not ours to swallow
                self.interrupted = True
        seconds = time.monotonic() - self.t0
        check, path = self._replay()
        return WildResult(self.config, s, seconds, self.rounds, self.rounds_completed,
                          self.plans_published, len(self.applied),
                          tuple(sorted(self.applied_by.items())), tuple(self.violations),
                          self.clients_saw, self.requests_sent, self.requests_failed, path,
                          check, self.kept, self.interrupted)

    def _replay(self) -> tuple[ReplayCheck | None, Path | None]:
        capture = self.kept
        if capture is None or capture.violation is None:
            return None, None
        check = check_replay(capture, upto=capture.violation.step)
        path = self.settings.replay_path
        if path is not None:
            save_capture(path, capture, check, {
                "faults": self.settings.faults.to_json(),
                "plan_interval_s": self.settings.plan_interval_s})
        return check, path


def _reads_dns(action: Action) -> bool:
    """A read of the zone: the freshness check a stall follows (a DNS query, or a Route 53
    call that does not write)."""
    if isinstance(action, Route53Call):
        return not action.request.writes
    return isinstance(action, Query)


async def _first(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await _cancel(tasks)


async def _cancel(tasks: list[asyncio.Task[Any]] | list[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.warning("a helper task failed: %r", result)


async def run_wild(config: Config, settings: WildSettings,
                   on_progress: Callable[[WildProgress], None] | None = None) -> WildResult:
    """One wild run (module docstring). `on_progress` is called every progress interval."""
    return await _Wild(config, settings, on_progress).run()
