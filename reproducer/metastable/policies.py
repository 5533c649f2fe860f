"""How the lease manager treats its work: four policies, and the operators who step in.

The sources: AWS's post-event summary (aws.amazon.com/message/101925), its DWFM section, and the
metastable-failure papers: Bronson, Aghayev, Charapko, Zhu, "Metastable Failures in Distributed
Systems" (HotOS 2021); Huang et al., "Metastable Failures in the Wild" (OSDI 2022).

The policies
------------
- `collapsing`: what the summary describes. One FIFO work queue, unbounded; an attempt that times
  out is queued again at once ("Additional work was queued to reattempt establishing the droplet
  lease"), while the timed-out copy stays where it is and is still worked on. Once the queue
  holds more than the pool can serve within a timeout, everything served is already dead: the
  retries are the sustaining effect of the HotOS paper, and the fleet stays down after its
  trigger (the DNS outage) is gone: "congestive collapse".
- `operators`: `collapsing`, plus what the engineers did at 4:14 AM: they throttled incoming
  work and restarted DWFM hosts, and "Restarting the DWFM hosts cleared out the DWFM queues".
  `after_s` after DNS is repaired, the manager's intake is throttled to a fraction of what the
  pool can serve and the manager restarts, which drops its queue; the throttle stays on
  (`Operators.lift_after_s` lifts it, and shows why lifting it early is dangerous).
- `admission`: the fix AWS announced: "We will improve the throttling mechanism in our EC2 data
  propagation systems to rate limit incoming work based on the size of the waiting queue to
  protect the service during periods of high load" (announced for EC2's data propagation
  systems, beside a test suite for "the DWFM recovery workflow"; here it guards the queue that
  collapsed). New work is admitted only while the queue is shorter than what the pool can
  serve within a timeout (times `queue_fill`); refused work tries again later. Nothing in the
  queue can grow stale, so nothing the pool does is wasted.
- `backoff`: the tempting fix that does not help. Capped exponential backoff with full jitter
  on every retry, and no admission control: each host retries less often, but a large fleet
  still asks more than the pool can serve within a timeout, and the queue still feeds the pool
  dead work. It moves the boundary; it does not remove it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reproducer.metastable.params import FleetParams, ParamError

__all__ = ["POLICIES", "Backoff", "Operators", "Policy", "policy_named"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays: uniform in [0, min(cap, base * 2**k)] after the k-th consecutive failure
    of a host (full jitter), in multiples of the fleet's `timeout_s`."""

    base_timeouts: float = 1.0
    cap_timeouts: float = 4.0

    def ceiling_s(self, params: FleetParams, failures: int) -> float:
        base = self.base_timeouts * params.timeout_s
        return min(self.cap_timeouts * params.timeout_s, base * 2.0 ** min(failures, 30))


@dataclass(frozen=True, slots=True)
class Operators:
    """The engineers' recovery: `after_s` after DNS is repaired, throttle the manager's intake to
    `throttle_fraction` of what the pool serves and restart the manager (its queue is dropped).
    `lift_after_s` after every lease is held again, lift the throttle; None keeps it on. Lifting
    it at once can tip the fleet over again: the leases re-established together fall due for
    renewal together, at about what the pool serves, with no admission control to spread them."""

    after_s: float = 2.0
    throttle_fraction: float = 0.9
    lift_after_s: float | None = None

    def throttle_per_s(self, params: FleetParams) -> float:
        return self.throttle_fraction * params.service_rate_per_s


@dataclass(frozen=True, slots=True)
class Policy:
    """How the manager admits, orders and retries its work. `queue_fill` None: the queue is
    unbounded; otherwise work is refused while the queue holds `queue_fill` times what the pool
    serves within a timeout (`queue_limit`)."""

    name: str
    queue_fill: float | None = None
    backoff: Backoff | None = None
    operators: Operators | None = None

    def queue_limit(self, params: FleetParams) -> int | None:
        if self.queue_fill is None:
            return None
        return max(1, math.floor(self.queue_fill * params.service_rate_per_s *
                                 (params.timeout_s - params.attempt_s)))


POLICIES: dict[str, Policy] = {
    "collapsing": Policy("collapsing"),
    "operators": Policy("operators", operators=Operators()),
    "admission": Policy("admission", queue_fill=0.8),
    "backoff": Policy("backoff", backoff=Backoff()),
}


def policy_named(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise ParamError(f"unknown policy {name!r}; choose one of "
                         f"{', '.join(POLICIES)}") from None
