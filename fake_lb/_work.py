"""A backend's bounded capacity for work: a number of slots, a service time, a waiting line.

Plain synchronous logic over values (the adapter is `_backend.py`), so it reads as a table:

Rules
-----
- Rule 1: at most `slots` requests are worked on at once; each holds its slot for the service
  time (the adapter sleeps it), then frees it.
- Rule 2: a request that finds every slot busy waits, first come first served. A freed slot
  goes to the longest waiter, never to a newcomer that arrives in between.
- Rule 3: when `max_waiting` requests already wait, a newcomer is refused at once (the adapter
  answers 503 "backend-busy"); None means the line is unbounded.
- Rule 4: a waiter that goes away (its client disconnected) leaves the line without taking a
  slot. A request that already holds a slot keeps it until its work is done: a backend does
  not know, and does not care, whether anyone still waits for the answer.
- `slots` 0 means no limit at all: every request starts at once and nothing is counted.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["UNBOUNDED", "Admit", "WorkGate", "WorkLimit", "WorkStats"]


@dataclass(frozen=True, slots=True)
class WorkLimit:
    """How much work a backend does at once: `slots` requests (0: no bound), each for
    `service_s`, with at most `max_waiting` in line behind them (None: unbounded)."""

    slots: int = 0
    service_s: float = 0.0
    max_waiting: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.slots, int) or self.slots < 0:
            raise ValueError(f"slots={self.slots!r} must be a whole number >= 0 (0: no bound)")
        if not (math.isfinite(self.service_s) and self.service_s >= 0):
            raise ValueError(f"service_s={self.service_s!r} must be a number of seconds >= 0")
        if self.max_waiting is not None and self.max_waiting < 0:
            raise ValueError(f"max_waiting={self.max_waiting!r} must be >= 0 "
                             "(None: unbounded)")


class Admit(enum.Enum):
    START = "start"  # a slot is yours
    WAIT = "wait"  # you are in line: `release` will hand you a slot
    REFUSE = "refuse"  # the line is full (rule 3)


@dataclass(frozen=True, slots=True)
class WorkStats:
    slots: int
    busy: int
    waiting: int
    started: int
    refused: int

    def to_json(self) -> dict[str, Any]:
        return {"slots": self.slots, "busy": self.busy, "waiting": self.waiting,
                "started": self.started, "refused": self.refused}


UNBOUNDED = WorkLimit()


class WorkGate:
    """Slots and a FIFO line of opaque tickets (the adapter's futures)."""

    def __init__(self, limit: WorkLimit) -> None:
        self.slots = limit.slots
        self.max_waiting = limit.max_waiting
        self._busy = 0
        self._line: deque[object] = deque()
        self._started = 0
        self._refused = 0

    @property
    def limited(self) -> bool:
        return self.slots > 0

    def arrive(self, ticket: object) -> Admit:
        if not self.limited:
            return Admit.START
        if self._busy < self.slots and not self._line:
            self._busy += 1
            self._started += 1
            return Admit.START
        if self.max_waiting is not None and len(self._line) >= self.max_waiting:
            self._refused += 1
            return Admit.REFUSE
        self._line.append(ticket)
        return Admit.WAIT

    def release(self) -> object | None:
        """A request's work is done: its slot goes to the longest waiter, whose ticket is
        returned (the adapter wakes it); None if nobody waits."""
        if not self.limited:
            return None
        if self._line:
            self._started += 1
            return self._line.popleft()  # the slot passes on: busy stays the same
        self._busy -= 1
        return None

    def leave(self, ticket: object) -> bool:
        """A waiter went away before it got a slot (rule 4). False if the ticket was no longer
        in line: `release` had already handed it the slot, which its holder must pass on."""
        try:
            self._line.remove(ticket)
        except ValueError:
            return False
        return True

    def stats(self) -> WorkStats:
        return WorkStats(self.slots, self._busy, len(self._line), self._started, self._refused)
