"""The scheduling core: one run of a world under a controlled scheduler, with no I/O in it.

Theory of operation
-------------------
- Every worker (the Planner, each Enactor) is parked at a scheduling point with the action it
  wants to take next. A worker is *ready* when its action can run now: a plan-store wait
  (`ReadNewestPlan`) is ready only once a newer plan exists or the planner has stopped.
- Rule 1 (one mover): the scheduler picks one ready worker, lets it take exactly its action,
  and records the state that follows before the next decision. A run is therefore a pure
  function of its configuration and its choices.
- Rule 2 (choice 0 is unsurprising): the ready workers are offered in a fixed order — the worker
  that moved last, if it is ready, then the others from the longest-parked to the most recently
  parked. Choice 0 keeps the current worker going; every other choice is a context switch. A
  choice is drawn only when two or more workers are ready.
- Rule 3 (virtual time): back-off sleeps and lock expiry run on a clock the scheduler owns;
  a sleeping worker that is chosen moves the clock to its wake-up time (never backwards).
- Rule 4 (observation): each endpoint is resolved with an A query over the run's own DNS and
  the invariants are judged on the answers. Only a committed UPDATE can change an answer, so
  the endpoints are observed again only after one (`must_observe`), and the same answers are
  the same violations, already reported.

What lives here, once: the world state as an immutable value (`State`), the ready order, the
choice, the plan-store calls, a worker's move, the invariant step, the step record, and the
run's bookkeeping (`Run`: choices, log, violations, the stop rule). The runners add only their
effects: `Simulation` answers DNS from the in-process zone engine (with its memo), the asyncio
runtime awaits a transport (in-process or real UDP to fake_dns). A differential test requires
identical traces from both for identical choices.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fake_dns import ZoneStore
from reproducer.programs import program_workers
from reproducer.running.choices import ChoiceSource
from reproducer.running.trace import RunResult, Step, describe_action, describe_result
from reproducer.world.config import Config, Worker
from reproducer.world.invariants import InvariantChecker, Violation
from reproducer.world.values import (
    ACTION_TYPES,
    Action,
    DeletePlans,
    Done,
    EnactorError,
    EndpointState,
    ListPlans,
    Plan,
    PlanList,
    PlanRead,
    PlansRead,
    PlanStore,
    PublishPlan,
    ReadNewestPlan,
    ReadPlans,
    Result,
    Route53Answer,
    Route53Call,
    UpdateOutcome,
)

__all__ = [
    "Edge",
    "EnactorError",
    "Run",
    "State",
    "end_violations",
    "initial_state",
    "initial_workers",
    "judge",
    "moved_order",
    "must_observe",
    "next_state",
    "perform_route53",
    "perform_store",
    "ready_order",
    "route53_change_id",
    "worker_move",
]

class State:
    """One immutable state of the world.

    `dns` stands for the zone's content where the runner can hold it (the simulation's
    hash-consed `ZoneStore`); a runner whose zone lives behind a transport leaves it None.
    """

    __slots__ = ("_ready", "broken", "clock_ms", "current", "dns", "end_violations", "finished",
                 "highest", "order", "pending", "states", "store", "verdict", "workers")

    def __init__(self, dns: Any, store: PlanStore, clock_ms: int,
                 workers: tuple[Worker, ...], pending: tuple[Action | None, ...],
                 order: tuple[int, ...], current: int | None,
                 highest: tuple[tuple[str, int], ...], broken: frozenset[tuple[int, str | None]],
                 states: tuple[EndpointState, ...], verdict: tuple[Violation, ...],
                 end_violations: tuple[Violation, ...], finished: bool) -> None:
        self.dns = dns
        self.store = store
        self.clock_ms = clock_ms
        self.workers = workers
        self.pending = pending  # the action each worker is parked on (None: finished)
        self.order = order  # worker indices, longest-parked first
        self.current = current  # who moved last
        self.highest = highest  # the highest generation seen per endpoint (invariant 2)
        self.broken = broken  # (invariant, endpoint) broken now: reported when they start
        self.states = states  # every endpoint as a client resolves it now
        self.verdict = verdict  # violations that started with this state (step index 0)
        self.end_violations = end_violations  # invariant 4, once every worker has finished
        self.finished = finished
        self._ready: list[int] | None = None

    def ready(self) -> list[int]:
        """Rule 2: the current worker first (if ready), then the longest-parked first."""
        ready = self._ready
        if ready is None:
            ready = self._ready = ready_order(self.pending, self.store, self.order,
                                              self.current)
        return ready

    @property
    def found(self) -> tuple[Violation, ...]:
        """The violations that started with this state (step index 0)."""
        return self.verdict + self.end_violations if self.finished else self.verdict


@dataclass(slots=True)
class Edge:
    """What happened when `worker` moved from a state: the action it took, the answer, and the
    state it led to."""

    worker: int
    action: Action
    result: Result
    child: State


def initial_workers(config: Config) -> list[Worker]:
    """The workers a run of `config` starts with: the configuration's (`Config.initial_workers`),
    or, when it names a program, the Planner and a process of the program per enactor
    (`reproducer.programs`)."""
    if config.program is not None:
        return program_workers(config)
    return config.initial_workers()


# -- the pure parts of a step ---------------------------------------------------------------------


def ready_order(pending: Sequence[Action | None], store: PlanStore, order: Sequence[int],
                current: int | None) -> list[int]:
    """Rule 2: the ready workers, the current one first (if ready), then the longest-parked
    first. A plan-store wait is ready once a newer plan exists or the store is sealed."""
    newest = store.plans[-1].generation if store.plans else None
    sealed = store.sealed
    ok = [a is not None and (not isinstance(a, ReadNewestPlan) or sealed
                             or (newest is not None and newest > a.newer_than))
          for a in pending]
    first = [current] if current is not None and ok[current] else []
    return first + [w for w in order if ok[w] and w != current]


def moved_order(order: tuple[int, ...], worker: int) -> tuple[int, ...]:
    """The parking order after `worker` moved: it is now the most recently parked."""
    if order[-1] == worker:
        return order
    at = order.index(worker)
    return (*order[:at], *order[at + 1:], worker)


def perform_store(action: Action, store: PlanStore, config: Config,
                  plan: Plan | None = None) -> tuple[Result, PlanStore]:
    """A plan-store call. `plan`, when given, is what a `PublishPlan` writes (the live fleet's
    health read by the runner); otherwise the configuration's scripted plan."""
    match action:
        case ReadNewestPlan(newer_than=n):
            return PlanRead(store.newer_than(n)), store
        case ListPlans():
            return PlanList(store.generations), store
        case ReadPlans():
            return PlansRead(store.plans), store
        case DeletePlans(generations=gens):
            return Done(), store.delete(gens)
        case PublishPlan(generation=gen, seal_after=seal):
            store = store.put(plan if plan is not None else config.plan(gen))
            return Done(), store.seal() if seal else store
    raise AssertionError(f"not a store action: {action!r}")


# What SubmittedAt says of a change made at virtual time 0: the day of the outage (the AWS
# summary, aws.amazon.com/message/101925: 11:48 PM PDT on 19 October, 06:48 UTC on the 20th).
ROUTE53_EPOCH_S = 1_760_942_880


def route53_change_id(principal: str, sequence: int) -> str:
    """The id of the change batch that `principal`'s call number `sequence` made: the same in
    every run, different for every call (Route 53's ids are 'C' and 13 more characters)."""
    digest = hashlib.sha256(f"{principal} {sequence}".encode()).digest()
    return "C" + base64.b32encode(digest).decode()[:13]


def perform_route53(call: Route53Call, dns: ZoneStore, clock_ms: int, *,
                    in_place: bool = False) -> tuple[Route53Answer, ZoneStore]:
    """A Route 53 call on the zone `dns`, with the API's semantics (`fake_dns.route53`): the
    answer, and the zone after it (`dns` itself unless a change batch was accepted; `dns` is
    not changed unless `in_place`). The answer is a function of the zone, the call and the
    clock."""
    from fake_dns.route53 import Route53Api

    after = dns
    if call.request.writes and not in_place:
        # a copy to apply it to (branch copies every node a batch may change in place)
        after = dns.branch(name for zone in dns.zones.values() for name in zone.nodes)
    api = Route53Api(after, clock=lambda: ROUTE53_EPOCH_S + clock_ms / 1000)
    if call.change is not None:
        api.remember_change(call.change.change_id,
                            ROUTE53_EPOCH_S + call.change.submitted_ms / 1000,
                            call.change.comment)
    response = api.handle(call.request, principal=call.principal,
                          change_id=route53_change_id(call.principal, call.sequence))
    answer = Route53Answer(response)
    return answer, after if answer.committed else dns


def must_observe(result: Result) -> bool:
    """Rule 4: only a committed UPDATE (RFC 2136, or a Route 53 change batch) can change what a
    client sees."""
    if isinstance(result, Route53Answer):
        return result.committed
    return isinstance(result, UpdateOutcome) and result.rcode == "NOERROR"


def _checked(worker: Worker, action: object) -> Action | None:
    if action is None or isinstance(action, ACTION_TYPES):
        return action
    raise EnactorError(f"{worker.name}: next_action returned {action!r}, which is not an "
                       f"action; return one of {', '.join(t.__name__ for t in ACTION_TYPES)} "
                       "(reproducer.world.values), or None once finished")


def worker_move(before: Worker, result: Result, clock_ms: int) -> tuple[Worker, Action | None]:
    """`receive` then `next_action`: a worker's move, and the action it parks on."""
    moved = before.receive(result, clock_ms)
    return moved, _checked(moved, moved.next_action(clock_ms))


def judge(config: Config, highest: tuple[tuple[str, int], ...],
          broken: frozenset[tuple[int, str | None]], answers: tuple[EndpointState, ...]
          ) -> tuple[tuple[tuple[str, int], ...], frozenset[tuple[int, str | None]],
                     tuple[Violation, ...]]:
    """The invariant step: (highest generations, broken now, violations that start now)."""
    checker = InvariantChecker(config.layout, config.newest_generation, dict(highest),
                               frozenset(config.invariants), set(broken))
    verdict = checker.after_step(0, answers)
    return tuple(sorted(checker.highest.items())), frozenset(checker.broken), verdict


def end_violations(config: Config, answers: tuple[EndpointState, ...]) -> tuple[Violation, ...]:
    """Invariant 4, once every worker has finished."""
    return InvariantChecker(config.layout, config.newest_generation,
                            watched=frozenset(config.invariants)).at_end(0, answers)


def initial_state(config: Config, workers: Sequence[Worker], dns: Any,
                  answers: tuple[EndpointState, ...], store: PlanStore,
                  canon: Callable[[Any], Any] = lambda v: v) -> State:
    """The state a run starts from: every worker parked on its first action, the endpoints as
    `answers` say (nothing is reported then: the checker only records the generations)."""
    pending = tuple(canon(_checked(w, w.next_action(0))) for w in workers)
    checker = InvariantChecker(config.layout, config.newest_generation,
                               watched=frozenset(config.invariants))
    verdict = checker.after_step(0, answers)
    return State(dns, store, 0, tuple(workers), pending, tuple(range(len(workers))), None,
                 tuple(sorted(checker.highest.items())), frozenset(checker.broken), answers,
                 verdict, (), all(a is None for a in pending))


def next_state(config: Config, state: State, worker: int, *, dns: Any, store: PlanStore,
               clock_ms: int, moved: Worker, parked_on: Action | None,
               answers: tuple[EndpointState, ...] | None) -> State:
    """The state after `worker` moved. `answers` are the endpoints observed after the step
    (None: not observed, Rule 4); the same answers are judged the same."""
    workers = (*state.workers[:worker], moved, *state.workers[worker + 1:])
    pending = (*state.pending[:worker], parked_on, *state.pending[worker + 1:])
    order = moved_order(state.order, worker)
    if answers is None or answers == state.states:
        # Rule 4: the same answers are the same violations, already reported.
        states, highest, broken = state.states, state.highest, state.broken
        verdict: tuple[Violation, ...] = ()
    else:
        states = answers
        highest, broken, verdict = judge(config, state.highest, state.broken, answers)
    end: tuple[Violation, ...] = ()
    finished = parked_on is None and all(a is None for a in pending)
    if finished:
        end = end_violations(config, states)
    return State(dns, store, clock_ms, workers, pending, order, worker, highest, broken,
                 states, verdict, end, finished)


def _reindex(violations: tuple[Violation, ...], index: int) -> tuple[Violation, ...]:
    return tuple(Violation(v.invariant, index, v.endpoint, v.detail) for v in violations)


# -- one run's bookkeeping ---------------------------------------------------------------------


class Run:
    """One run: its state, the choices drawn, the log of moves and the violations, with the
    one choice loop every runner uses (`next_worker`, then the runner's move, then `record`)."""

    def __init__(self, config: Config, root: State, *, stop_at_violation: bool = True) -> None:
        self.config = config
        self.stop_at_violation = stop_at_violation
        self.names: list[str] = [w.name for w in root.workers]
        self.choices: list[int] = []
        self.violations: list[Violation] = []
        self._state = root
        self._log: list[Edge] = []
        self._steps: list[Step] = []

    def _copy_into(self, other: Run) -> None:
        other.config = self.config
        other.stop_at_violation = self.stop_at_violation
        other.names = self.names
        other.choices = list(self.choices)
        other.violations = list(self.violations)
        other._state = self._state
        other._log = list(self._log)
        other._steps = list(self._steps)

    @property
    def state(self) -> State:
        return self._state

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

    def index_of(self, worker: int | str) -> int:
        """A worker by index or by name."""
        if isinstance(worker, int):
            return worker
        try:
            return self.names.index(worker)
        except ValueError:
            raise ValueError(f"no worker {worker!r} in this world; its workers are "
                             f"{', '.join(self.names)}") from None

    def next_worker(self, source: ChoiceSource) -> int | None:
        """The worker that moves next, or None once the run has stopped: a choice is drawn
        from `source` only when two or more workers are ready (Rule 2)."""
        state = self._state
        if state.finished or len(self._log) >= self.config.max_steps or (
                self.stop_at_violation and self.violations):
            return None
        ready = state.ready()
        if not ready:
            return None
        if len(ready) == 1:
            return ready[0]
        names = self.names
        choice = source.choose([names[w] for w in ready])
        self.choices.append(choice)
        return ready[choice]

    def note_choice(self, worker: int) -> None:
        """Record the choice that makes `worker` (ready now) the next to move, as `next_worker`
        would have drawn it (moving a worker by hand keeps the run replayable)."""
        ready = self._state.ready()
        if worker not in ready:
            names = [self.names[w] for w in ready]
            raise ValueError(f"{self.names[worker]} is not ready at step {len(self._log) + 1}; "
                             "the ready workers are "
                             f"{', '.join(names) or 'none (the run is over)'}")
        if len(ready) > 1:
            self.choices.append(ready.index(worker))

    def record(self, edge: Edge, source: ChoiceSource | None = None) -> None:
        """Take `edge` as the next step; tell `source` who moved (sources that follow a
        schedule by worker name count steps this way)."""
        self._state = child = edge.child
        self._log.append(edge)
        found = child.found
        if found:
            self.violations.extend(_reindex(found, len(self._log)))
        moved = getattr(source, "moved", None)
        if moved is not None:
            moved(self.names[edge.worker])

    @property
    def steps(self) -> list[Step]:
        """The narrated trace so far (built on demand: exploration builds none)."""
        built = self._steps
        for index in range(len(built) + 1, len(self._log) + 1):
            edge = self._log[index - 1]
            child = edge.child
            built.append(Step(index, self.names[edge.worker], describe_action(edge.action),
                              describe_result(edge.result), child.workers[edge.worker].note,
                              child.clock_ms, child.states, _reindex(child.found, index),
                              edge.action, edge.result))
        return built

    def schedule(self) -> tuple[str, ...]:
        """Who moved at each step, by name."""
        return tuple(self.names[e.worker] for e in self._log)

    def result(self) -> RunResult:
        return RunResult(self.config, tuple(self.choices), tuple(self.steps),
                         tuple(self.violations), self.finished)
