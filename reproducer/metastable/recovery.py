"""The recovery property: "once DNS has been healthy for T seconds, goodput is at least G".

A metastable failure is one that outlives its trigger (Bronson et al., HotOS 2021): the DNS
outage ends, the fleet does not come back. So the property looks only at the time after the
repair, once the fleet has had `healthy_for_s` to recover, and asks for goodput (leases
established per second) of at least `goodput_fraction` of what a healthy fleet establishes
(`Series.steady_rate_per_s`), on average over the rest of the run.

The rest of the run should last at least one renewal period (`lease_s / 2`): every held lease
renews exactly once per period, so the average over a period is the steady rate exactly, while
a shorter window could land between two bunched waves of renewals. `Recovery.after_s(params)`
is the observation time a scenario needs for that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reproducer.metastable.params import FleetParams, ParamError
from reproducer.metastable.series import Series

__all__ = ["Recovery", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The property's answer for one series, with the numbers behind it."""

    recovered: bool
    goodput_per_s: float  # mean goodput over the judged window
    floor_per_s: float  # G
    window: tuple[float, float]  # the judged window, seconds since the run began
    recovery_s: float | None  # from the repair until every lease was held for good

    def describe(self) -> str:
        verdict = "recovered" if self.recovered else "collapsed"
        when = ("" if self.recovery_s is None
                else f", every lease held {self.recovery_s:.2f} s after the repair")
        return (f"{verdict}: goodput {self.goodput_per_s:.1f}/s from {self.window[0]:.2f} s to "
                f"{self.window[1]:.2f} s (needs >= {self.floor_per_s:.1f}/s){when}")


@dataclass(frozen=True, slots=True)
class Recovery:
    healthy_for_s: float = 2.0
    goodput_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.healthy_for_s) and self.healthy_for_s >= 0):
            raise ParamError(f"healthy_for_s={self.healthy_for_s!r} must be a number of "
                             "seconds >= 0")
        if not 0 < self.goodput_fraction <= 1:
            raise ParamError(f"goodput_fraction={self.goodput_fraction!r} must be in (0, 1]: "
                             "a share of the goodput of a healthy fleet")

    def after_s(self, params: FleetParams) -> float:
        """How long a scenario must observe after the repair: T, then one renewal period."""
        return self.healthy_for_s + params.renew_every_s

    def judge(self, series: Series) -> Verdict:
        start = series.outage_end_s + self.healthy_for_s
        end = series.end_s
        floor = self.goodput_fraction * series.steady_rate_per_s
        goodput = series.goodput_between(start, end)
        if goodput is None:
            raise ParamError(f"the run ends at {end:g} s, before the judged window starts at "
                             f"{start:g} s (the repair plus healthy_for_s="
                             f"{self.healthy_for_s:g}); observe longer after the repair")
        return Verdict(goodput >= floor, goodput, floor, (start, end), series.recovery_s())
