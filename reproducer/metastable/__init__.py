"""The outage's second act: the metastable collapse of a lease fleet after the DNS repair.

The race emptied DynamoDB's name for under three hours; the outage lasted about fifteen. AWS's
post-event summary (aws.amazon.com/message/101925) explains the rest: EC2's DropletWorkflow
Manager, which keeps a lease on every physical host through DynamoDB, lost its leases while the
name was empty and, once DNS came back, "entered a state of congestive collapse": a metastable
failure (Bronson et al., HotOS 2021; Huang et al., OSDI 2022) that outlived its trigger until
operators throttled and restarted it. This room teaches and reproduces it (docs/second-act.md).

The modules, one concept each (imports flow down this list):
- `params`: `FleetParams`, the fleet and its backend pool, scaled to seconds;
- `policies`: `Policy` and the four `POLICIES` (collapsing, operators, admission, backoff);
- `manager`: `LeaseManager`, the manager as a state machine over events, no I/O;
- `series`: `Sample`, `Series`, `Sampler`: what a run leaves (goodput, queue, leases);
- `operators`: the operators' `Console` and its commands (`Restart`, `Throttle`);
- `scenario`: `Scenario`, one run (fleet, policy, outage, seed);
- `simulation`: `simulate`, the run in virtual time;
- `recovery`: `Recovery`, the property "once DNS has been healthy for T s, goodput >= G";
- `boundary`: `map_boundary`, outage length x fleet size -> recovered or collapsed;
- `search`: `search`, Hypothesis finding the smallest outage (or fleet) that leaves it stuck;
- `svg`, `render_series`, `render_boundary`: text and SVG for people (pure functions);
- `live_manager`: the manager's own process, the same state machine over HTTP;
- `live_run`: `LiveStage`, fake_dns and fake_lb as processes, the outage by DNS UPDATEs;
- `command`: `python -m reproducer.metastable run | model | boundary | manager`.

This room imports fake_dns and fake_lb (their public names) and nothing from the story, the
play server, `reproducer.telling` or `reproducer.cli`.
"""

from reproducer.metastable.boundary import BoundaryMap, Cell, map_boundary
from reproducer.metastable.live_run import LiveRunFailed, LiveStage
from reproducer.metastable.manager import Counters, LeaseManager, Send
from reproducer.metastable.operators import Console, Restart, Throttle
from reproducer.metastable.params import FleetParams, ParamError
from reproducer.metastable.policies import POLICIES, Backoff, Operators, Policy, policy_named
from reproducer.metastable.recovery import Recovery, Verdict
from reproducer.metastable.render_boundary import boundary_grid, boundary_svg
from reproducer.metastable.render_series import RowsSoFar, series_rows, series_svg
from reproducer.metastable.scenario import Scenario
from reproducer.metastable.search import Budget, Found, SearchResult, Shrink, Space, search
from reproducer.metastable.series import Event, Sample, Series
from reproducer.metastable.simulation import simulate

__all__ = [
    "POLICIES",
    "Backoff",
    "BoundaryMap",
    "Budget",
    "Cell",
    "Console",
    "Counters",
    "Event",
    "FleetParams",
    "Found",
    "LeaseManager",
    "LiveRunFailed",
    "LiveStage",
    "Operators",
    "ParamError",
    "Policy",
    "Recovery",
    "Restart",
    "RowsSoFar",
    "Sample",
    "Scenario",
    "SearchResult",
    "Send",
    "Series",
    "Shrink",
    "Space",
    "Throttle",
    "Verdict",
    "boundary_grid",
    "boundary_svg",
    "map_boundary",
    "policy_named",
    "search",
    "series_rows",
    "series_svg",
    "simulate",
]
