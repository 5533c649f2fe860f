"""fake_lb: backends standing for the DynamoDB front end, load balancers that resolve the
endpoint through fake_dns on every request, and a bounded load generator.

Public API:
- nodes: `Backend` (its bounded work: `WorkLimit`, `WorkStats`), `LoadBalancer`, `LbStats`,
  `REASON_HEADER` (the failure reason every answer of a failed request carries)
- DNS: `DnsResolver` (an aiohttp `AbstractResolver`), `DnsFailure`, `FailureKind`,
  `Resolution`, `DnsResolutionError`
- traffic: `TrafficPlan`, `run_traffic`, `IntervalStats`, `TrafficReport`
- fleet: `Fleet` (in this event loop), `FleetProcess` (a child process), `FleetInfo`, `NodeInfo`
"""

from fake_lb._backend import Backend
from fake_lb._balance import LbStats
from fake_lb._fleet import Fleet, FleetInfo, FleetProcess, NodeInfo
from fake_lb._lb import DEFAULT_ENDPOINT, REASON_HEADER, LoadBalancer
from fake_lb._resolve import DnsFailure, DnsResolutionError, DnsResolver, FailureKind, Resolution
from fake_lb._traffic import IntervalStats, TrafficPlan, TrafficReport, run_traffic
from fake_lb._work import WorkLimit, WorkStats

__all__ = [
    "DEFAULT_ENDPOINT",
    "REASON_HEADER",
    "Backend",
    "DnsFailure",
    "DnsResolutionError",
    "DnsResolver",
    "FailureKind",
    "Fleet",
    "FleetInfo",
    "FleetProcess",
    "IntervalStats",
    "LbStats",
    "LoadBalancer",
    "NodeInfo",
    "Resolution",
    "TrafficPlan",
    "TrafficReport",
    "WorkLimit",
    "WorkStats",
    "run_traffic",
]
