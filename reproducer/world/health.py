"""Where the Planner learns which load-balancer addresses are alive.

The AWS summary: the Planner watches the health and capacity of the service's load balancers
and writes new plans from them. Under the scheduler the Planner reads `ScriptedHealth`, a pure
function of the generation it writes (so a run is a function of its choices); in the live
story it reads a `HealthSource`: `HttpHealthSource` checks the fleet's backends' `/healthz`
(`reproducer.running.http_health`).
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
    to the next, as routine capacity changes do (the AWS summary: the Planner produces new plans
    as capacity changes, so there are many generations).
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

    def at(self, generation: int) -> tuple[BackendHealth, ...]:
        """The snapshot the Planner sees when it writes `generation` (a pure function)."""
        return self._script[min(max(generation - 1, 0), len(self._script) - 1)]
