"""The recovery property: once DNS has been healthy for T seconds, goodput is at least G."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reproducer.metastable import FleetParams, ParamError, Recovery, Sample, Series


def series(goodputs: list[float], *, repair_s: float = 1.0, held: int = 10) -> Series:
    """One-second samples with these goodputs; the outage ends at `repair_s`."""
    samples = tuple(Sample(t_s=i + 1.0, interval_s=1.0, goodput_per_s=g, wasted_per_s=0.0,
                           failed_per_s=0.0, refused_per_s=0.0, queue=0, in_flight=0,
                           leases_held=held, dns_ok=i + 1.0 > repair_s)
                    for i, g in enumerate(goodputs))
    return Series(hosts=10, steady_rate_per_s=4.0, outage_start_s=0.0, outage_end_s=repair_s,
                  samples=samples)


def test_only_the_goodput_after_t_seconds_of_healthy_dns_is_judged() -> None:
    prop = Recovery(healthy_for_s=2.0, goodput_fraction=0.5)

    verdict = prop.judge(series([0, 0, 0, 3, 3, 1]))  # from 3 s on: mean (3 + 3 + 1) / 3

    assert verdict.window == (3.0, 6.0)
    assert verdict.goodput_per_s == pytest.approx(7 / 3)
    assert verdict.floor_per_s == 2.0
    assert verdict.recovered


def test_goodput_below_the_floor_after_the_repair_is_a_collapse_whatever_came_before() -> None:
    verdict = Recovery(healthy_for_s=1.0).judge(series([9, 9, 1, 1, 1]))

    assert not verdict.recovered
    assert "collapsed: goodput 1.0/s" in verdict.describe()


def test_a_run_that_ends_before_the_judged_window_says_to_observe_longer() -> None:
    with pytest.raises(ParamError, match="observe longer after the repair"):
        Recovery(healthy_for_s=5.0).judge(series([4, 4]))


def test_recovery_time_counts_from_the_repair_to_every_lease_held_for_good() -> None:
    held = series([4] * 4, held=10)
    samples = list(held.samples)
    samples[2] = replace(samples[2], leases_held=9)
    lapsed = replace(held, samples=tuple(samples))

    assert held.recovery_s() == 0.0
    assert lapsed.recovery_s() == 3.0  # lapsed at 3 s, every lease held again from 4 s


def test_a_scenario_observes_t_seconds_and_then_one_renewal_period() -> None:
    assert Recovery(healthy_for_s=2.0).after_s(FleetParams(lease_s=8.0)) == 6.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"healthy_for_s": -1.0}, "healthy_for_s=-1.0 must be a number of seconds >= 0"),
    ({"goodput_fraction": 1.5}, "goodput_fraction=1.5 must be in (0, 1]"),
])
def test_a_property_that_cannot_be_judged_says_why(kwargs: dict[str, float],
                                                    message: str) -> None:
    with pytest.raises(ParamError) as raised:
        Recovery(**kwargs)

    assert str(raised.value).startswith(message)
