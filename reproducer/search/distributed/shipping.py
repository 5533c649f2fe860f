"""States sent from one share of a split search to another, as references to their parts.

A state is a tuple of integers that name its parts in one process's integer engine
(`reproducer.running.engine`): the zone, the plan store, each worker's part, the marks of the
invariants and the parking order (the clock is a plain number). The parts are shared by very
many states, so each direction between two shares is a channel with a table on both ends: the
first time a part crosses, its value is sent with its number in the sender's engine; after
that, the number alone, which the receiver maps to the number the same value has in its own
engine (interning it there, so its steps from those states are remembered like its own). A
message is one pickle; the tables live as long as the search.
"""

from __future__ import annotations

import pickle
from typing import Any

from reproducer.running.engine import CLOCK, FIRST, MARKS, ORDER, STORE, ZONE, Engine, State

__all__ = ["Incoming", "Outgoing", "Shipped"]

Shipped = tuple[int, bytes, bytes, State]  # (identity, key, path, state)

_KINDS = ("zone", "store", "marks", "order", "comp")


def _kind_of(slot: int) -> int:
    """Which table a slot of the state tuple names (the clock names none: -1)."""
    return {ZONE: 0, STORE: 1, MARKS: 2, ORDER: 3, CLOCK: -1}.get(slot, 4)


class Outgoing:
    """One share's end of the channel to another: which of its parts the other has."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sent: list[set[int]] = [set() for _ in _KINDS]

    def _value(self, kind: int, number: int) -> Any:
        engine = self.engine
        if kind == 0:
            return engine.zones[number]
        if kind == 1:
            return engine.stores[number]
        if kind == 2:
            return engine.marks[number]
        if kind == 3:
            return engine.orders[number]
        return (engine.position[number], *engine.comps[number])

    def message(self, shipped: list[Shipped]) -> bytes:
        sent = self.sent
        new: list[tuple[int, int, Any]] = []
        for _, _, _, state in shipped:
            for slot, number in enumerate(state):
                kind = _kind_of(slot)
                if kind >= 0 and number not in sent[kind]:
                    sent[kind].add(number)
                    new.append((kind, number, self._value(kind, number)))
        return pickle.dumps((new, shipped), protocol=5)


class Incoming:
    """The other end: the sender's numbers to this share's own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.numbers: list[dict[int, int]] = [{} for _ in _KINDS]

    def _intern(self, kind: int, value: Any) -> int:
        engine = self.engine
        if kind == 0:
            return engine.intern_zone(value)
        if kind == 1:
            return engine.intern_store(value)
        if kind == 2:
            return engine.intern_marks(*value)
        if kind == 3:
            return engine.intern_order(*value)
        return engine.intern_comp(*value)

    def read(self, message: bytes) -> list[Shipped]:
        new, shipped = pickle.loads(message)
        numbers = self.numbers
        for kind, number, value in new:
            numbers[kind][number] = self._intern(kind, value)
        kinds = [_kind_of(slot) for slot in range(FIRST + self.engine.count)]
        return [(h, key, path, tuple(number if kind < 0 else numbers[kind][number]
                                     for kind, number in zip(kinds, state, strict=True)))
                for h, key, path, state in shipped]
