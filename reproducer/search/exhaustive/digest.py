"""Digests of values that are the same in every process, for a state's identity.

Python's `hash` of a string is salted per process (PYTHONHASHSEED) and `id` names an object of
one process only; a search whose visited set is split across processes or machines needs every
one of them to give a state the same 64-bit identity. `digest(value)` is BLAKE2b over a
canonical text of the value: tuples element by element, sets sorted, enums by name,
dataclasses by class and the fields their equality compares. `hash` of a tuple of ints is not
salted, so identities built from digests and small ints agree everywhere.

A value the encoder does not know (an object with hidden state, such as an async enactor's
live coroutine) raises `Undigestible`: the caller falls back to identities of one process.
"""

from __future__ import annotations

import dataclasses
import enum
from hashlib import blake2b
from typing import Any

__all__ = ["Undigestible", "digest"]

_SCALARS = (str, int, float, bool, bytes, type(None))


class Undigestible(TypeError):
    """A value with no canonical text (see the module docstring)."""


def digest(value: Any) -> int:
    """A signed 64-bit digest of `value`, equal in every process for equal values."""
    text = repr(_canonical(value)).encode()
    return int.from_bytes(blake2b(text, digest_size=8).digest(), "big", signed=True)


def _canonical(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, tuple | list):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, frozenset | set):
        return ("set", tuple(sorted((_canonical(v) for v in value), key=repr)))
    if isinstance(value, enum.Enum):
        return ("enum", type(value).__qualname__, value.name)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__,
                *(_canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
                  if f.compare))
    if isinstance(value, dict):
        return ("dict", tuple(sorted(((_canonical(k), _canonical(v))
                                      for k, v in value.items()), key=repr)))
    raise Undigestible(f"no canonical text for a {type(value).__qualname__}")
