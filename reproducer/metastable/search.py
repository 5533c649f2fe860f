"""Hypothesis over the recovery property: the smallest outage that leaves a fleet stuck.

Hypothesis draws (outage length, fleet size) pairs from a `Space`, runs each in virtual time and
asks the recovery property. For a policy that collapses, `hypothesis.find` returns the first
pair it finds stuck, shrunk. A metastable failure needs two things, a trigger and a load that
keeps it going (Bronson et al., HotOS 2021), so there are two smallest answers, one per
`Shrink` direction:

- `Shrink.OUTAGE`: the shortest trigger. The outage is drawn in tenths of a second from the
  shortest up and the fleet from the largest down, so shrinking shortens the outage while the
  fleet stays as vulnerable as the space allows: the shortest outage that leaves a viable fleet
  stuck, and the largest fleet it takes;
- `Shrink.FLEET`: the smallest vulnerable fleet. The fleet is drawn from the smallest up and the
  outage from the longest down: the smallest fleet any outage in the space leaves stuck.

Either answer is a local minimum: neither coordinate can move one step towards its small end
and stay stuck. For the fix the search finds nothing: the property held over every
configuration explored.

Bounded: `Budget.max_examples` configurations at most while generating (shrinking adds a bounded
number more), `Budget.deadline_s` per configuration (Hypothesis's deadline), no example database
(a search is a function of its inputs), and every draw comes from `Budget.seed`.

Only viable fleets are drawn: a fleet whose healthy renewals alone need more than
`Space.viable`'s share of the pool cannot keep its leases without any outage, and would say
nothing about the outage.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from reproducer.metastable.boundary import scenario_at
from reproducer.metastable.params import FleetParams, ParamError
from reproducer.metastable.recovery import Recovery, Verdict
from reproducer.metastable.scenario import Scenario
from reproducer.metastable.simulation import simulate

__all__ = ["Budget", "Found", "SearchResult", "Shrink", "Space", "configurations", "search"]


class Shrink(enum.Enum):
    OUTAGE = "outage"  # the shortest outage, with the fleet as large as the space allows
    FLEET = "fleet"  # the smallest fleet, with the outage as long as the space allows


@dataclass(frozen=True, slots=True)
class Space:
    """Outages of whole tenths of a second in [min, max], fleets of whole hosts in [min, max]."""

    min_outage_s: float = 0.0
    max_outage_s: float = 6.0
    min_hosts: int = 10
    max_hosts: int = 240

    def __post_init__(self) -> None:
        if not 0 <= self.min_outage_s <= self.max_outage_s:
            raise ParamError(f"outages from {self.min_outage_s!r} to {self.max_outage_s!r} s: "
                             "need 0 <= min <= max")
        if not 1 <= self.min_hosts <= self.max_hosts:
            raise ParamError(f"fleets from {self.min_hosts!r} to {self.max_hosts!r} hosts: need "
                             "1 <= min <= max")

    @classmethod
    def viable(cls, params: FleetParams, max_utilisation: float = 0.85,
               max_outage_s: float = 6.0) -> Space:
        """Every fleet whose healthy renewals need at most `max_utilisation` of the pool."""
        largest = math.floor(max_utilisation * params.service_rate_per_s * params.renew_every_s)
        return cls(max_outage_s=max_outage_s, min_hosts=min(10, largest), max_hosts=largest)


@dataclass(frozen=True, slots=True)
class Budget:
    max_examples: int = 200
    deadline_s: float = 2.0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Found:
    """A configuration the property fails for, with its verdict."""

    outage_s: float
    hosts: int
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class SearchResult:
    policy: str
    shrink: Shrink
    found: Found | None  # None: the property held over everything explored
    examples: int  # configurations run, shrinking included


def configurations(space: Space, shrink: Shrink) -> st.SearchStrategy[tuple[float, int]]:
    """(outage_s, hosts) pairs over `space`, shrinking in the `shrink` direction."""
    low, high = round(space.min_outage_s * 10), round(space.max_outage_s * 10)
    if shrink is Shrink.OUTAGE:
        return st.tuples(st.integers(low, high).map(lambda tenths: tenths / 10),
                         st.integers(0, space.max_hosts - space.min_hosts).map(
                             lambda fewer: space.max_hosts - fewer))
    return st.tuples(st.integers(0, high - low).map(lambda shorter: (high - shorter) / 10),
                     st.integers(space.min_hosts, space.max_hosts))


def search(base: Scenario, prop: Recovery, space: Space, shrink: Shrink = Shrink.OUTAGE,
           budget: Budget = Budget()) -> SearchResult:
    """The smallest (outage, fleet), in the `shrink` direction, for which `base.policy` does not
    recover; `found` is None if it recovered from everything explored."""
    verdicts: dict[tuple[float, int], Verdict] = {}

    def stuck(configuration: tuple[float, int]) -> bool:
        outage_s, hosts = configuration
        verdict = prop.judge(simulate(scenario_at(base, prop, outage_s, hosts)))
        verdicts[configuration] = verdict
        return not verdict.recovered

    rules = settings(max_examples=budget.max_examples,
                     deadline=timedelta(seconds=budget.deadline_s), database=None,
                     phases=(Phase.generate, Phase.shrink))
    try:
        outage_s, hosts = find(configurations(space, shrink), stuck, settings=rules,
                               random=random.Random(budget.seed))
    except NoSuchExample:
        return SearchResult(base.policy.name, shrink, None, len(verdicts))
    return SearchResult(base.policy.name, shrink,
                        Found(outage_s, hosts, verdicts[(outage_s, hosts)]), len(verdicts))
