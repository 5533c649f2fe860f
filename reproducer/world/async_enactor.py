"""Enactors written as ordinary asyncio code: an `async def` that receives a `Handle` and awaits
it for everything it shares with the world.

    async def enactor(h: Handle) -> None:
        done = 0
        while (plan := await h.newest_plan(newer_than=done)) is not None:
            answer = await h.query(h.layout.endpoint_name("dynamodb"), "CNAME")
            ...
            rcode = await h.update(update)        # a fake_dns.Update, or a dnspython message
            done = plan.generation

Theory of operation
-------------------
- Rule 1: every awaited call on the handle is one scheduling point. The call becomes an action
  value (`Query`, `SendUpdate`, `ReadNewestPlan`, `ListPlans`, `DeletePlans`, `Sleep`) that the
  coroutine yields to whoever drives it; the answer is sent back in. Nothing else may suspend
  the coroutine: awaiting anything outside the handle (its own `asyncio.sleep`, its own
  socket) is reported at once, naming the worker and what it awaited.
- Rule 2: the coroutine is driven with `send`, with no event loop of its own, so the same
  function runs under the scheduler (in process or over real UDP: the runner performs the
  action) and free (a runner that performs each action for real, with real time).
- Rule 3: a `CoroutineWorker` is a value: the program, the worker's name, and its history —
  every answer it received, with the clock at that moment. For deterministic code the history
  decides the coroutine's state, so two workers with equal histories are equal (what the
  memo of forward runs relies on), and a worker whose coroutine has moved on elsewhere is
  rebuilt by re-executing the program over its history (checking that it asks for the same
  actions again). In a run that only moves forward the live coroutine is handed from each
  worker value to the next, so nothing is re-executed.
- Rule 4 (a state, not a history): many histories lead to the same suspended coroutine. Its
  state is where each frame of its await chain waits (the code and the instruction) and the
  values its locals hold, with the objects they reach (`coroutine_state`): a deterministic
  program's future depends on nothing else, so the exhaustive search identifies a worker by
  it (`CoroutineWorker.state`). A local that holds what has no value of its own (a socket, a
  lock, a task: `Uncanonical`) leaves the worker identified by its history, and says why.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import traceback
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Hashable, Iterable
from typing import Any, ClassVar

import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from fake_dns import LookupResult, Update, update_from_wire
from reproducer.world.values import (
    Action,
    DeletePlans,
    EnactorError,
    Layout,
    ListPlans,
    Plan,
    PlanList,
    PlanRead,
    Query,
    ReadNewestPlan,
    Result,
    SendUpdate,
    Sleep,
    UpdateOutcome,
)
from reproducer.world.variants import EnactorSettings, Variant

__all__ = ["CoroutineWorker", "Handle", "Program", "Uncanonical", "coroutine_state",
           "is_async_enactor", "program_of"]

Program = Callable[["Handle"], Coroutine[Any, Any, None]]
"""An async enactor: called with its handle, once per run (and again to re-execute)."""


class _Ask:
    """The one thing an enactor's coroutine may yield: an action for the scheduler."""

    __slots__ = ("action",)

    def __init__(self, action: Action) -> None:
        self.action = action

    def __await__(self) -> Generator[_Ask, Any, Any]:
        return (yield self)


class Handle:
    """What an async enactor uses for everything it shares with the world. Each `await` on it
    is one scheduling point; `now_ms` is the clock (virtual under the scheduler)."""

    def __init__(self, name: str, layout: Layout, variant: Variant | None,
                 settings: EnactorSettings) -> None:
        self.name = name
        self.layout = layout
        self.variant = variant
        self.settings = settings
        self.now_ms = 0
        self._note = ""

    def note(self, text: str) -> None:
        """Say what the last step meant; shown in traces (not a scheduling point)."""
        self._note = text

    async def query(self, name: str, rtype: str = "A", why: str = "") -> LookupResult:
        """A DNS query; the answer as the zone gives it (rcode, answer records)."""
        result: LookupResult = await _Ask(Query(name, rtype, why))
        return result

    async def update(self, update: Update | dns.message.Message, why: str = "") -> str:
        """An RFC 2136 UPDATE (a `fake_dns.Update`, or a dnspython `UpdateMessage`, whose
        signature the runner replaces with this worker's own key); the rcode's name."""
        if isinstance(update, dns.message.Message):
            update = update_from_wire(update.to_wire())
        outcome: UpdateOutcome = await _Ask(SendUpdate(update, why))
        return outcome.rcode

    async def send(self, message: dns.message.Message) -> dns.message.Message:
        """A dnspython query or UPDATE, answered with a dnspython response (production-style
        code runs as it is)."""
        response = dns.message.make_response(message)
        if message.opcode() == dns.opcode.UPDATE:
            response.set_rcode(dns.rcode.from_text(await self.update(message)))
            return response
        question = message.question[0]
        result = await self.query(question.name.to_text(),
                                  dns.rdatatype.to_text(question.rdtype))
        response.set_rcode(result.rcode)
        for rr in result.answer:
            response.answer.append(dns.rrset.from_text(rr.name, rr.ttl, dns.rdataclass.IN,
                                                       rr.rtype, rr.rdata))
        return response

    async def newest_plan(self, newer_than: int = 0) -> Plan | None:
        """Wait for a plan newer than generation `newer_than` and read it; None once the
        planner has stopped with nothing newer."""
        read: PlanRead = await _Ask(ReadNewestPlan(newer_than))
        return read.plan

    async def list_plans(self) -> tuple[int, ...]:
        """The generations in the plan store."""
        listed: PlanList = await _Ask(ListPlans())
        return listed.generations

    async def delete_plans(self, generations: Iterable[int]) -> None:
        await _Ask(DeletePlans(tuple(generations)))

    async def sleep(self, ms: int) -> None:
        """Back off for `ms` milliseconds of the run's clock."""
        await _Ask(Sleep(self.now_ms + ms))


class Uncanonical(TypeError):
    """A local whose value is not a value (it has hidden state): the message says which."""


_SCALARS = (type(None), int, float, str, bytes, complex)
# what holds state outside Python values: the interpreter's, the event loop's, the OS's
_SYSTEM = frozenset(("builtins", "asyncio", "_asyncio", "socket", "ssl", "threading",
                     "_thread", "io", "_io", "selectors", "subprocess", "multiprocessing",
                     "concurrent", "queue"))


def coroutine_state(coroutine: Coroutine[Any, Any, None], handle: Handle) -> Hashable:
    """A suspended coroutine as a value (Rule 4): for each frame of its await chain, its code,
    the instruction it waits at, and its locals' values (`_Values`); `Uncanonical` when a local
    holds something that is not a value. The `handle` stands for itself: what it holds is the
    worker's name and configuration, the clock (set again before every resume) and a note."""
    values = _Values(handle)
    frames = []
    link: Any = coroutine
    while link is not None:
        frame = getattr(link, "cr_frame", None) or getattr(link, "gi_frame", None)
        if frame is None:
            break
        frames.append((frame.f_code, frame.f_lasti,
                       tuple(sorted((name, values.of(value))
                                    for name, value in frame.f_locals.items()))))
        link = getattr(link, "cr_await", None) or getattr(link, "gi_yieldfrom", None)
    return tuple(frames)


class _Values:
    """Canonical values of what locals hold: scalars as they are (a bool tagged, as True == 1);
    containers by their items, in order (a set or a frozenset as a set); enums by name;
    dataclasses by their compared fields; other objects by class and attributes, each object
    once (later mentions by number, so shared and cyclic references are told as they are)."""

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.numbered: dict[int, int] = {}
        self.kept: list[object] = []  # (alive, so that no id is reused while numbering)

    def of(self, value: Any) -> Hashable:
        if isinstance(value, bool):
            return ("bool", value)
        if isinstance(value, _SCALARS):
            return value
        if isinstance(value, enum.Enum):
            return ("enum", type(value).__qualname__, value.name)
        if isinstance(value, tuple):
            return ("tuple", tuple(self.of(v) for v in value))
        if value is self.handle:
            return ("handle",)
        if isinstance(value, frozenset):
            return ("set", frozenset(self.of(v) for v in value))
        if dataclasses.is_dataclass(value) and not isinstance(value, type) and \
                type(value).__dataclass_params__.frozen:  # type: ignore[attr-defined]
            return (type(value).__qualname__, tuple(
                self.of(getattr(value, f.name)) for f in dataclasses.fields(value) if f.compare))
        if isinstance(value, types.FunctionType | types.BuiltinFunctionType | type
                      | types.ModuleType):
            if isinstance(value, types.FunctionType) and value.__closure__:
                raise Uncanonical(f"a closure ({value.__qualname__}), whose cells may change")
            return ("named", getattr(value, "__module__", None), value.__qualname__
                    if not isinstance(value, types.ModuleType) else value.__name__)
        if isinstance(value, types.MethodType):
            return ("method", self.of(value.__self__), value.__func__.__qualname__)
        if isinstance(value, _Ask):
            return ("ask", self.of(value.action))
        # mutable: by identity first (the same object twice is one object)
        known = self.numbered.get(id(value))
        if known is not None:
            return ("same", known)
        self.numbered[id(value)] = len(self.kept)
        self.kept.append(value)
        if isinstance(value, list):
            return ("list", tuple(self.of(v) for v in value))
        if isinstance(value, dict):
            return ("dict", tuple((self.of(k), self.of(v)) for k, v in value.items()))
        if isinstance(value, set):
            return ("set", frozenset(self.of(v) for v in value))
        attributes = getattr(value, "__dict__", None)
        if type(value).__module__.split(".")[0] in _SYSTEM or attributes is None:
            raise Uncanonical(_a(f"{type(value).__module__}.{type(value).__qualname__}"))
        return ("object", type(value).__module__, type(value).__qualname__,
                tuple((name, self.of(v)) for name, v in attributes.items()))


def _a(what: str) -> str:
    return ("an " if what[:1].lower() in "aeiou" else "a ") + what


class CoroutineWorker:
    """An async enactor as the scheduler's `Worker`: a value (Rule 3). Its identity is the
    program, its name and its history: the worker value before the last answer (`parent`),
    that answer, and the clock then. `pending` and `note` follow from them."""

    memo_moves: ClassVar[bool] = False  # a remembered move would hand out a spent coroutine

    __slots__ = ("_hash", "_live", "_state", "answer", "answered_ms", "context", "depth", "name",
                 "note", "parent", "pending", "program")
    depth: int
    _hash: int

    def __init__(self, name: str, program: Program,
                 context: tuple[Layout, Variant | None, EnactorSettings],
                 parent: CoroutineWorker | None, answer: Result | None, answered_ms: int,
                 pending: Action | None, note: str,
                 live: tuple[Coroutine[Any, Any, None], Handle] | None) -> None:
        self.name = name
        self.program = program
        self.context = context
        self.parent = parent
        self.answer = answer
        self.answered_ms = answered_ms
        self.depth = 0 if parent is None else parent.depth + 1
        self.pending = pending
        self.note = note
        self._live = live
        self._state: Hashable | Uncanonical | None = None
        self._hash = hash((name, answer, answered_ms,
                           id(program) if parent is None else parent._hash))

    @classmethod
    def start(cls, name: str, program: Program, layout: Layout, variant: Variant | None,
              settings: EnactorSettings) -> CoroutineWorker:
        context = (layout, variant, settings)
        handle = Handle(name, *context)
        coroutine = _call(program, handle, name)
        pending = _resume(name, coroutine, handle, None, 0, step_note="its start")
        return cls(name, program, context, None, None, 0, pending, handle._note,
                   None if pending is None else (coroutine, handle))

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, CoroutineWorker):
            return NotImplemented
        return (self._hash == other._hash and self.name == other.name
                and self.answered_ms == other.answered_ms and self.answer == other.answer
                and (self.parent is other.parent or self.parent == other.parent)
                and (self.parent is not None or self.program is other.program))

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return (f"CoroutineWorker({self.name!r}, {self.program!r}, after {self.depth} answers,"
                f" pending={self.pending!r})")

    def absorb(self, twin: CoroutineWorker) -> None:
        """Take `twin`'s live coroutine (an equal value made by another run) if this one's has
        been spent, so a forward run never re-executes."""
        if self._live is None and twin._live is not None:
            self._live, twin._live = twin._live, None

    def state(self) -> Hashable:
        """Rule 4: this worker as the value of its suspended coroutine (`coroutine_state`),
        with its name and program, computed once (re-executing if its coroutine has moved on);
        `Uncanonical` when a local holds what is not a value."""
        if self._state is None:
            if self.pending is None:
                self._state = ("finished", self.name, self.program)
            else:
                if self._live is None:
                    self._live = self._reexecute()
                try:
                    self._state = (self.name, self.program, coroutine_state(*self._live))
                except Uncanonical as exc:
                    self._state = exc
        if isinstance(self._state, Uncanonical):
            raise self._state
        return self._state

    def next_action(self, now_ms: int) -> Action | None:
        return self.pending

    def receive(self, result: Result, now_ms: int) -> CoroutineWorker:
        live, self._live = self._live, None
        if live is None:
            live = self._reexecute()
        coroutine, handle = live
        pending = _resume(self.name, coroutine, handle, result, now_ms,
                          step_note=f"answer {self.depth + 1}")
        return CoroutineWorker(self.name, self.program, self.context, self, result, now_ms,
                               pending, handle._note, None if pending is None else live)

    def _reexecute(self) -> tuple[Coroutine[Any, Any, None], Handle]:
        """Run the program again over this worker's history (Rule 3)."""
        answers: list[tuple[Result, int]] = []
        node: CoroutineWorker | None = self
        while node is not None and node.parent is not None:
            assert node.answer is not None
            answers.append((node.answer, node.answered_ms))
            node = node.parent
        handle = Handle(self.name, *self.context)
        coroutine = _call(self.program, handle, self.name)
        asked = _resume(self.name, coroutine, handle, None, 0, step_note="its start")
        for i, (result, now_ms) in enumerate(reversed(answers), start=1):
            asked = _resume(self.name, coroutine, handle, result, now_ms,
                            step_note=f"answer {i}")
        if asked != self.pending:
            coroutine.close()
            raise EnactorError(f"{self.name} is not deterministic: run again over the same "
                               f"answers it asked for {asked!r}, not {self.pending!r} (an async "
                               "enactor must depend only on what the handle returns)")
        return coroutine, handle


def _call(program: Program, handle: Handle, name: str) -> Coroutine[Any, Any, None]:
    coroutine = program(handle)
    if not inspect.iscoroutine(coroutine):
        raise EnactorError(f"{name}: the enactor {program!r} returned {coroutine!r}, not a "
                           "coroutine; write it as `async def enactor(handle): ...`")
    return coroutine


def _resume(name: str, coroutine: Coroutine[Any, Any, None], handle: Handle, value: object,
            now_ms: int, *, step_note: str) -> Action | None:
    """Send `value` in; the action the coroutine asks for next, or None once it returned."""
    handle.now_ms = now_ms
    try:
        yielded = coroutine.send(value)
    except StopIteration:
        return None
    except RuntimeError as exc:
        if "no running event loop" in str(exc):
            raise EnactorError(f"worker {name} is blocked outside the scheduler, awaiting "
                               "something of asyncio's (after " + step_note + "); await only "
                               "the handle: h.sleep(ms), h.query(...), h.update(...)") from None
        raise _failed(name, exc, step_note) from None
    except Exception as exc:
        raise _failed(name, exc, step_note) from None
    if not isinstance(yielded, _Ask):
        coroutine.close()
        raise EnactorError(f"worker {name} is blocked outside the scheduler, awaiting "
                           f"{yielded!r} (after {step_note}); await only the handle: "
                           "h.sleep(ms), h.query(...), h.update(...), h.newest_plan(...)")
    return yielded.action


def _failed(name: str, exc: Exception, step_note: str) -> EnactorError:
    # The enactor's own frames: the first one is the `send` in `_resume`.
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    frames = traceback.format_exception(type(exc), exc, tb)
    return EnactorError(f"enactor {name} raised {type(exc).__name__}: {exc} (after "
                        f"{step_note})\n{''.join(frames).rstrip()}")


def is_async_enactor(obj: object) -> bool:
    """An `async def` function, or a class whose instances have an async `run(handle)`."""
    if inspect.iscoroutinefunction(obj):
        return True
    return inspect.isclass(obj) and inspect.iscoroutinefunction(getattr(obj, "run", None))


def program_of(obj: Any) -> Program:
    """The program of an async enactor (a class is instantiated afresh for every run)."""
    if inspect.isclass(obj):
        cls: Any = obj

        def program(handle: Handle) -> Coroutine[Any, Any, None]:
            run: Callable[[Handle], Awaitable[None]] = cls().run
            return run(handle)  # type: ignore[return-value]

        program.__qualname__ = f"{obj.__qualname__}.run"
        return program
    return obj  # type: ignore[no-any-return]
