"""Where the Planner learns which load-balancer addresses are alive.

The outage summary: the Planner "watches the health and capacity of the service's load
balancers". Here that is an interface with two implementations: `ScriptedHealth` (a fixed
script, for exploration and tests) and `fake_lb.HttpHealthSource` (real `/healthz` checks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["BackendHealth", "HealthSource", "ScriptedHealth"]


@dataclass(frozen=True, slots=True)
class BackendHealth:
    """One backend as the Planner sees it: its address, whether it is healthy, its capacity
    (a positive integer weight; 0 when unhealthy)."""

    address: str
    healthy: bool
    capacity: int


@runtime_checkable
class HealthSource(Protocol):
    """Anything the Planner can ask for the current health of every backend."""

    async def read(self) -> tuple[BackendHealth, ...]:
        """The health of every known backend, in a stable order (by address)."""
        ...


class ScriptedHealth:
    """Health from a script: call `i` returns `script[min(i, len(script) - 1)]`.

    The default script is three healthy backends whose capacities shift a little from one
    generation to the next, as routine capacity changes did (outage summary: "Routine capacity
    changes produce many generations").
    """

    def __init__(self, script: Sequence[tuple[BackendHealth, ...]] | None = None) -> None:
        if script is None:
            addresses = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
            script = [
                tuple(BackendHealth(a, True, 1 + (i + k) % 3) for k, a in enumerate(addresses))
                for i in range(3)
            ]
        if not script:
            raise ValueError("ScriptedHealth needs at least one snapshot in its script")
        self._script = tuple(script)
        self._calls = 0

    def read_now(self) -> tuple[BackendHealth, ...]:
        """The synchronous form, for the in-process world."""
        snapshot = self._script[min(self._calls, len(self._script) - 1)]
        self._calls += 1
        return snapshot

    async def read(self) -> tuple[BackendHealth, ...]:
        return self.read_now()
