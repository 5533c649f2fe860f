"""The second act's page: the learner sets the DNS outage's length and the fleet's size, chooses
how the lease manager treats its work, and sees what the model says happens (`reproducer play`
serves it at /second-act, beside the scheduler's page).

Theory of operation
-------------------
Every answer is a run of the model in virtual time (`reproducer.metastable.simulate`): the same
state machine the real run's manager process runs, a few milliseconds to a few tens of
milliseconds a run, deterministic (the seed is fixed), so the page shows the model's series,
not an animation. The page draws nothing of its own: the chart is `series_svg`, the table
`series_rows`, the map `BoundaryMap`'s cells; this module turns requests into scenarios and
runs into JSON, with no I/O.

- Rule 1: a request is checked whole before anything runs; a body that is not
  `{"policy", "hosts", "outage_s"}` with values in `BOUNDS` is a `PlayError` 400 whose sentence
  says which field, what it got and what it takes. Outages are rounded to a tenth of a second
  (the slider's step); the answer says what was run.
- Rule 2: a run is judged as the map's cell of the same outage and fleet is: over one renewal
  period once DNS has been healthy for T seconds (`Recovery`), though the chart goes on.
- Rule 3: bounded work. A run is at most `MAX_HOSTS` hosts for `WARM_S + MAX_OUTAGE_S +
  AFTER_S` virtual seconds; runs are cached by their request (`run_json`, least recently used),
  and the server runs at most a few at once, off its event loop. Boundary maps are computed
  once per policy (`boundary_json`).

    GET  /api/second-act                         the policies, the bounds, the fleet's constants
    POST /api/second-act/run {policy, hosts, outage_s}   one run: series, chart, table, verdict
    GET  /api/second-act/boundary/{policy}       the policy's map: outage x fleet size
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

from reproducer.metastable import (
    POLICIES,
    FleetParams,
    Recovery,
    Scenario,
    map_boundary,
    series_rows,
    series_svg,
    simulate,
)
from reproducer.play.worlds import PlayError

__all__ = ["AFTER_S", "BOUNDS", "MAX_HOSTS", "MAX_OUTAGE_S", "WARM_S", "boundary_json",
           "run_json", "scenario_from", "setup_json"]

MIN_HOSTS, MAX_HOSTS = 10, 300  # the pool can serve the renewals of at most 290
MAX_OUTAGE_S = 10.0
WARM_S = 1.0
AFTER_S = 12.0  # long enough to watch a collapse last, and the operators' rebuild finish
BOUNDS = {"hosts": (MIN_HOSTS, MAX_HOSTS), "outage_s": (0.0, MAX_OUTAGE_S)}
DEFAULT = {"policy": "collapsing", "hosts": 200, "outage_s": 3.0}
MAP_OUTAGES_S = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
MAP_HOSTS = (40, 80, 120, 160, 200, 240, 280)
_FIELDS = ("policy", "hosts", "outage_s")
_ABOUT = {
    "collapsing": "What the summary describes: a FIFO queue, unbounded; work that times out is "
                  "queued again at once, and its dead copy is still served.",
    "operators": "The same, plus the operators: 2 s after the repair, if the fleet is in "
                 "trouble, they throttle the intake and restart the manager, which drops its "
                 "queue.",
    "admission": "AWS's fix: admit new work only while the queue is shorter than what the pool "
                 "serves within a timeout; refused work tries again later.",
    "backoff": "The tempting fix: exponential backoff with jitter on every retry, and no "
               "admission control.",
}
PROPERTY = Recovery()


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _number(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    low, high = BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlayError(400, f'"{name}" must be a number from {low:g} to {high:g}, got '
                             f"{_shown(value)}")
    if not low <= value <= high:
        raise PlayError(400, f'"{name}" must be from {low:g} to {high:g}, got {value:g}')
    return float(value)


def scenario_from(data: dict[str, Any]) -> Scenario:
    """The scenario a request body asks for (Rule 1: PlayError 400 when it cannot be run)."""
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise PlayError(400, f"unknown field {_shown(unknown[0])}; a run takes "
                             f"{', '.join(_FIELDS)}")
    policy = data.get("policy")
    if not isinstance(policy, str) or policy not in POLICIES:
        raise PlayError(400, f'"policy" must be one of {", ".join(POLICIES)}, got '
                             f"{_shown(policy)}")
    hosts = _number(data, "hosts")
    if hosts != int(hosts):
        raise PlayError(400, f'"hosts" must be a whole number of hosts, got {hosts:g}')
    outage_s = round(_number(data, "outage_s"), 1)
    return Scenario(params=FleetParams(hosts=int(hosts)), policy=POLICIES[policy],
                    outage_s=outage_s, warm_s=WARM_S, after_s=AFTER_S)


def setup_json() -> dict[str, Any]:
    """What the page needs before its first run."""
    params = FleetParams()
    return {"policies": [{"name": name, "about": _ABOUT[name]} for name in POLICIES],
            "bounds": {name: list(b) for name, b in BOUNDS.items()}, "default": DEFAULT,
            "fleet": params.to_json(), "warm_s": WARM_S, "after_s": AFTER_S,
            "service_rate_per_s": round(params.service_rate_per_s, 3),
            "healthy_for_s": PROPERTY.healthy_for_s,
            "goodput_fraction": PROPERTY.goodput_fraction,
            "viable_hosts": _viable_hosts(params)}


def _viable_hosts(params: FleetParams) -> int:
    """The largest fleet whose healthy renewals the pool can serve at all."""
    return math.floor(params.service_rate_per_s * params.renew_every_s)


@functools.lru_cache(maxsize=512)
def _run(policy: str, hosts: int, outage_s: float) -> dict[str, Any]:
    scenario = Scenario(params=FleetParams(hosts=hosts), policy=POLICIES[policy],
                        outage_s=outage_s, warm_s=WARM_S, after_s=AFTER_S)
    series = simulate(scenario)
    # Judged as the map's cells are: over one renewal period once DNS has been healthy for
    # `healthy_for_s` (the run goes on longer, to show what follows). The model's runs are
    # deterministic and do not depend on how long they go on, so the judged samples are the
    # map's run exactly.
    judged = dataclasses.replace(series, samples=series.between(
        0.0, series.outage_end_s + PROPERTY.after_s(scenario.params)))
    verdict = PROPERTY.judge(judged)
    after = [s for s in series.samples if s.t_s > series.outage_end_s]
    return {
        "scenario": {"policy": policy, "hosts": hosts, "outage_s": outage_s, "warm_s": WARM_S,
                     "after_s": AFTER_S},
        "verdict": {"recovered": verdict.recovered, "text": verdict.describe(),
                    "goodput_per_s": round(verdict.goodput_per_s, 3),
                    "floor_per_s": verdict.floor_per_s, "window": list(verdict.window),
                    "recovery_s": series.recovery_s()},
        "numbers": {"steady_rate_per_s": series.steady_rate_per_s,
                    "peak_queue": max(s.queue for s in series.samples),
                    "queue_at_end": series.samples[-1].queue,
                    "leases_at_end": series.samples[-1].leases_held,
                    "wasted_after_repair": round(sum(s.wasted_per_s * s.interval_s
                                                     for s in after)),
                    "viable": hosts <= _viable_hosts(scenario.params)},
        "events": [{"t_s": e.t_s, "label": e.label} for e in series.events],
        "samples": [s.to_json() for s in series.samples],
        "rows": series_rows(series),
        "svg": series_svg(series, element_id="second-act-chart"),
    }


def run_json(scenario: Scenario) -> dict[str, Any]:
    """One run of the model as the page shows it (cached: the same request, the same run)."""
    return _run(scenario.policy.name, scenario.params.hosts, scenario.outage_s)


@functools.lru_cache(maxsize=len(POLICIES))
def boundary_json(policy: str) -> dict[str, Any]:
    """The policy's boundary map over `MAP_OUTAGES_S` x `MAP_HOSTS` (PlayError 404 for a policy
    that does not exist)."""
    if policy not in POLICIES:
        raise PlayError(404, f"no policy {_shown(policy)}; the policies are "
                             f"{', '.join(POLICIES)}")
    found = map_boundary(Scenario(policy=POLICIES[policy]), PROPERTY, MAP_OUTAGES_S, MAP_HOSTS)
    return found.to_json()
