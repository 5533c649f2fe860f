"""The real run agrees with the model: the manager as its own process renewing leases over HTTP,
through the fake_lb load balancers resolving the endpoint through fake_dns, the outage made of
real DNS UPDATEs. On either side of the model's boundary for the collapsing policy, the real
processes recover or collapse as the model says; where it collapses, the fix and the operators
bring the same fleet back.

Each run lasts its scenario (about 9 s: half a second of health, the outage, then two seconds and
one renewal period, as the property needs); one stage (DNS server and fleet) serves a module's
runs. The points sit well away from the model's boundary (see docs/second-act.md), so neither
the real run's few milliseconds of HTTP nor a machine busy with other tests decide them; and the
runs share one xdist worker (`xdist_group`), so two stages never compete for the cores.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from reproducer.metastable import (
    POLICIES,
    FleetParams,
    LiveStage,
    ParamError,
    Recovery,
    Scenario,
    Series,
    simulate,
)
from reproducer.metastable.boundary import scenario_at
from tests.helpers.sockets import refuses

pytestmark = pytest.mark.xdist_group("live-processes")

PARAMS = FleetParams()
PROP = Recovery()
RECOVERS = [(0.3, 200), (1.5, 80), (4.0, 40)]
COLLAPSES = [(2.0, 200), (2.5, 160), (3.0, 140)]


def point(policy: str, outage_s: float, hosts: int) -> Scenario:
    base = Scenario(params=PARAMS, policy=POLICIES[policy], warm_s=0.5)
    return scenario_at(base, PROP, outage_s, hosts)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage() -> AsyncIterator[LiveStage]:
    async with LiveStage(PARAMS) as running:
        yield running


def told(series: Series) -> str:
    """The run, for a failing assertion's message."""
    return "\n".join([series.label, *(f"  {s}" for s in series.samples)])


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("outage_s", "hosts", "recovered"),
                         [(o, h, True) for o, h in RECOVERS] +
                         [(o, h, False) for o, h in COLLAPSES])
async def test_the_real_processes_recover_or_collapse_as_the_model_says(
        stage: LiveStage, outage_s: float, hosts: int, recovered: bool) -> None:
    scenario = point("collapsing", outage_s, hosts)
    assert PROP.judge(simulate(scenario)).recovered is recovered  # the model's side

    series = await stage.run(scenario)

    assert PROP.judge(series).recovered is recovered, told(series)
    assert series.outage_s == pytest.approx(outage_s, abs=0.1)


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_the_fix_recovers_the_real_fleet_the_collapsing_policy_loses(
        stage: LiveStage) -> None:
    series = await stage.run(point("admission", *COLLAPSES[0]))
    verdict = PROP.judge(series)

    assert verdict.recovered, told(series)
    assert verdict.recovery_s is not None
    # In the model nothing is wasted; here an attempt admitted last may miss its deadline by
    # the milliseconds of a loaded machine. A collapsed fleet wastes nearly all the pool's work
    # (about 71 of 72 attempts a second), so a quarter tells the two apart with room to spare.
    wasted = sum(s.wasted_per_s * s.interval_s for s in series.samples)
    established = sum(s.goodput_per_s * s.interval_s for s in series.samples)
    assert wasted < 0.25 * established, told(series)


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_the_operators_throttle_and_restart_the_real_manager_and_it_recovers(
        stage: LiveStage) -> None:
    series = await stage.run(point("operators", *COLLAPSES[0]))

    act = next(e for e in series.events if e.label.startswith("operators"))
    after = [s for s in series.samples if s.t_s > act.t_s]
    assert after[0].queue == 0, told(series)  # the restart dropped the queue
    assert PROP.judge(series).recovered, told(series)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_scenario_for_another_pool_is_refused_before_anything_starts(
        stage: LiveStage) -> None:
    with pytest.raises(ParamError, match=r"the stage serves capacity=4 at service_s=0\.05"):
        await stage.run(point("collapsing", 1.0, 100).evolve(params=PARAMS.evolve(capacity=8)))


@pytest.mark.asyncio
async def test_leaving_the_stage_stops_the_dns_server_and_the_fleet() -> None:
    async with LiveStage(PARAMS.evolve(capacity=2), backends=1, lbs=1) as stage:
        dns_port, fleet = stage.dns_port, stage.fleet
        assert not refuses("127.0.0.1", dns_port)

    listening = [("127.0.0.1", dns_port)] + [(n.address, n.port)
                                             for n in fleet.backends + fleet.lbs]
    await asyncio.sleep(0)
    assert [where for where in listening if not refuses(*where)] == []
