"""The story's second act: DNS is back, and the lease manager is not.

AWS's post-event summary (aws.amazon.com/message/101925): the DNS records were restored at
2:25 AM, yet EC2's DropletWorkflow Manager (DWFM), which holds a lease on every physical host
through DynamoDB, "had entered a state of congestive collapse and was unable to make forward
progress in recovering droplet leases"; engineers throttled incoming work and restarted DWFM
hosts from 4:14 AM, and every lease was back by 5:28 AM. AWS's fix: "rate limit incoming work
based on the size of the waiting queue".

The act plays it on real processes (`reproducer.metastable.LiveStage`: fake_dns, a fake_lb
fleet whose backends hold the lease table with bounded capacity, and the lease manager as its
own process renewing leases through the load balancers), at the project's scale of seconds:

6. The collapse, then the operators. The endpoint's record is emptied with a real DNS UPDATE
   for `OUTAGE_S` and restored. Once DNS is healthy again, goodput stays near zero, the pool is
   busy for attempts already given up, and the queue grows; `OPERATORS_AFTER_S` after the
   repair the operators (the same console as the model's) throttle the intake and restart the
   manager, and every lease comes back. The model's prediction for the same run is printed
   beside it, and what the model says of the fleet left alone.
7. The same outage under the fix, admission by queue size: the fleet recovers by itself, with a
   bounded queue, sooner than the operators could.

Every claim is checked (`expect`): the act fails the story if the world did not behave as told.
It returns the two runs' series for the report's charts, and its summary table.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

from reproducer.metastable import (
    POLICIES,
    FleetParams,
    LiveRunFailed,
    LiveStage,
    Operators,
    Policy,
    Recovery,
    RowsSoFar,
    Sample,
    Scenario,
    Series,
    simulate,
)
from reproducer.story.stage import Report, StoryFailed, expect

__all__ = ["OPERATORS_AFTER_S", "OUTAGE_S", "PARAMS", "SecondAct", "judge_collapse", "judge_fix",
           "judge_model", "play_second_act", "scenarios"]

PARAMS = FleetParams()  # 200 hosts, leases of 8 s, a 0.5 s timeout, 4 slots of 50 ms
OUTAGE_S = 3.0
WARM_S = 1.0
OPERATORS_AFTER_S = 4.0  # after the repair: long enough to watch the collapse sustain itself
REBUILD_S = 5.0  # observed after the operators act: the model's rebuild is 3.5-3.75 s
LEFT_ALONE_S = 60.0  # how long the model watches the fleet nobody helps
STUCK_FROM_S = 1.0  # after the repair: the first second still serves part of the burst
NEAR_ZERO = 0.1  # of a healthy fleet's goodput: "near zero"
AGREEMENT_S = 1.5  # how far the real run's recovery may be from the model's
SAMPLE_S = Scenario().sample_s


@dataclass(frozen=True, slots=True)
class SecondAct:
    """What the act leaves for the summary and the report."""

    operators: Series
    fix: Series
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    timeline: tuple[str, ...]  # AWS's hours beside the act's seconds


OPERATORS = Operators(after_s=OPERATORS_AFTER_S)
OPERATORS_POLICY = Policy("operators", operators=OPERATORS)


def _mean(samples: tuple[Sample, ...], value: Callable[[Sample], float]) -> float:
    span = sum(s.interval_s for s in samples)
    return sum(value(s) * s.interval_s for s in samples) / span if span > 0 else math.nan


def _wasted_after(series: Series, start_s: float) -> int:
    return round(sum(s.wasted_per_s * s.interval_s for s in series.samples
                     if s.t_s > start_s))


async def _run(stage: LiveStage, scenario: Scenario, report: Report) -> Series:
    table = RowsSoFar(scenario.params.hosts)
    report(f"  {scenario.policy.name}, {scenario.params.hosts} hosts, the record empty for "
           f"{scenario.outage_s:g} s after {scenario.warm_s:g} s of health (real run):")

    def show(sample: Sample) -> None:
        for row in table.add(sample):
            report("  " + row)

    try:
        series = await stage.run(scenario, on_sample=show)
    except LiveRunFailed as exc:
        raise StoryFailed(f"the second act's real run failed: {exc}") from None
    for row in table.rest(series):
        report("  " + row)
    return series


def judge_collapse(series: Series, params: FleetParams, report: Report) -> tuple[float, float]:
    """The claims of the collapse and the operators' recovery (`StoryFailed` names the one
    that did not hold); returns (when the operators acted, seconds from the repair to every
    lease held)."""
    p = params
    steady, repair = p.steady_rate_per_s, series.outage_end_s
    warm = series.between(0.0, series.outage_start_s)
    expect(bool(warm) and _mean(warm, lambda s: s.goodput_per_s) >= 0.6 * steady
           and warm[-1].leases_held == p.hosts,
           f"before the outage every lease should be held and renewed (~{steady:.0f}/s)")
    outage = series.between(series.outage_start_s, repair)
    expect(bool(outage) and all(s.failed_per_s > 0 for s in outage),
           "while the record is empty every renewal should fail")
    acted = [e.t_s for e in series.events if e.label.startswith("operators")]
    # The console acts at the first sample due after the scheduled repair; the real repair
    # lands a few milliseconds later than scheduled.
    expect(len(acted) == 1 and acted[0] >= repair + OPERATORS_AFTER_S - SAMPLE_S,
           f"the operators should act once, {OPERATORS_AFTER_S:g} s after the repair")
    act_s = acted[0]
    stuck = series.between(repair + STUCK_FROM_S, act_s)
    expect(len(stuck) >= 4, "the run should show the fleet for a while before the operators act")
    goodput = _mean(stuck, lambda s: s.goodput_per_s)
    wasted = _mean(stuck, lambda s: s.wasted_per_s)
    first, last = stuck[0], stuck[-1]
    report(f"stuck: from {first.t_s - first.interval_s:.2f} s to {last.t_s:.2f} s DNS was "
           f"healthy, yet goodput was {goodput:.1f} leases/s (a healthy fleet: {steady:.0f}/s); "
           f"the pool worked {wasted:.0f} attempts/s for requesters that had already given up, "
           f"and the queue grew from {first.queue} to {last.queue}; leases held: "
           f"{last.leases_held}/{p.hosts}")
    expect(all(s.dns_ok for s in stuck), "DNS should be healthy all through the stuck window")
    expect(goodput <= NEAR_ZERO * steady,
           f"with DNS healthy, goodput should stay near zero, not {goodput:.1f}/s")
    expect(wasted >= 0.5 * p.service_rate_per_s,
           f"the pool should be busy for nobody (wasted {wasted:.1f}/s)")
    expect(last.queue > first.queue and last.queue > p.served_within_timeout,
           f"the queue should grow past what the pool serves within a timeout "
           f"({p.served_within_timeout}), not go from {first.queue} to {last.queue}")
    expect(last.leases_held < p.hosts, "leases should have lapsed")
    recovery_s = series.recovery_s()
    expect(recovery_s is not None,
           "after the operators' throttle and restart, every lease should be held again")
    assert recovery_s is not None
    report(f"the operators throttled the intake to {OPERATORS.throttle_per_s(p):.1f}/s and "
           f"restarted the manager at {act_s:.2f} s, which dropped its queue: every lease held "
           f"again {repair + recovery_s - act_s:.2f} s later, {recovery_s:.2f} s after the DNS "
           "repair")
    return act_s, recovery_s


def judge_model(scenario: Scenario, real_recovery_s: float, report: Report) -> None:
    """The model's prediction for the same run, and for the fleet nobody helps."""
    p = scenario.params
    model = simulate(scenario)
    model_recovery_s = model.recovery_s()
    stuck = model.between(model.outage_end_s + STUCK_FROM_S,
                          model.outage_end_s + OPERATORS_AFTER_S)
    report(f"the model (virtual time, the same state machine): goodput "
           f"{_mean(stuck, lambda s: s.goodput_per_s):.1f}/s and a queue of {stuck[-1].queue} "
           "before the operators act; every lease held "
           + ("never" if model_recovery_s is None else f"{model_recovery_s:.2f} s")
           + " after the repair")
    expect(model_recovery_s is not None
           and abs(model_recovery_s - real_recovery_s) <= AGREEMENT_S,
           f"the real run ({real_recovery_s:.2f} s) should agree with the model "
           f"({model_recovery_s} s) within {AGREEMENT_S:g} s")
    alone = simulate(scenario.evolve(policy=POLICIES["collapsing"], after_s=LEFT_ALONE_S))
    end = alone.samples[-1]
    last_renewal = alone.between(alone.end_s - p.renew_every_s, alone.end_s)
    goodput = _mean(last_renewal, lambda s: s.goodput_per_s)
    report(f"left alone (the model, no operators): {LEFT_ALONE_S:g} s after the repair, goodput "
           f"{goodput:.1f}/s, {end.leases_held}/{p.hosts} leases held, {end.queue:,} attempts "
           "queued and growing: the trigger is long gone, and the fleet stays down")
    expect(goodput <= NEAR_ZERO * p.steady_rate_per_s and end.queue > 10_000,
           "the model should show the collapse sustaining itself without the operators")


def judge_fix(series: Series, params: FleetParams, operators_recovery_s: float,
              operators_wasted: int, report: Report) -> float:
    """The claims of the fix; returns seconds from the repair to every lease held."""
    p = params
    limit = POLICIES["admission"].queue_limit(p)
    assert limit is not None
    verdict = Recovery().judge(series)
    recovery_s = series.recovery_s()
    peak = max(s.queue for s in series.samples)
    wasted = _wasted_after(series, series.outage_end_s)
    report("recovered by itself: every lease held "
           + ("never" if recovery_s is None else f"{recovery_s:.2f} s")
           + f" after the repair; the queue never held more than {peak} (the limit: {limit}); "
           f"{wasted} attempts wasted after the repair (with the operators: {operators_wasted})")
    report(f"the recovery property: {verdict.describe()}")
    expect(verdict.recovered and recovery_s is not None,
           "with admission by queue size the fleet should recover by itself")
    assert recovery_s is not None
    expect(peak <= limit, f"the queue should stay within its limit {limit}, not reach {peak}")
    expect(recovery_s < operators_recovery_s,
           f"the fix ({recovery_s:.2f} s) should recover sooner than the operators "
           f"({operators_recovery_s:.2f} s)")
    expect(wasted * 3 <= operators_wasted,
           f"the fix should waste far less work ({wasted}) than the collapse ({operators_wasted})")
    return recovery_s


def scenarios(params: FleetParams = PARAMS) -> tuple[Scenario, Scenario]:
    """The act's two runs: the operators acting late, and the fix."""
    late = Scenario(params=params, policy=OPERATORS_POLICY, outage_s=OUTAGE_S, warm_s=WARM_S,
                    after_s=OPERATORS_AFTER_S + REBUILD_S)
    fix = Scenario(params=params, policy=POLICIES["admission"], outage_s=OUTAGE_S,
                   warm_s=WARM_S, after_s=Recovery().after_s(params))
    return late, fix


async def play_second_act(report: Report, section: Callable[[str], None]) -> SecondAct:
    """Sections 6 and 7 of the story, on their own processes (started and stopped here)."""
    late, fixed = scenarios()
    p = PARAMS
    section("6. The second act: DNS is back, and the lease manager is not")
    report("The race emptied the record for under three hours; the outage lasted about fifteen. "
           "EC2's")
    report("DropletWorkflow Manager keeps a lease on every physical host through DynamoDB. "
           "While the name")
    report("was empty the leases lapsed; once DNS was back, re-establishing them took longer "
           "than a lease's")
    report("timeout, the timed-out work was queued again, and the manager stayed down: a "
           "metastable failure.")
    report(f"This act shows it on real processes: a lease manager renewing {p.hosts} leases "
           f"(each of {p.lease_s:g} s,")
    report(f"renewed with half left, {p.timeout_s:g} s per attempt) through the load balancers "
           f"against a lease table that")
    report(f"serves {p.capacity} attempts at once ({p.service_rate_per_s:.1f}/s). The record is "
           f"emptied for {OUTAGE_S:g} s, then restored. You will see:")
    report("  - DNS healthy again, yet goodput (leases established per second) near zero and the "
           "queue growing;")
    report(f"  - the operators step in {OPERATORS_AFTER_S:g} s after the repair (throttle and "
           "restart), and every lease comes back;")
    report("  - then the same outage under AWS's fix, admission by queue size: it recovers by "
           "itself, sooner.")
    async with LiveStage(p) as stage:
        fleet = stage.fleet
        report(f"fake-dns on 127.0.0.1:{stage.dns_port} serving {fleet.endpoint}; "
               f"{len(fleet.backends)} backends ({', '.join(fleet.backend_addresses)}) with "
               f"{p.capacity} slots in all; load balancers {', '.join(fleet.lb_urls)}")
        operators = await _run(stage, late, report)
        act_s, operators_recovery_s = judge_collapse(operators, p, report)
        await asyncio.to_thread(judge_model, late, operators_recovery_s, report)
        operators_wasted = _wasted_after(operators, operators.outage_end_s)

        section("7. The second act's fix: admission by the size of the queue")
        report(f"New work is admitted only while the queue holds fewer than "
               f"{POLICIES['admission'].queue_limit(p)} attempts (what the pool serves within a "
               "timeout, x 0.8);")
        report("refused work tries again later, so nothing in the queue grows stale. The same "
               "outage:")
        fix = await _run(stage, fixed, report)
    fix_recovery_s = judge_fix(fix, p, operators_recovery_s, operators_wasted, report)

    header = ("policy", "DNS outage", "stuck with DNS healthy", "repair to every lease held",
              "peak queue", "wasted after the repair")
    rows = (
        ("collapsing, then the operators", f"{operators.outage_s:.1f} s",
         f"{act_s - operators.outage_end_s:.1f} s (until the operators acted)",
         f"{operators_recovery_s:.2f} s", f"{max(s.queue for s in operators.samples)}",
         f"{operators_wasted}"),
        ("admission by queue size (the fix)", f"{fix.outage_s:.1f} s", "none",
         f"{fix_recovery_s:.2f} s", f"{max(s.queue for s in fix.samples)}",
         f"{_wasted_after(fix, fix.outage_end_s)}"),
    )
    timeline = (
        "AWS, 20 October: DNS repaired at 2:25 AM; engineers throttled and restarted DWFM from "
        "4:14 AM (1 h 49 min later);",
        "every lease was back at 5:28 AM, 3 h 03 min after the repair. Here: the operators "
        f"acted {act_s - operators.outage_end_s:.1f} s after the repair,",
        f"every lease was back {operators_recovery_s:.2f} s after it; under the fix, "
        f"{fix_recovery_s:.2f} s, and nobody had to act.")
    return SecondAct(operators, fix, header, rows, timeline)
