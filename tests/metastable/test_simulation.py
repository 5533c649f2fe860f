"""The second act in virtual time: determinism, and what each policy does after the outage."""

from __future__ import annotations

import json

import pytest

from reproducer.metastable import (
    POLICIES,
    FleetParams,
    Operators,
    ParamError,
    Policy,
    Recovery,
    Scenario,
    Series,
    simulate,
)

PROP = Recovery()
PARAMS = FleetParams()  # 200 hosts: the project's default, vulnerable fleet


def scenario(policy: str | Policy, outage_s: float = 3.0, hosts: int = 200,
             seed: int = 0) -> Scenario:
    chosen = POLICIES[policy] if isinstance(policy, str) else policy
    params = PARAMS.evolve(hosts=hosts)
    return Scenario(params=params, policy=chosen, outage_s=outage_s, seed=seed,
                    after_s=PROP.after_s(params))


def test_the_same_scenario_gives_the_same_series_sample_for_sample() -> None:
    assert simulate(scenario("collapsing", seed=7)) == simulate(scenario("collapsing", seed=7))


def test_another_seed_gives_another_series() -> None:
    assert simulate(scenario("collapsing", seed=1)) != simulate(scenario("collapsing", seed=2))


@pytest.mark.parametrize("policy", list(POLICIES))
def test_without_an_outage_every_policy_keeps_every_lease_at_the_steady_rate(
        policy: str) -> None:
    series = simulate(scenario(policy, outage_s=0.0))

    assert {s.leases_held for s in series.samples} == {200}
    assert {s.wasted_per_s for s in series.samples} == {0.0}
    period = PARAMS.renew_every_s
    assert series.goodput_between(series.end_s - period, series.end_s) == pytest.approx(
        PARAMS.steady_rate_per_s, rel=0.05)


def test_the_collapsing_policy_stays_down_after_dns_is_repaired_with_the_pool_busy() -> None:
    series = simulate(scenario("collapsing"))
    verdict = PROP.judge(series)
    after = series.between(*verdict.window)

    assert not verdict.recovered
    assert {s.goodput_per_s for s in after} == {0.0}
    wasted = sum(s.wasted_per_s * s.interval_s for s in after) / sum(s.interval_s for s in after)
    assert wasted > 0.9 * PARAMS.service_rate_per_s  # the pool is busy, for nobody
    queues = [s.queue for s in after]
    assert queues == sorted(queues) and queues[-1] > 2 * queues[0]  # it only grows
    assert all(s.dns_ok for s in after)


def test_admission_by_queue_size_recovers_every_lease_wasting_nothing() -> None:
    series = simulate(scenario("admission"))
    verdict = PROP.judge(series)

    assert verdict.recovered
    # About as fast as the pool can establish every lease once.
    assert verdict.recovery_s is not None
    assert verdict.recovery_s <= 200 / PARAMS.service_rate_per_s + PARAMS.timeout_s
    assert {s.wasted_per_s for s in series.samples} == {0.0}
    limit = POLICIES["admission"].queue_limit(PARAMS)
    assert limit is not None and max(s.queue for s in series.samples) <= limit


def test_the_operators_throttle_and_restart_bring_the_fleet_back_after_they_step_in() -> None:
    series = simulate(scenario("operators"))
    act = next(e for e in series.events if e.label.startswith("operators"))
    operators = POLICIES["operators"].operators
    assert operators is not None

    assert act.t_s == pytest.approx(series.outage_end_s + operators.after_s)
    before = series.between(series.outage_end_s + 1.0, act.t_s)
    assert max(s.goodput_per_s for s in before) == 0.0  # collapsed until then
    assert next(s for s in series.samples if s.t_s > act.t_s).queue == 0  # queue dropped
    verdict = PROP.judge(series)
    assert verdict.recovered and verdict.recovery_s is not None
    assert verdict.recovery_s > operators.after_s


def test_lifting_the_throttle_the_moment_every_lease_is_back_tips_the_fleet_over_again(
        ) -> None:
    def operators(lift_after_s: float | None) -> Policy:
        return Policy("operators", operators=Operators(lift_after_s=lift_after_s))

    at_once = simulate(scenario(operators(0.0), outage_s=1.2, hosts=189))
    one_period = simulate(scenario(operators(PARAMS.renew_every_s), outage_s=1.2, hosts=189))

    assert [e.label for e in at_once.events][-1] == "throttle lifted"
    assert not PROP.judge(at_once).recovered
    assert PROP.judge(one_period).recovered


def test_backoff_without_admission_control_still_collapses_the_default_fleet() -> None:
    verdict = PROP.judge(simulate(scenario("backoff")))

    assert not verdict.recovered


def test_dns_is_marked_empty_exactly_in_the_samples_that_overlap_the_outage() -> None:
    series = simulate(scenario("admission", outage_s=2.0))

    empty = [s.t_s for s in series.samples if not s.dns_ok]
    assert min(empty) == pytest.approx(1.25)
    assert max(empty) == pytest.approx(3.0)
    assert [e.label for e in series.events][:2] == ["record emptied", "DNS repaired"]


def test_a_series_survives_json_both_ways() -> None:
    series = simulate(scenario("operators", outage_s=1.0, hosts=40))

    assert Series.from_json(json.loads(json.dumps(series.to_json()))) == series
    lines = [json.loads(line) for line in series.json_lines()]
    assert [line["event"] for line in lines] == ["sample"] * len(series.samples) + ["series"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"hosts": 0}, "hosts=0 must be a whole number >= 1"),
    ({"timeout_s": 4.0}, "timeout_s=4 must be shorter than half a lease (lease_s=8)"),
    ({"service_s": 0.5}, "service_s=0.5 plus rtt_s=0.005 must be shorter than timeout_s=0.5"),
    ({"retry_delay_s": -1.0}, "retry_delay_s=-1.0 must be a positive number of seconds"),
])
def test_fleet_parameters_that_cannot_work_say_which_and_why(
        changes: dict[str, float], message: str) -> None:
    with pytest.raises(ParamError) as raised:
        PARAMS.evolve(**changes)

    assert str(raised.value).startswith(message)
