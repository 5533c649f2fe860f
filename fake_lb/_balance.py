"""The load balancer's logic: which backend a request goes to, and the accounting of it all.

Plain synchronous code over values, no I/O; `_lb.py` is the aiohttp adapter around it.

Rules
-----
- Rule 1: a request only ever goes to an address in the *current* resolution. The pick is made
  from the addresses just resolved, never from a remembered list, and the forwarding URL names
  the address itself, so aiohttp's connection pools are keyed by resolved address: a pooled
  keep-alive connection to an address the record no longer holds is never picked again.
- Rule 2: spreading is round robin over the resolved addresses, in the order DNS returned them.
  The counter survives a change of the address set, so no backend is favoured after a change.
- Rule 3: every request is counted exactly once: as forwarded (any backend status) or as a
  failure with one reason key (see `FailureKind` for the DNS reasons, plus "backend-unreachable"
  and "backend-timeout").
- Rule 4: a failure's reason key travels in the `X-Fake-LB-Reason` header of the answer. A
  backend that refuses work sets it too ("backend-busy"), and the LB forwards its answer as is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LbAccounts", "LbStats", "RoundRobin"]

REASON_HEADER = "X-Fake-LB-Reason"
BACKEND_UNREACHABLE = "backend-unreachable"
BACKEND_TIMEOUT = "backend-timeout"
BACKEND_BUSY = "backend-busy"


class RoundRobin:
    """Pick addresses in turn. Deterministic; no randomness to inject."""

    def __init__(self) -> None:
        self._turn = 0

    def pick(self, addresses: Sequence[str]) -> str:
        if not addresses:
            raise ValueError("cannot pick a backend from an empty address list; "
                             "an empty resolution is a DNS failure and must be reported as one")
        address = addresses[self._turn % len(addresses)]
        self._turn += 1
        return address


@dataclass(frozen=True, slots=True)
class LbStats:
    """A snapshot of one LB's counters (what `/stats` serves as JSON)."""

    name: str
    requests: int
    forwarded: int
    failures: tuple[tuple[str, int], ...]  # (reason, count), sorted by reason
    forwarded_to: tuple[tuple[str, int], ...]  # (address, count), sorted by address
    last_addresses: tuple[str, ...]
    last_failure: str | None

    def failures_by_reason(self) -> dict[str, int]:
        return dict(self.failures)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requests": self.requests,
            "forwarded": self.forwarded,
            "failures": dict(self.failures),
            "forwarded_to": dict(self.forwarded_to),
            "last_addresses": list(self.last_addresses),
            "last_failure": self.last_failure,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LbStats:
        return cls(
            name=str(data["name"]),
            requests=int(data["requests"]),
            forwarded=int(data["forwarded"]),
            failures=tuple(sorted((str(k), int(v)) for k, v in data["failures"].items())),
            forwarded_to=tuple(sorted((str(k), int(v))
                                      for k, v in data["forwarded_to"].items())),
            last_addresses=tuple(str(a) for a in data["last_addresses"]),
            last_failure=None if data["last_failure"] is None else str(data["last_failure"]),
        )


class LbAccounts:
    """The mutable counters behind `LbStats`; one method per event, no I/O."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._requests = 0
        self._forwarded: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()
        self._last_addresses: tuple[str, ...] = ()
        self._last_failure: str | None = None

    def request(self) -> None:
        self._requests += 1

    def resolved(self, addresses: tuple[str, ...]) -> None:
        self._last_addresses = addresses

    def forwarded(self, address: str) -> None:
        self._forwarded[address] += 1

    def failed(self, reason: str, message: str, *, resolution_failed: bool = False) -> None:
        self._failures[reason] += 1
        self._last_failure = message
        if resolution_failed:
            # /stats shows the addresses *last resolved*: a failed resolution resolved none.
            self._last_addresses = ()

    def snapshot(self) -> LbStats:
        return LbStats(
            name=self.name,
            requests=self._requests,
            forwarded=sum(self._forwarded.values()),
            failures=tuple(sorted(self._failures.items())),
            forwarded_to=tuple(sorted(self._forwarded.items())),
            last_addresses=self._last_addresses,
            last_failure=self._last_failure,
        )
