"""The lease fleet's parameters, scaled to seconds: a value every runner starts from.

The fleet stands for EC2's DropletWorkflow Manager (DWFM) and its droplets, as AWS's post-event
summary describes them ("Summary of the Amazon DynamoDB Service Disruption in the Northern
Virginia (US-EAST-1) Region", aws.amazon.com/message/101925): every host holds a lease that the
manager must keep renewing through DynamoDB; work that does not complete before it times out
is queued again.

Rules
-----
- Rule 1: a granted lease lasts `lease_s`; the manager starts renewing it when half of it is
  left, so a renewal that succeeds within `timeout_s` always lands before the lease lapses
  (hence `timeout_s < lease_s / 2`).
- Rule 2: the backend pool (the lease table behind the load balancers) works on at most
  `capacity` attempts at once, each for `service_s`; with the round trip (rule 4) the manager
  completes `capacity / (service_s + rtt_s)` attempts a second (`service_rate_per_s`),
  whatever they are worth.
- Rule 3: every host renews once per `lease_s / 2`: a healthy fleet establishes
  `steady_rate_per_s = 2 * hosts / lease_s` leases a second, and needs that share of the pool
  (`steady_utilisation`). A fleet above 1 cannot keep its leases even without an outage.
- Rule 4: every attempt also spends `rtt_s` getting to the pool and back (the manager's
  request, the load balancer, its forwarding): a success takes `service_s + rtt_s`, and an
  attempt that fails fast (the load balancer cannot resolve the endpoint) takes `rtt_s`. The
  host tries again after about `retry_delay_s`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["FleetParams", "ParamError"]


class ParamError(ValueError):
    """A parameter that cannot work; the message names it, echoes the value and says why."""


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ParamError(f"{name}={value!r} must be a positive number of seconds")


@dataclass(frozen=True, slots=True)
class FleetParams:
    """The fleet and its backend pool. Defaults are the project's scale (see docs/second-act.md):
    a vulnerable fleet that keeps its leases comfortably until an outage tips it over."""

    hosts: int = 200
    lease_s: float = 8.0
    timeout_s: float = 0.5
    capacity: int = 4
    service_s: float = 0.05
    retry_delay_s: float = 0.5
    rtt_s: float = 0.005

    def __post_init__(self) -> None:
        for name in ("hosts", "capacity"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ParamError(f"{name}={value!r} must be a whole number >= 1")
        for name in ("lease_s", "timeout_s", "service_s", "retry_delay_s", "rtt_s"):
            _positive(name, getattr(self, name))
        if not self.timeout_s < self.lease_s / 2:
            raise ParamError(
                f"timeout_s={self.timeout_s:g} must be shorter than half a lease "
                f"(lease_s={self.lease_s:g}): a renewal starts with half the lease left and "
                "must be able to finish before the lease lapses")
        if not self.service_s + self.rtt_s < self.timeout_s:
            raise ParamError(
                f"service_s={self.service_s:g} plus rtt_s={self.rtt_s:g} must be shorter than "
                f"timeout_s={self.timeout_s:g}: otherwise no attempt could ever succeed")

    @property
    def attempt_s(self) -> float:
        """How long a successful attempt takes once sent (rules 2 and 4)."""
        return self.service_s + self.rtt_s

    @property
    def service_rate_per_s(self) -> float:
        """Attempts the pool completes per second when busy (rule 2)."""
        return self.capacity / self.attempt_s

    @property
    def renew_every_s(self) -> float:
        return self.lease_s / 2

    @property
    def steady_rate_per_s(self) -> float:
        """Leases a healthy fleet establishes per second: every host renews once per
        `renew_every_s` (rule 3)."""
        return self.hosts / self.renew_every_s

    @property
    def steady_utilisation(self) -> float:
        return self.steady_rate_per_s / self.service_rate_per_s

    @property
    def served_within_timeout(self) -> int:
        """How many attempts the pool can complete within one timeout when it starts idle: the
        size of a burst it can absorb (the scale of the metastable boundary)."""
        return math.floor(self.service_rate_per_s * (self.timeout_s - self.attempt_s)) + \
            self.capacity

    def evolve(self, **changes: Any) -> FleetParams:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FleetParams:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParamError(f"unknown fleet parameters {unknown}; known: {sorted(known)}")
        return cls(**data)
