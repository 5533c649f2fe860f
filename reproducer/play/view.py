"""What the play page shows, as plain values: the challenges, a position of a world described as
JSON, why a move cannot be made, and what the guide says. No I/O here: the aiohttp handlers
(`reproducer.play.server`) and the worlds behind them (`reproducer.play.worlds`) call
these functions on the state of a run.

A *position* is the list of the workers that moved, by name, in order ("planner", "enactor-1",
...): the whole schedule, and everything a link needs to restore a game.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fake_dns import LookupResult
from reproducer.running.core import Run
from reproducer.running.trace import Step
from reproducer.search import Exploration
from reproducer.world.config import Config
from reproducer.world.invariants import INVARIANTS, Violation
from reproducer.world.values import (
    Action,
    DeletePlans,
    ListPlans,
    LockValue,
    PublishPlan,
    Query,
    ReadNewestPlan,
    SendUpdate,
    Sleep,
)

__all__ = ["CHALLENGES", "FREE", "Challenge", "describe_world", "guide_json", "plain_action",
           "proof_json", "refusal", "worker_key"]

FREE = "free"  # the world the command line configured (`reproducer play --variant ...`)


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of the page, in the order a learner meets them.

    kind: "break" — break the world's invariants; "fewest" — the same, in the fewest moves
    (breadth-first search knows the minimum); "hold" — a correct fix: it cannot be broken, and
    the page explains why with the exhaustive search's numbers.
    """

    id: str
    title: str
    goal: str
    kind: str
    config: Config
    lesson: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "goal": self.goal, "kind": self.kind,
                "variant": self.config.label, "lesson": self.lesson,
                "config": self.config.to_json()}


_EMPTY = (1,)  # "empty the record": invariant 1, an endpoint that resolves to no address
CHALLENGES: tuple[Challenge, ...] = (
    Challenge(
        "empty-the-record", "Empty the record",
        "Schedule the workers of aws-2025 until dynamodb resolves to no address at all.",
        "break", Config(variant="aws-2025", invariants=_EMPTY),
        "A slow enactor's one-time freshness check went stale: it flipped the alias back to an "
        "old plan, and clean-up by age deleted the tree the alias now pointed at. Clients got "
        "NOERROR with no address, as on 20 October 2025."),
    Challenge(
        "fewest-moves", "In the fewest moves",
        "Empty the record again, in as few moves as you can. The minimum is revealed when "
        "you are done.",
        "fewest", Config(variant="aws-2025", invariants=_EMPTY),
        "Breadth-first search over every schedule finds the shortest story; a shorter one does "
        "not exist."),
    Challenge(
        "recheck-before-write", "Break a tempting fix: recheck before write",
        "This enactor re-reads the alias and re-checks freshness before each flip. Empty the "
        "record anyway.",
        "break", Config(variant="recheck-before-write", invariants=_EMPTY),
        "The re-check is a separate query: between it and the flip, another enactor can still "
        "flip and clean up. Check-then-act, just with a shorter window."),
    Challenge(
        "cleanup-checks-active", "Break a tempting fix: clean-up checks the active tree",
        "Clean-up now reads which trees are active and spares them. Empty the record anyway.",
        "break", Config(variant="cleanup-checks-active", invariants=_EMPTY),
        "Clean-up reads the active trees, then deletes in a later step: its own check-then-act. "
        "An alias can move onto a doomed tree in between."),
    Challenge(
        "cas-flip", "Try to break cas-flip",
        "The flip is now a compare-and-set. Try to break any invariant (two enactors, one "
        "new plan). When you are convinced, ask why it cannot be done.",
        "hold", Config(variant="cas-flip", enactors=2, plans=1),
        "The freshness check and the write are one UPDATE: its RFC 2136 prerequisite says "
        "'the alias still points at the tree I read' (§2.4.2), so a stale flip is refused "
        "with NXRRSET and the active generation only goes up; clean-up by age only reaches "
        "trees older than the applied one, never the tree an alias points at."),
)


def worker_key(name: str) -> str:
    """The key that moves a worker, and its letter in a link: p for the planner, N for
    enactor-N (at most 9 enactors), else the name itself."""
    if name == "planner":
        return "p"
    prefix, _, number = name.rpartition("-")
    return number if prefix == "enactor" and len(number) == 1 and number.isdigit() else name


def _short(name: str, zone: str) -> str:
    return name[: -len(zone) - 1] if name.endswith("." + zone) else name


def plain_action(action: Action | None, ready: bool, zone: str) -> str:
    """What a worker will do when it moves next, in plain words."""
    match action:
        case None:
            return "has finished"
        case Query(name=name, rtype=rtype, why=why):
            asks = f"DNS query {_short(name, zone)} {rtype}"
            return f"{why} ({asks})" if why else asks
        case SendUpdate(why=why):
            return f"{why or 'change DNS'} (one signed UPDATE)"
        case ReadNewestPlan(newer_than=n):
            newer = f"newer than g{n}" if n else "to apply"
            return (f"pick up the newest plan {newer} from the store" if ready
                    else f"waits for a plan {newer}: none in the store yet")
        case ListPlans():
            return "clean-up: list the plans in the store"
        case DeletePlans(generations=gens):
            return "clean-up: delete " + ", ".join(f"g{g}" for g in gens) + " from the store"
        case PublishPlan(generation=gen, seal_after=last):
            return f"write plan g{gen} to the store" + (", its last one" if last else "")
        case Sleep(until_ms=until):
            return f"back off: sleep until t={until} ms (the lock was taken)"
    return repr(action)


def refusal(run: Run, worker: str) -> str | None:
    """Why `worker` cannot move now in `run`, in a sentence; None if it can."""
    if worker not in run.names:
        return (f"there is no worker {worker!r} in this world; its workers are "
                f"{', '.join(run.names)}")
    if run.finished:
        return f"the run is over: every worker has finished, so {worker} cannot move"
    if run.length >= run.config.max_steps:
        return (f"the run is over: it reached its bound of {run.config.max_steps} steps "
                "(--max-steps)")
    index = run.names.index(worker)
    ready = run.ready()
    if index in ready:
        return None
    who = ", ".join(run.names[w] for w in ready) or "nobody"
    action = run.state.pending[index]
    if action is None:
        return f"{worker} has finished (ready now: {who})"
    return (f"{worker} is not ready: it {plain_action(action, False, run.config.layout.zone)} "
            f"(ready now: {who})")


def _lock_json(answer: LookupResult | None) -> dict[str, Any]:
    if answer is None:
        return {"answer": None}
    txt = next((rr.rdata for rr in answer.answer if rr.rtype == "TXT"), None)
    lock = LockValue.parse(txt) if txt else None
    return {"answer": f"{answer.rcode.name} {txt or '(empty)'}",
            "holder": None if lock is None or lock.is_free else lock.holder,
            "expires_ms": lock.expires_ms if lock else None,
            "stamp": lock.stamp if lock else None}


def _violation_json(v: Violation) -> dict[str, Any]:
    return {"invariant": v.invariant, "step": v.step, "endpoint": v.endpoint,
            "title": v.title, "detail": v.detail, "sentence": v.describe()}


def _step_json(step: Step) -> dict[str, Any]:
    return {"index": step.index, "worker": step.worker, "key": worker_key(step.worker),
            "kind": step.kind, "action": step.action, "outcome": step.outcome,
            "note": step.note, "rcode": step.rcode, "clock_ms": step.clock_ms,
            "violations": [_violation_json(v) for v in step.violations]}


def describe_world(run: Run, *, world: str, challenge: str, dns: str,
                   lock: LookupResult | None) -> dict[str, Any]:
    """A position of a world as the page draws it. `dns` is the HOST:PORT of the world's DNS
    server (a learner can query it too); `lock` the TXT lock record as DNS answered it just
    now (None when not asked)."""
    config, state = run.config, run.state
    layout = config.layout
    ready = set(run.ready())
    over = run.finished or run.length >= config.max_steps
    workers = [{"name": name, "key": worker_key(name), "ready": i in ready and not over,
                "finished": state.pending[i] is None,
                "next": plain_action(state.pending[i], i in ready, layout.zone),
                "note": state.workers[i].note}
               for i, name in enumerate(run.names)]
    endpoints = [{"endpoint": e.endpoint, "name": layout.endpoint_name(e.endpoint),
                  "rcode": e.rcode, "alias": e.alias_target, "generation": e.generation,
                  "addresses": list(e.addresses)} for e in state.states]
    return {
        "world": world, "challenge": challenge, "dns": dns, "label": config.label,
        "variant": config.variant, "config": config.to_json(),
        "summary": (config.variant_info_or_none.summary
                    if config.variant_info_or_none and not config.enactor
                    else f"your enactor {config.enactor}"),
        "invariants": {str(i): INVARIANTS[i] for i in config.invariants},
        "position": list(run.schedule()), "at": run.length, "over": over,
        "finished": run.finished, "clock_ms": state.clock_ms,
        "workers": workers, "endpoints": endpoints, "lock": _lock_json(lock),
        "plans": [{"generation": p.generation,
                   "targets": {label: [f"{t.address}:{t.weight}" for t in targets]
                               for label, targets in p.endpoints}}
                  for p in state.store.plans],
        "sealed": state.store.sealed,
        "steps": [_step_json(s) for s in run.steps],
        "violations": [_violation_json(v) for v in run.violations],
    }


def _goal(config: Config) -> str:
    if set(config.invariants) <= {1, 3}:
        return "the record can be emptied"
    return "an invariant can be broken"


def guide_json(config: Config, position: Sequence[str], search: Exploration | None,
               violations: Sequence[Violation], over: bool, max_states: int) -> dict[str, Any]:
    """What the guide says at `position`, from a breadth-first search started there
    (`search`; None when there was nothing to search: broken already, or over)."""
    base: dict[str, Any] = {"at": len(position), "distance": None, "next": None,
                            "states": None, "exhausted": None}
    if violations:
        return {**base, "status": "broken",
                "text": f"Already broken. {violations[0].describe()}"}
    if over or search is None:
        return {**base, "status": "over",
                "text": "The run is over: nothing more can happen from here. Undo or reset."}
    base.update(states=search.states, exhausted=search.exhausted)
    result = search.result
    if search.found and result is not None and result.length > len(position):
        distance = result.length - len(position)
        nxt = result.steps[len(position)].worker
        v = result.violations[0]
        how = "" if set(config.invariants) <= {1, 3} else f" (invariant {v.invariant}: {v.title})"
        return {**base, "status": "reachable", "distance": distance, "next": nxt,
                "next_key": worker_key(nxt),
                "text": f"From here {_goal(config)} in {distance} more "
                        f"move{'s' if distance != 1 else ''}{how}."}
    states = f"{search.states:,}" if search.states is not None else "all"
    if search.exhausted:
        return {**base, "status": "never",
                "text": f"From here it can never be done: breadth-first search checked every "
                        f"one of the {states} states reachable within {config.max_steps} "
                        "steps, and none breaks it."}
    return {**base, "status": "unknown",
            "text": f"The guide cannot tell: it searched {states} states (its bound is "
                    f"{max_states:,}) without finding a way, and did not reach them all."}


def proof_json(config: Config, search: Exploration) -> dict[str, Any]:
    """The exhaustive search from the start of a world: the minimum, or the proof that there
    is no way (a challenge reveals it when done)."""
    result = search.result
    found = search.found and result is not None
    return {"variant": config.label, "enactors": config.enactors, "plans": config.plans,
            "max_steps": config.max_steps, "invariants": list(config.invariants),
            "found": found, "minimum": result.length if found and result else None,
            "states": search.states, "exhausted": search.exhausted}
