"""The load generator through a real LB and a real fake_dns server, on a fake clock.

The generator's sleep is replaced by one that first waits until the LB has answered every
request sent so far, then moves the shared fake clock: each request then sees exactly the DNS
state of its own send time, so the per-interval numbers are exact.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

import fake_dns
from fake_lb import Fleet, IntervalStats, LoadBalancer, TrafficPlan, run_traffic
from tests.helpers.lb import KEY_NAME, SECRET, TTL_S, FakeClock, empty_tree, new_store, publish

KEYS = {KEY_NAME: SECRET}


@pytest_asyncio.fixture
async def world() -> AsyncIterator[tuple[int, Fleet, FakeClock]]:
    clock = FakeClock()
    server = fake_dns.DNSServer(new_store(), host="127.0.0.1", port=0, tsig_keys=KEYS)
    async with server, Fleet(("127.0.0.1", server.port), backends=2, lbs=1,
                             clock=clock) as fleet:
        yield server.port, fleet, clock


Sleep = Callable[[float], Awaitable[None]]


def lockstep_sleep(lb: LoadBalancer, clock: FakeClock,
                   at: dict[float, Callable[[], Awaitable[None]]]) -> Sleep:
    """A sleep for run_traffic: wait until the LB has answered every request sent so far (a
    condition, bounded generously), advance the clock, then run any event due at the new time."""
    sent = 0

    async def sleep(delay_s: float) -> None:
        nonlocal sent
        sent += 1  # with rates of 2^k per second every offset is exact: one sleep per send
        await asyncio.wait_for(lb.wait_answered(sent), 30)
        clock.advance(delay_s)
        for when, event in list(at.items()):
            if clock.now >= when:
                del at[when]
                await event()

    return sleep


@pytest.mark.asyncio
async def test_traffic_reports_each_interval_served_by_the_backends(
        world: tuple[int, Fleet, FakeClock]) -> None:
    dns_port, fleet, clock = world
    await publish(dns_port, 1, list(fleet.info.backend_addresses))
    lb = fleet.lbs[0]
    seen: list[IntervalStats] = []

    report = await run_traffic([lb.url], TrafficPlan(rate_per_s=8, duration_s=2, interval_s=1),
                               on_interval=seen.append, clock=clock,
                               sleep=lockstep_sleep(lb, clock, {}))

    assert [(i.index, i.sent, i.succeeded, i.failures) for i in report.intervals] == [
        (0, 8, 8, ()), (1, 8, 8, ())]
    assert list(report.intervals) == seen
    assert {b.address: b.served for b in fleet.backends} == {
        a: 8 for a in fleet.info.backend_addresses}
    assert json.loads(json.dumps(report.to_json()))["succeeded"] == 16


@pytest.mark.asyncio
async def test_traffic_shows_the_outage_from_the_interval_after_the_record_is_emptied(
        world: tuple[int, Fleet, FakeClock]) -> None:
    dns_port, fleet, clock = world
    await publish(dns_port, 1, list(fleet.info.backend_addresses))
    lb = fleet.lbs[0]
    start = clock.now

    async def outage() -> None:
        await empty_tree(dns_port, 1)

    plan = TrafficPlan(rate_per_s=4, duration_s=3, interval_s=1)
    # The record empties at t=0.5 s; the answer cached at t=0 lives until t=1 s (TTL 1 s).
    sleep = lockstep_sleep(lb, clock, {start + 0.5: outage})
    report = await run_traffic([lb.url], plan, clock=clock, sleep=sleep)

    assert TTL_S == 1
    assert [(i.sent, i.succeeded, i.failures) for i in report.intervals] == [
        (4, 4, ()), (4, 0, (("dns-empty-answer", 4),)), (4, 0, (("dns-empty-answer", 4),))]
    assert report.failures() == {"dns-empty-answer": 8}
