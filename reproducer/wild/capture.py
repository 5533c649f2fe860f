"""What a wild run captures, and how the capture becomes a schedule the scheduler replays.

Theory of operation
-------------------
- A wild round is recorded as the workers' operations in the order they took effect:
  a plan-store call when it runs (one synchronous step on the shared store), a sleep when it
  ends, and a DNS message when it is sent. The server runs on the same event loop and reads
  one socket, and loopback UDP delivers a datagram within `sendto`: the order the messages
  are sent is the order the server handles them. The server's own log (`ZoneStore.subscribe`:
  every committed UPDATE with its TSIG key name and serial) is kept beside it and checked
  against it.
- Rule 1: store calls and DNS messages touch disjoint state, so only the order within each
  kind and within each worker decides what every worker is answered; the capture has both.
- Rule 2: replaying the capture's worker names under the scheduler (`Simulation.follow`) gives
  each worker the same answers, step for step, hence the same decisions and the same
  violation at the same step — unless something outside the schedule decided: a lock that
  expired on the wall clock (the scheduler's clock only moves with back-off sleeps), or a
  datagram retransmitted after a timeout (the server saw it twice). `check_replay` compares
  every step and names the first that differs, and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_dns import LookupResult
from reproducer.running.core import must_observe
from reproducer.running.replay import save_replay
from reproducer.running.simulation import Simulation
from reproducer.running.trace import RunResult, describe_action, describe_result
from reproducer.world.config import Config
from reproducer.world.invariants import Violation
from reproducer.world.values import (
    Action,
    LockValue,
    Query,
    Result,
    Route53Answer,
    Route53Call,
    SendUpdate,
    Sleep,
    UpdateOutcome,
)

__all__ = ["Captured", "Commit", "ReplayCheck", "RoundCapture", "check_replay", "save_capture"]



@dataclass(slots=True)
class Captured:
    """One operation of one worker: when it took effect (ms since the run started), what it
    was, and what the world answered (None while a DNS message is in flight)."""

    t_ms: float
    worker: str
    action: Action
    result: Result | None = None
    note: str = ""  # why a step is not an operation of the wild run (the round's end)


@dataclass(frozen=True, slots=True)
class Commit:
    """One committed UPDATE as the server logged it."""

    t_ms: float
    serial: int
    key_name: str
    step: int  # 1-based index of the captured UPDATE it belongs to (0: none)


@dataclass
class RoundCapture:
    """Everything one round of a wild run did, in order."""

    config: Config
    number: int
    steps: list[Captured] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    violation: Violation | None = None  # the first one, judged after each commit
    violation_t_ms: float | None = None

    def schedule(self) -> tuple[str, ...]:
        return tuple(s.worker for s in self.steps)

    def complete_prefix(self) -> int:
        """How many leading steps have their answer (a round cut short leaves some in
        flight: the schedule stops before the first of those)."""
        for i, step in enumerate(self.steps):
            if step.result is None:
                return i
        return len(self.steps)


@dataclass(frozen=True, slots=True)
class ReplayCheck:
    """The capture replayed under the scheduler."""

    result: RunResult
    diverged_at: int | None  # the first step whose answer or action differs (1-based)
    reason: str | None

    @property
    def exact(self) -> bool:
        return self.diverged_at is None


def _signature(action: Action, result: Result | None, lock_name: str) -> tuple[Any, ...]:
    """What must agree between the wild step and its replay. The lock record's expiry and a
    sleep's wake-up time are wall-clock milliseconds in the wild and virtual ones under the
    scheduler: they are left out; the lock's holder and stamp are compared."""
    if isinstance(action, Sleep):
        return ("sleep",)
    if isinstance(action, SendUpdate):
        rcode = result.rcode if isinstance(result, UpdateOutcome) else None
        return ("update", action.why or action.update.describe(), rcode)
    if isinstance(action, Route53Call):
        # the answer's body holds SubmittedAt, a wall time in the wild and a virtual one under
        # the scheduler: what was asked, and the status and error it got, are compared
        response = result.response if isinstance(result, Route53Answer) else None
        return ("route53", action.request.digest(),
                None if response is None else (response.status, response.error))
    if isinstance(action, Query):
        answer: tuple[Any, ...] = ()
        if isinstance(result, LookupResult):
            parts: list[Any] = [result.rcode.name]
            for rr in result.answer:
                lock = LockValue.parse(rr.rdata) if rr.name == lock_name else None
                parts.append((rr.rtype, (lock.holder, lock.stamp) if lock else rr.rdata))
            answer = tuple(parts)
        return ("query", action.name, action.rtype, answer)
    return ("store", action, result)


def _lock_read_before(steps: Sequence[Captured], index: int, lock_name: str) -> Captured | None:
    """The last lock read of the worker of steps[index], before it."""
    who = steps[index].worker
    for step in reversed(steps[:index]):
        if step.worker == who and isinstance(step.action, Query) and step.action.name == \
                lock_name:
            return step
    return None


def _why(capture: RoundCapture, index: int, sim_clock_ms: int) -> str:
    """Why step index+1 of the wild round differs under the scheduler (best explanation)."""
    config = capture.config
    step = capture.steps[index]
    read = _lock_read_before(capture.steps, index, config.layout.lock_name)
    if read is not None and isinstance(read.result, LookupResult):
        lock = next((LockValue.parse(rr.rdata) for rr in read.result.answer
                     if rr.rtype == "TXT"), None)
        if lock is not None and not lock.is_free and lock.holder != step.worker:
            expired = lock.expires_ms <= read.t_ms
            return (f"{step.worker} read the lock of {lock.holder} at t={read.t_ms:.0f} ms, "
                    f"whose lease ran to {lock.expires_ms} ms: on the wall clock it had "
                    f"{'expired' if expired else 'not expired'}; the scheduler's clock "
                    f"({sim_clock_ms} ms, moved only by back-off sleeps) says the opposite — "
                    "a lock that expired on the wall clock")
    return (f"the scheduler's {step.worker} did not get the answer the wild one got (a "
            "retransmitted or reordered datagram, or an enactor whose decision depends on "
            "the wall clock)")


def _commit_mismatch(capture: RoundCapture, upto: int) -> tuple[int, str] | None:
    """The server's log of commits against the committed UPDATEs of the capture."""
    mine = [(i + 1, s.worker) for i, s in enumerate(capture.steps[:upto])
            if s.result is not None and must_observe(s.result)]
    logged = [c for c in capture.commits if c.step and c.step <= upto]
    for (step, worker), commit in zip(mine, logged, strict=False):
        if commit.key_name.rstrip(".") != worker or commit.step != step:
            return step, (f"the server committed an UPDATE of {commit.key_name} (serial "
                          f"{commit.serial}) where the capture has {worker}'s: a datagram "
                          "handled out of the order it was sent")
    if len(logged) > len(mine):
        extra = logged[len(mine)]
        return extra.step, (f"the server committed one more UPDATE of {extra.key_name} than "
                            "its sender was answered for: a retransmitted datagram")
    return None


def check_replay(capture: RoundCapture, upto: int | None = None) -> ReplayCheck:
    """Replay the first `upto` captured steps (default: every complete one) by worker name
    under the scheduler, in process, comparing every step; stops at the first violation."""
    config = capture.config
    upto = capture.complete_prefix() if upto is None else min(upto, capture.complete_prefix())
    sim = Simulation(config)
    lock_name = config.layout.lock_name
    mismatch = _commit_mismatch(capture, upto)
    for index, step in enumerate(capture.steps[:upto]):
        if sim.stopped:
            break
        who = sim.index_of(step.worker)
        if who not in sim.state.ready():
            return ReplayCheck(sim.result(), index + 1,
                               f"{step.worker} is not ready under the scheduler at step "
                               f"{index + 1}: " + _why(capture, index, sim.clock_ms))
        taken = sim.move(who)
        wild = _signature(step.action, step.result, lock_name)
        replayed = _signature(taken.taken, taken.answer, lock_name) \
            if taken.taken is not None else None
        if wild != replayed:
            if mismatch is not None and mismatch[0] <= index + 1:
                reason = mismatch[1]
            else:
                reason = _why(capture, index, sim.clock_ms)
            return ReplayCheck(sim.result(), index + 1,
                               f"step {index + 1}: the wild {step.worker} took "
                               f"'{describe_action(step.action)}' -> "
                               f"{describe_result(step.result) if step.result else '?'}, the "
                               f"replayed one '{taken.action}' -> {taken.outcome}; {reason}")
    return ReplayCheck(sim.result(), None, None)


def save_capture(path: Path, capture: RoundCapture, check: ReplayCheck,
                 meta: dict[str, Any]) -> Path:
    """A replay file: the scheduler's choices for `reproducer replay`, and beside them the
    schedule by worker name, each step's wall time, and the server's log of commits."""
    taken = check.result.length
    steps = capture.steps[:taken]
    wild = dict(meta)
    wild.update({
        "round": capture.number,
        "times_ms": [round(s.t_ms, 3) for s in steps],
        "notes": {str(i + 1): s.note for i, s in enumerate(steps) if s.note},
        "server_commits": [{"t_ms": round(c.t_ms, 3), "serial": c.serial,
                            "key": c.key_name, "step": c.step}
                           for c in capture.commits if c.step and c.step <= taken],
        "violation": None if capture.violation is None else
        {"invariant": capture.violation.invariant, "step": capture.violation.step,
         "endpoint": capture.violation.endpoint, "t_ms": capture.violation_t_ms},
        "replayed_exactly": check.exact,
        "diverged_at": check.diverged_at,
        "why": check.reason,
    })
    return save_replay(path, check.result, workers=[s.worker for s in steps], extra=wild)
