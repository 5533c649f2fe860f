"""fake_lb: backends standing for the DynamoDB front end, load balancers that resolve the
endpoint through fake_dns on every request, and a bounded load generator.

Public API:
- nodes: `Backend`, `LoadBalancer`, `LbStats`
- DNS: `DnsResolver` (an aiohttp `AbstractResolver`), `DnsFailure`, `FailureKind`,
  `Resolution`, `DnsResolutionError`
- traffic: `TrafficPlan`, `run_traffic`, `IntervalStats`, `TrafficReport`
- fleet: `Fleet` (in this event loop), `FleetProcess` (a child process), `FleetInfo`, `NodeInfo`
"""

from fake_lb._backend import Backend
from fake_lb._balance import LbStats
from fake_lb._fleet import Fleet, FleetInfo, FleetProcess, NodeInfo
from fake_lb._lb import DEFAULT_ENDPOINT, LoadBalancer
from fake_lb._resolve import DnsFailure, DnsResolutionError, DnsResolver, FailureKind, Resolution
from fake_lb._traffic import IntervalStats, TrafficPlan, TrafficReport, run_traffic

__all__ = [
    "DEFAULT_ENDPOINT",
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
    "run_traffic",
]
