"""Hypothesis over the recovery property: the collapsing policy has a smallest stuck outage, and
the fix holds over every configuration explored."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings

from reproducer.metastable import (
    POLICIES,
    Budget,
    FleetParams,
    Recovery,
    Scenario,
    Shrink,
    Space,
    search,
    simulate,
)
from reproducer.metastable.boundary import scenario_at
from reproducer.metastable.search import configurations, first_stuck, sample_uniformly

PARAMS = FleetParams()
PROP = Recovery()
SPACE = Space.viable(PARAMS)


def base(policy: str) -> Scenario:
    return Scenario(params=PARAMS, policy=POLICIES[policy])


def recovers(policy: str, outage_s: float, hosts: int) -> bool:
    return PROP.judge(simulate(scenario_at(base(policy), PROP, outage_s, hosts))).recovered


def test_only_fleets_the_pool_can_keep_without_an_outage_are_searched() -> None:
    assert SPACE.max_hosts == 247  # 0.85 of the 72.7 renewals a second the pool serves, x 4 s
    assert recovers("collapsing", 0.0, SPACE.max_hosts)


def test_hypothesis_shrinks_the_collapse_to_the_shortest_outage_that_leaves_a_fleet_stuck(
        ) -> None:
    result = search(base("collapsing"), PROP, SPACE, Shrink.OUTAGE)

    assert result.found is not None
    found = result.found
    assert (found.outage_s, found.hosts) == (0.7, 247)
    assert not found.verdict.recovered
    assert recovers("collapsing", round(found.outage_s - 0.1, 1), found.hosts)  # shrunk


def test_hypothesis_shrinks_the_collapse_to_the_smallest_fleet_an_outage_leaves_stuck(
        ) -> None:
    result = search(base("collapsing"), PROP, SPACE, Shrink.FLEET)

    assert result.found is not None
    assert (result.found.outage_s, result.found.hosts) == (6.0, 90)
    assert recovers("collapsing", 6.0, 89)  # shrunk: one host fewer recovers


def test_the_same_budget_gives_the_same_answer() -> None:
    budget = Budget(max_examples=50, seed=3)

    assert search(base("backoff"), PROP, SPACE, Shrink.FLEET, budget) == \
        search(base("backoff"), PROP, SPACE, Shrink.FLEET, budget)


def test_the_uniform_sampler_finds_a_stuck_configuration_unshrunk_and_the_same_every_time(
        ) -> None:
    result = sample_uniformly(base("collapsing"), PROP, SPACE, Budget(seed=0))

    assert result.found is not None and result.shrink is None
    assert not recovers("collapsing", result.found.outage_s, result.found.hosts)
    assert result.first_found_at == result.examples
    assert sample_uniformly(base("collapsing"), PROP, SPACE, Budget(seed=0)) == result


def test_the_uniform_sampler_finds_nothing_for_the_fix_within_its_bound() -> None:
    result = sample_uniformly(base("admission"), PROP, SPACE, Budget(max_examples=40))

    assert result.found is None and result.first_found_at is None
    assert result.examples <= 40


def test_in_a_space_where_collapse_is_rare_hypothesis_needs_fewer_configurations_than_uniform(
        ) -> None:
    # Outages of at most 1 s: only the largest fleets collapse, a corner of the space.
    # Hypothesis tries the extremes of each coordinate early; uniform samples land there by luck.
    space = Space.viable(PARAMS, max_outage_s=1.0)
    seeds = range(8)
    drawn = first_stuck(base("collapsing"), PROP, space, "hypothesis", seeds, Shrink.OUTAGE, 100)
    uniform = first_stuck(base("collapsing"), PROP, space, "uniform", seeds, Shrink.OUTAGE, 100)

    assert None not in drawn and None not in uniform
    assert max(d for d in drawn if d is not None) <= 6
    assert sum(u for u in uniform if u is not None) > 3 * sum(d for d in drawn if d is not None)


def test_backoff_without_admission_control_only_moves_the_boundary() -> None:
    fleet = search(base("backoff"), PROP, SPACE, Shrink.FLEET).found
    outage = search(base("backoff"), PROP, SPACE, Shrink.OUTAGE).found

    assert fleet is not None and outage is not None
    assert 90 < fleet.hosts < SPACE.max_hosts  # it takes a larger fleet, but one still collapses
    assert outage.outage_s < 1.0


def test_the_fix_holds_over_every_configuration_the_search_explores() -> None:
    for shrink in Shrink:
        result = search(base("admission"), PROP, SPACE, shrink, Budget(max_examples=100))
        assert result.found is None
        assert result.examples == 100


@settings(max_examples=60, deadline=timedelta(seconds=2))
@given(configurations(SPACE, Shrink.OUTAGE))
def test_admission_by_queue_size_recovers_from_any_outage_of_any_viable_fleet(
        configuration: tuple[float, int]) -> None:
    outage_s, hosts = configuration
    verdict = PROP.judge(simulate(scenario_at(base("admission"), PROP, outage_s, hosts)))

    assert verdict.recovered, verdict.describe()
