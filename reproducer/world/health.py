"""Where the Planner learns which load-balancer addresses are alive.

The outage summary: the Planner "watches the health and capacity of the service's load
balancers". Here that is an interface with two implementations: `ScriptedHealth` (a fixed
script, for exploration and tests) and `HttpHealthSource` (real `/healthz` checks
of the fleet's backends, `reproducer.running.http_health`).
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


DEFAULT_BACKENDS = ("127.0.0.11", "127.0.0.12", "127.0.0.13")


class ScriptedHealth:
    """Health from a script, by generation: `at(g)` is `script[min(g - 1, len(script) - 1)]`.

    The default is three healthy backends whose capacities shift a little from one generation
    to the next, as routine capacity changes did (outage.md: "Routine capacity changes produce
    many generations"). `read()` walks the script one snapshot per call.
    """

    def __init__(self, script: Sequence[tuple[BackendHealth, ...]] | None = None,
                 addresses: Sequence[str] = DEFAULT_BACKENDS) -> None:
        if script is None:
            script = [
                tuple(BackendHealth(a, True, 1 + (i + k) % 3) for k, a in enumerate(addresses))
                for i in range(3)
            ]
        if not script:
            raise ValueError("ScriptedHealth needs at least one snapshot in its script")
        self._script = tuple(script)
        self._calls = 0

    def at(self, generation: int) -> tuple[BackendHealth, ...]:
        """The snapshot the Planner sees when it writes `generation` (a pure function)."""
        return self._script[min(max(generation - 1, 0), len(self._script) - 1)]

    async def read(self) -> tuple[BackendHealth, ...]:
        self._calls += 1
        return self.at(self._calls)
