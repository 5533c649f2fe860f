"""States sent from one share of a split search to another, as references to their parts.

A state's parts (zone, plan store, worker states, the actions they are parked on, and the values
inside those) are hash-consed values shared by very many states (`reproducer.running.
simulation`, Rule 2), and a worker state differs from the one before it in a field or two. So
each direction between two shares is a channel with a table on both ends: the first time a
value crosses, it is sent field by field (its fields through the same table) under the next
number; after that, the number alone. A message is one pickle; the tables live as long as the
search. The receiver interns what it rebuilds into its own universe, so its steps from those
states are remembered like its own.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
from collections.abc import Callable
from typing import Any

from fake_dns import ZoneStore
from reproducer.running.core import State

__all__ = ["Incoming", "Outgoing", "Shipped"]

Shipped = tuple[int, bytes, bytes, State]  # (fingerprint, key, path, state)

_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _fields_of(cls: type) -> tuple[str, ...] | None:
    """A frozen slotted dataclass's field names (None for any other type)."""
    try:
        return _FIELDS[cls]
    except KeyError:
        names = (tuple(f.name for f in dataclasses.fields(cls))
                 if dataclasses.is_dataclass(cls) and "__slots__" in cls.__dict__ else None)
        _FIELDS[cls] = names
        return names


def _known(number: int) -> Any:
    return _receiving[-1].values[number]


def _new_value(number: int, cls: type, fields: tuple[Any, ...]) -> Any:
    channel = _receiving[-1]
    value: Any = object.__new__(cls)
    for name, field in zip(_fields_of(cls) or (), fields, strict=True):
        object.__setattr__(value, name, field)
    value = channel.values[number] = channel.canon(value)
    return value


def _new_zone(number: int, payload: bytes) -> Any:
    channel = _receiving[-1]
    value = channel.values[number] = channel.canon_zone(pickle.loads(payload))
    return value


_receiving: list[Incoming] = []  # the channel being read (a share reads one at a time)


class _Reducers(dict[type, Any]):
    """A pickler's dispatch table: zones and slotted dataclasses through the channel's table
    (any other type is pickled as usual)."""

    def __init__(self, channel: Outgoing) -> None:
        super().__init__()
        self.channel = channel

    def __missing__(self, cls: type) -> Any:
        if cls is ZoneStore or _fields_of(cls) is not None:
            self[cls] = self.channel.reduce
            return self.channel.reduce
        raise KeyError(cls)


class Outgoing:
    """One share's end of the channel to another."""

    def __init__(self) -> None:
        self.numbers: dict[int, int] = {}
        self.kept: list[Any] = []  # what was numbered, alive so that no id is reused
        self._dispatch = _Reducers(self)

    def reduce(self, obj: Any) -> tuple[Any, ...]:
        number = self.numbers.get(id(obj))
        if number is not None:
            return _known, (number,)
        number = self.numbers[id(obj)] = len(self.kept)
        self.kept.append(obj)
        cls = type(obj)
        if cls is ZoneStore:
            return _new_zone, (number, pickle.dumps(obj, protocol=5))
        return _new_value, (number, cls, tuple(getattr(obj, n) for n in _FIELDS[cls] or ()))

    def message(self, shipped: list[Shipped]) -> bytes:
        out = io.BytesIO()
        pickler = pickle.Pickler(out, protocol=5)
        pickler.dispatch_table = self._dispatch
        pickler.dump([
            (h, key, path, (s.dns, s.store, s.clock_ms, s.workers, s.pending, s.order,
                            s.current, s.highest, s.broken, s.states, s.finished))
            for h, key, path, s in shipped])
        return out.getvalue()


class Incoming:
    """The other end: numbers to this share's own interned values."""

    def __init__(self, canon: Callable[[Any], Any], canon_zone: Callable[[Any], Any]) -> None:
        self.values: dict[int, Any] = {}
        self.canon = canon
        self.canon_zone = canon_zone

    def read(self, message: bytes) -> list[Shipped]:
        _receiving.append(self)
        try:
            entries = pickle.loads(message)
        finally:
            _receiving.pop()
        return [(h, key, path, State(dns, store, clock, workers, pending, order, current,
                                     highest, broken, states, (), (), done))
                for h, key, path, (dns, store, clock, workers, pending, order, current,
                                   highest, broken, states, done) in entries]
