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

Beside Hypothesis, a seeded uniform sampler (`sample_uniformly`) draws configurations of the same
space, every one equally likely, and stops at the first stuck one, unshrunk: the baseline
Hypothesis is measured against. `first_stuck` runs either over many seeds and says how many
configurations each needed to find a stuck one (`SearchResult.first_found_at`), within the same
bound. The project's schedule samplers (`reproducer.search`) draw schedules of the race's
enactors, choice by choice; a configuration here is two numbers, so the sampler is these few
lines, not one of those.

Only viable fleets are drawn: a fleet whose healthy renewals alone need more than
`Space.viable`'s share of the pool cannot keep its leases without any outage, and would say
nothing about the outage.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Sequence
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

__all__ = ["SAMPLERS", "Budget", "Found", "SearchResult", "Shrink", "Space", "configurations",
           "first_stuck", "sample_uniformly", "search"]

SAMPLERS = ("hypothesis", "uniform")


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
    shrink: Shrink | None  # the direction Hypothesis shrank in; None: not shrunk
    found: Found | None  # None: the property held over everything explored
    examples: int  # configurations run, shrinking included
    first_found_at: int | None = None  # configurations run until the first stuck one
    sampler: str = "hypothesis"


def configurations(space: Space, shrink: Shrink) -> st.SearchStrategy[tuple[float, int]]:
    """(outage_s, hosts) pairs over `space`, shrinking in the `shrink` direction."""
    low, high = round(space.min_outage_s * 10), round(space.max_outage_s * 10)
    if shrink is Shrink.OUTAGE:
        return st.tuples(st.integers(low, high).map(lambda tenths: tenths / 10),
                         st.integers(0, space.max_hosts - space.min_hosts).map(
                             lambda fewer: space.max_hosts - fewer))
    return st.tuples(st.integers(0, high - low).map(lambda shorter: (high - shorter) / 10),
                     st.integers(space.min_hosts, space.max_hosts))


class _Judge:
    """Runs configurations of `base` and remembers every verdict, and when the first stuck
    one came."""

    def __init__(self, base: Scenario, prop: Recovery) -> None:
        self._base, self._prop = base, prop
        self.verdicts: dict[tuple[float, int], Verdict] = {}
        self.first_found_at: int | None = None

    def stuck(self, configuration: tuple[float, int]) -> bool:
        outage_s, hosts = configuration
        verdict = self._prop.judge(simulate(scenario_at(self._base, self._prop, outage_s,
                                                        hosts)))
        self.verdicts[configuration] = verdict
        if not verdict.recovered and self.first_found_at is None:
            self.first_found_at = len(self.verdicts)
        return not verdict.recovered


def search(base: Scenario, prop: Recovery, space: Space, shrink: Shrink = Shrink.OUTAGE,
           budget: Budget = Budget(), *, shrunk: bool = True) -> SearchResult:
    """The smallest (outage, fleet), in the `shrink` direction, for which `base.policy` does not
    recover; `found` is None if it recovered from everything explored. Without `shrunk`, the
    first stuck configuration Hypothesis draws, as drawn."""
    judge = _Judge(base, prop)
    phases = (Phase.generate, Phase.shrink) if shrunk else (Phase.generate,)
    rules = settings(max_examples=budget.max_examples,
                     deadline=timedelta(seconds=budget.deadline_s), database=None,
                     phases=phases)
    try:
        outage_s, hosts = find(configurations(space, shrink), judge.stuck, settings=rules,
                               random=random.Random(budget.seed))
    except NoSuchExample:
        return SearchResult(base.policy.name, shrink if shrunk else None, None,
                            len(judge.verdicts))
    return SearchResult(base.policy.name, shrink if shrunk else None,
                        Found(outage_s, hosts, judge.verdicts[(outage_s, hosts)]),
                        len(judge.verdicts), judge.first_found_at)


def sample_uniformly(base: Scenario, prop: Recovery, space: Space,
                     budget: Budget = Budget()) -> SearchResult:
    """Up to `budget.max_examples` configurations drawn uniformly from `space` (whole tenths of
    a second, whole hosts) with `random.Random(budget.seed)`; the first stuck one, unshrunk.
    A configuration drawn twice is run once and counted once."""
    rng = random.Random(budget.seed)
    low, high = round(space.min_outage_s * 10), round(space.max_outage_s * 10)
    judge = _Judge(base, prop)
    for _ in range(budget.max_examples):
        configuration = (rng.randint(low, high) / 10, rng.randint(space.min_hosts,
                                                                  space.max_hosts))
        if configuration in judge.verdicts:
            continue
        if judge.stuck(configuration):
            outage_s, hosts = configuration
            return SearchResult(base.policy.name, None,
                                Found(outage_s, hosts, judge.verdicts[configuration]),
                                len(judge.verdicts), judge.first_found_at, "uniform")
    return SearchResult(base.policy.name, None, None, len(judge.verdicts), sampler="uniform")


def first_stuck(base: Scenario, prop: Recovery, space: Space, sampler: str,
                seeds: Sequence[int], shrink: Shrink = Shrink.OUTAGE,
                max_examples: int = Budget().max_examples) -> tuple[int | None, ...]:
    """For each seed, how many configurations `sampler` ("hypothesis", drawing without
    shrinking, or "uniform") ran until the first stuck one; None where it found none within
    `max_examples`."""
    if sampler not in SAMPLERS:
        raise ParamError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    counts = []
    for seed in seeds:
        budget = Budget(max_examples=max_examples, seed=seed)
        result = (search(base, prop, space, shrink, budget, shrunk=False)
                  if sampler == "hypothesis" else sample_uniformly(base, prop, space, budget))
        counts.append(result.first_found_at)
    return tuple(counts)
