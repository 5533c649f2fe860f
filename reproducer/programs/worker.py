"""A program as the scheduler's `Worker`: an OS process whose next action is the request it has
sent and that its listener holds.

Theory of operation
-------------------
- Rule 1 (a move is an answer and a wait): `receive(result)` answers the held request with
  the world's result, then waits until the program has sent its next request (its new pending
  action) or exited (finished). A program that does neither within `quiet_timeout_s` is
  reported by name with what it last received; one that exits non-zero is a failed run, with
  the tail of its stderr.
- Rule 2 (a value): a `ProgramWorker` is the command, the enactor's name and its history — the
  worker value before the last answer (`parent`), that answer, and the clock then. For a
  deterministic program the history decides what it does next, so two workers with equal
  histories are equal (what the memo and breadth-first search rely on). The live process is
  handed forward from value to value in a run that only moves forward; a value whose process
  has moved on elsewhere, or was ended, is rebuilt by re-execution: a new process, given the
  same answers, must send the same requests (by `request_digest`), or it is named as not
  deterministic ("cannot replay exactly: enactor-2's 5th request was ..., before it was ...").
- Rule 3 (the sender's own past): a Route 53 call is completed from the sender's history: its
  sequence number (so a change batch gets the same id in every run) and, for GetChange, the
  change it was given under that id.
- Rule 4 (replay files): while `expecting(requests)` is in force, every request a program
  sends is checked against the file's list for its enactor, and the first that differs ends
  the run with both ("... the file has ...").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ClassVar

from reproducer.programs.host import (
    Exited,
    Held,
    ProgramError,
    ProgramSpec,
    Session,
    host,
    settings,
)
from reproducer.world.values import (
    Action,
    IssuedChange,
    Layout,
    Result,
    Route53Answer,
    Route53Call,
    describe_action,
    evolve,
    request_digest,
)

__all__ = ["ProgramWorker", "Request", "expecting"]

@dataclass(frozen=True, slots=True)
class Request:
    """One request as a replay file records it: its digest and what it was, in words."""

    digest: str
    text: str

    @classmethod
    def of(cls, action: Action) -> Request:
        return cls(request_digest(action), describe_action(action))


_EXPECTED: ContextVar[Mapping[str, Sequence[Request]] | None] = ContextVar(
    "reproducer_programs_expected", default=None)


@contextlib.contextmanager
def expecting(requests: Mapping[str, Sequence[Request]]) -> Iterator[None]:
    """Within the block, each program's requests are checked against `requests` (by enactor
    name, in order): Rule 4."""
    token = _EXPECTED.set(requests)
    try:
        yield
    finally:
        _EXPECTED.reset(token)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class ProgramWorker:
    """A program's process as a `Worker` value (module docstring)."""

    memo_moves: ClassVar[bool] = False  # a remembered move would hand out a spent process

    __slots__ = ("_hash", "_live", "answer", "answered_ms", "depth", "name", "note", "parent",
                 "pending", "spec")
    depth: int
    _hash: int

    def __init__(self, spec: ProgramSpec, parent: ProgramWorker | None, answer: Result | None,
                 answered_ms: int, pending: Action | None,
                 live: tuple[Session, Held] | None) -> None:
        self.spec = spec
        self.name = spec.name
        self.parent = parent
        self.answer = answer
        self.answered_ms = answered_ms
        self.depth = 0 if parent is None else parent.depth + 1
        self.pending = pending
        self.note = ""
        self._live = live
        self._hash = hash((spec.name, answer, answered_ms,
                           spec.command if parent is None else parent._hash))

    @classmethod
    def start(cls, command: str, names: Sequence[str], layout: Layout,
              cwd: str | None = None) -> list[ProgramWorker]:
        """Each enactor of `names` as a process of `command`, parked on its first request
        (the processes start together)."""
        specs = [ProgramSpec(command, name, layout, cwd or os.getcwd()) for name in names]
        sessions = [host().claim(spec) for spec in specs]
        roots = []
        for spec, session in zip(specs, sessions, strict=True):
            root = cls(spec, None, None, 0, None, None)
            pending, held = root._wait(session, first=True)
            root.pending = pending
            root._live = None if held is None else (session, held)
            roots.append(root)
        return roots

    # -- a value ------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, ProgramWorker):
            return NotImplemented
        return (self._hash == other._hash and self.name == other.name
                and self.answered_ms == other.answered_ms and self.answer == other.answer
                and (self.parent is other.parent or self.parent == other.parent)
                and (self.parent is not None or self.spec == other.spec))

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return (f"ProgramWorker({self.name!r}, {self.spec.command!r}, after {self.depth} "
                f"answers, pending={self.pending!r})")

    def close(self) -> None:
        """End this value's live process, if it has one (a wild round's end)."""
        live, self._live = self._live, None
        if live is not None:
            live[0].end()

    def absorb(self, twin: ProgramWorker) -> None:
        """Take `twin`'s live process (an equal value made by another run) if this one has
        none, so a forward run never re-executes; a second live process is ended."""
        if twin._live is None:
            return
        if self._live is None or not self._live[0].alive:
            self._live, twin._live = twin._live, None
        else:
            twin._live[0].end()
            twin._live = None

    # -- the Worker protocol ------------------------------------------------------------------

    def next_action(self, now_ms: int) -> Action | None:
        return self.pending

    def receive(self, result: Result, now_ms: int) -> ProgramWorker:
        live, self._live = self._live, None
        if live is None or not live[0].alive:
            live = self._reexecute()
        session, held = live
        session.answer(held, result)
        child = ProgramWorker(self.spec, self, result, now_ms, None, None)
        pending, next_held = child._wait(session)
        child.pending = pending
        child._live = None if next_held is None else (session, next_held)
        return child

    # -- waiting for the program --------------------------------------------------------------

    def _complete(self, action: Action) -> Action:
        """Rule 3: a Route 53 call with its sender's sequence number and issued change."""
        if not isinstance(action, Route53Call):
            return action
        change = None
        change_id = getattr(action.request.operation, "change_id", None)
        if change_id is not None:
            wanted = change_id.rpartition("/")[2]
            node: ProgramWorker | None = self
            while node is not None and node.parent is not None:
                answer = node.answer
                if isinstance(answer, Route53Answer) and answer.response.change_id == wanted:
                    asked = node.parent.pending
                    batch = getattr(getattr(asked, "request", None), "operation", None)
                    comment = getattr(getattr(batch, "batch", None), "comment", None)
                    change = IssuedChange(wanted, node.answered_ms, comment)
                    break
                node = node.parent
        return evolve(action, principal=self.name, sequence=self.depth, change=change)

    def _wait(self, session: Session, *, first: bool = False
              ) -> tuple[Action | None, Held | None]:
        """Rule 1: the program's next request (completed, checked against a replay file's),
        or None once it exited with status 0."""
        event = session.next_event(settings.quiet_timeout_s)
        if event is None:
            session.end()
            after = ("after it started" if first else
                     f"after its {_ordinal(session.requests)} answer ({session.last})")
            raise ProgramError(
                f"{self.name} (program {self.spec.command!r}) fell quiet: no request and no "
                f"exit within {settings.quiet_timeout_s:g} s {after}; a program must send "
                "its next request or exit (is it waiting on something the scheduler does "
                "not hold: a sleep, a timeout, another server?) --quiet-timeout S")
        if isinstance(event, Exited):
            session.end()
            if event.returncode != 0:
                how = (f"was killed by signal {-event.returncode}" if event.returncode < 0
                       else f"exited with status {event.returncode}")
                tail = event.stderr.strip().splitlines()[-12:]
                raise ProgramError(
                    f"{self.name} (program {self.spec.command!r}) {how} after "
                    f"{session.requests} request{'s' if session.requests != 1 else ''}"
                    + ("; its stderr ends:\n" + "\n".join("    " + t for t in tail)
                       if tail else " (nothing on stderr)"))
            return None, None
        action = self._complete(event.action)
        expected = _EXPECTED.get()
        if expected is not None:
            wanted = expected.get(self.name, ())
            index = self.depth + 1
            got = Request.of(action)
            if index <= len(wanted) and wanted[index - 1].digest != got.digest:
                session.end()
                raise ProgramError(
                    f"cannot replay exactly: {self.name}'s {_ordinal(index)} request was "
                    f"{got.text}, the file has {wanted[index - 1].text} (the program is "
                    "not deterministic: given the same answers, it asked for something else)")
        return action, event

    def _reexecute(self) -> tuple[Session, Held]:
        """Rule 2: a new process, given this value's history, must ask for the same again."""
        history: list[ProgramWorker] = []
        node: ProgramWorker | None = self
        while node is not None:
            history.append(node)
            node = node.parent
        history.reverse()  # root first: history[i].pending is request i + 1
        session = host().claim(self.spec)
        for i, value in enumerate(history):
            got, held = value._wait(session, first=i == 0)
            want = value.pending
            if got is None or want is None or held is None or \
                    request_digest(got) != request_digest(want):
                session.end()
                said = "it exited" if got is None else describe_action(got)
                was = "it exited" if want is None else describe_action(want)
                raise ProgramError(
                    f"cannot replay exactly: {self.name}'s {_ordinal(i + 1)} request was "
                    f"{said}, before it was {was} (the program is not deterministic: given the "
                    "same answers, it asked for something else)")
            if value is self:
                return session, held
            answer = history[i + 1].answer
            assert answer is not None
            session.answer(held, answer)
        raise AssertionError("unreachable: the loop returns at this value")
