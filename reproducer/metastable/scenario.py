"""One run of the second act, as a value: the fleet, the policy, the outage and the seed.

A run's timeline, in seconds since it began: `warm_s` of health, then the DNS outage of
`outage_s` (the endpoint's record is empty: every attempt fails fast, as every new connection to
DynamoDB did while its name was empty), then `after_s` with DNS repaired. The same scenario runs
in virtual time (`simulation.simulate`) and on the real processes (`live_run`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from reproducer.metastable.params import FleetParams, ParamError
from reproducer.metastable.policies import POLICIES, Policy

__all__ = ["Scenario"]


@dataclass(frozen=True, slots=True)
class Scenario:
    params: FleetParams = field(default_factory=FleetParams)
    policy: Policy = POLICIES["collapsing"]
    outage_s: float = 3.0
    warm_s: float = 1.0
    after_s: float = 8.0
    seed: int = 0
    sample_s: float = 0.25

    def __post_init__(self) -> None:
        for name in ("outage_s", "warm_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ParamError(f"{name}={value!r} must be a number of seconds >= 0")
        for name in ("after_s", "sample_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ParamError(f"{name}={value!r} must be a positive number of seconds")
        if self.sample_s > self.after_s:
            raise ParamError(f"sample_s={self.sample_s:g} must not exceed after_s="
                             f"{self.after_s:g}: the run would end before its first sample")

    @property
    def repair_s(self) -> float:
        """When DNS is repaired, in seconds since the run began."""
        return self.warm_s + self.outage_s

    @property
    def end_s(self) -> float:
        return self.repair_s + self.after_s

    def dns_ok_at(self, t_s: float) -> bool:
        return not self.warm_s <= t_s < self.repair_s

    @property
    def outage(self) -> tuple[float, float] | None:
        """The outage window [start, end) in seconds since the run began (None: no outage)."""
        return (self.warm_s, self.repair_s) if self.outage_s > 0 else None

    def evolve(self, **changes: Any) -> Scenario:
        return replace(self, **changes)
