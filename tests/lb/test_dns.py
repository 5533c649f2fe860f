"""The load balancers against a real fake_dns server: they follow the record, TTL by TTL.

Time is a fake clock handed to the LBs' TTL caches: a test moves it past the TTL instead of
sleeping. Records carry TTL 1 s and the zone's SOA TTL is 1 s, so a negative answer is cached
for 1 s too (RFC 2308 §5: min(SOA TTL, SOA MINIMUM)).
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

import fake_dns
from fake_lb import Fleet, LoadBalancer
from reproducer import HealthSource, HttpHealthSource
from reproducer.world.health import BackendHealth
from reproducer.world.planner import make_plan
from reproducer.world.values import Target
from tests.helpers.lb import (
    ENDPOINT,
    KEY_NAME,
    SECRET,
    TTL_S,
    FakeClock,
    empty_tree,
    new_store,
    publish,
    tree,
)


@pytest_asyncio.fixture
async def dns_port() -> AsyncIterator[int]:
    async with fake_dns.DNSServer(new_store(), host="127.0.0.1", port=0,
                                  tsig_keys={KEY_NAME: SECRET}) as server:
        yield server.port


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def fleet(dns_port: int, clock: FakeClock) -> AsyncIterator[Fleet]:
    async with Fleet(("127.0.0.1", dns_port), backends=3, lbs=1, clock=clock) as running:
        yield running


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


async def get_many(http: aiohttp.ClientSession, lb: LoadBalancer,
                   count: int) -> list[tuple[int, str | None, str]]:
    """(status, served-by backend or failure reason, body) of `count` sequential requests."""
    out = []
    for i in range(count):
        async with http.put(f"{lb.url}/items/k{i}", data=b"v") as reply:
            who = reply.headers.get("X-Backend") or reply.headers.get("X-Fake-LB-Reason", "")
            out.append((reply.status, who, await reply.text()))
    return out


def served(fleet: Fleet) -> dict[str, int]:
    return {b.address: b.served for b in fleet.backends}


@pytest.mark.asyncio
async def test_requests_spread_evenly_over_every_address_in_the_record(
        fleet: Fleet, dns_port: int, http: aiohttp.ClientSession) -> None:
    addresses = list(fleet.info.backend_addresses)
    await publish(dns_port, 7, addresses)

    replies = await get_many(http, fleet.lbs[0], 30)

    assert {status for status, _, _ in replies} == {204}
    assert collections.Counter(who for _, who, _ in replies) == {a: 10 for a in addresses}
    async with http.get(f"{fleet.lbs[0].url}/stats") as reply:
        stats = await reply.json()
    assert stats["requests"] == 30
    assert stats["forwarded"] == 30
    assert stats["failures"] == {}
    assert stats["last_addresses"] == addresses


@pytest.mark.asyncio
async def test_an_emptied_record_fails_every_request_with_the_empty_answer_reason_after_the_ttl(
        fleet: Fleet, dns_port: int, clock: FakeClock, http: aiohttp.ClientSession) -> None:
    lb = fleet.lbs[0]
    await publish(dns_port, 7, list(fleet.info.backend_addresses))
    await get_many(http, lb, 6)  # warm the keep-alive pools: one connection per backend
    assert all(b.connections == 1 for b in fleet.backends)
    before = served(fleet)

    await empty_tree(dns_port, 7)
    cached = await get_many(http, lb, 3)  # still inside the TTL: the cached answer is used
    clock.advance(TTL_S)
    after_ttl = await get_many(http, lb, 20)

    assert {status for status, _, _ in cached} == {204}
    expected = (f"{ENDPOINT}. resolved to no address: rcode NOERROR, the answer held no A record"
                f" -> CNAME {tree(7)} (empty answer)\n")
    assert after_ttl == [(503, "dns-empty-answer", expected)] * 20
    # None reached a backend, though each held an idle pooled connection from the LB.
    assert served(fleet) == {a: n + 1 for a, n in before.items()}
    stats = lb.stats()
    assert stats.failures_by_reason() == {"dns-empty-answer": 20}
    assert stats.last_addresses == ()
    assert stats.last_failure == expected.strip()


@pytest.mark.asyncio
async def test_a_shrunk_record_sends_nothing_to_removed_addresses_despite_pooled_connections(
        fleet: Fleet, dns_port: int, clock: FakeClock, http: aiohttp.ClientSession) -> None:
    first, second, third = fleet.info.backend_addresses
    await publish(dns_port, 7, [first, second, third])
    await get_many(http, fleet.lbs[0], 6)
    before = served(fleet)

    await publish(dns_port, 8, [second])
    clock.advance(TTL_S)
    replies = await get_many(http, fleet.lbs[0], 12)

    assert {who for _, who, _ in replies} == {second}
    assert served(fleet) == {first: before[first], second: before[second] + 12,
                             third: before[third]}


@pytest.mark.asyncio
async def test_a_restored_record_makes_requests_succeed_again_once_the_negative_ttl_passes(
        fleet: Fleet, dns_port: int, clock: FakeClock, http: aiohttp.ClientSession) -> None:
    addresses = list(fleet.info.backend_addresses)
    await publish(dns_port, 7, addresses)
    await empty_tree(dns_port, 7)
    assert {who for _, who, _ in await get_many(http, fleet.lbs[0], 3)} == {"dns-empty-answer"}

    await publish(dns_port, 9, addresses)
    still_cached = await get_many(http, fleet.lbs[0], 2)
    clock.advance(TTL_S)
    restored = await get_many(http, fleet.lbs[0], 3)

    assert {who for _, who, _ in still_cached} == {"dns-empty-answer"}
    assert [who for _, who, _ in restored] == addresses


@pytest.mark.asyncio
async def test_a_stopped_dns_server_fails_requests_at_once_with_no_answer_until_it_returns(
        clock: FakeClock, http: aiohttp.ClientSession) -> None:
    store = new_store()
    keys = {KEY_NAME: SECRET}
    async with fake_dns.DNSServer(store, host="127.0.0.1", port=0, tsig_keys=keys) as server:
        port = server.port
        # A long query timeout: had the LB waited for one instead of seeing the refusal, the
        # reason below would say "timeout".
        async with Fleet(("127.0.0.1", port), backends=2, lbs=1, clock=clock) as fleet:
            lb = fleet.lbs[0]
            lb.resolver.timeout_s = 30.0
            await publish(port, 3, list(fleet.info.backend_addresses))
            assert {s for s, _, _ in await get_many(http, lb, 2)} == {204}
            await server.close()
            try:
                clock.advance(TTL_S)
                down = await get_many(http, lb, 3)
            finally:
                restarted = fake_dns.DNSServer(store, host="127.0.0.1", port=port, tsig_keys=keys)
                await restarted.start()  # the same zone data, on the same port
            try:
                back = await get_many(http, lb, 2)
            finally:
                await restarted.close()

    assert [(s, who) for s, who, _ in down] == [(503, "dns-no-answer")] * 3
    assert down[0][2] == (f"DNS server 127.0.0.1:{port} did not answer for {ENDPOINT}.: "
                          "ConnectionRefusedError: [Errno 111] Connection refused\n")
    assert {s for s, _, _ in back} == {204}


@pytest.mark.asyncio
async def test_a_name_that_does_not_exist_fails_with_the_nxdomain_reason(
        dns_port: int, clock: FakeClock, http: aiohttp.ClientSession) -> None:
    async with Fleet(("127.0.0.1", dns_port), backends=1, lbs=1, clock=clock,
                     endpoint="nothing-here.us-east-1.amazonaws.com") as fleet:
        replies = await get_many(http, fleet.lbs[0], 2)

    assert replies == [(503, "dns-nxdomain", "nothing-here.us-east-1.amazonaws.com. does not "
                        "exist: rcode NXDOMAIN (no such name)\n")] * 2


@pytest.mark.asyncio
async def test_a_name_outside_the_servers_zones_fails_with_the_refused_rcode(
        dns_port: int, clock: FakeClock, http: aiohttp.ClientSession) -> None:
    async with Fleet(("127.0.0.1", dns_port), backends=1, lbs=1, clock=clock,
                     endpoint="dynamodb.eu-west-1.amazonaws.com") as fleet:
        replies = await get_many(http, fleet.lbs[0], 1)

    assert replies == [(503, "dns-rcode", "dynamodb.eu-west-1.amazonaws.com. could not be "
                        "resolved: the DNS server answered rcode REFUSED\n")]


@pytest.mark.asyncio
async def test_a_stopped_backend_is_reported_unhealthy_with_no_capacity(fleet: Fleet) -> None:
    first, second, third = fleet.info.backend_addresses
    source = HttpHealthSource(fleet.info.backend_addresses, fleet.backend_port)
    assert await source.read() == (BackendHealth(first, True, 1), BackendHealth(second, True, 1),
                                   BackendHealth(third, True, 1))

    await fleet.stop_backend(second)
    fleet.backend(third).capacity = 5

    health = await source.read()

    assert health == (BackendHealth(first, True, 1), BackendHealth(second, False, 0),
                      BackendHealth(third, True, 5))
    # The Planner's next plan (the runtime calls make_plan with what the source read).
    plan = make_plan(8, health, (ENDPOINT,))
    assert plan.targets(ENDPOINT) == (Target(first, 1), Target(third, 5))


def test_the_http_health_source_is_a_health_source_for_the_planner() -> None:
    assert isinstance(HttpHealthSource(["127.0.0.11"], 8080), HealthSource)


@pytest.mark.asyncio
async def test_a_backend_marked_unhealthy_is_reported_unhealthy_and_back_when_restarted(
        fleet: Fleet, http: aiohttp.ClientSession) -> None:
    first = fleet.info.backend_addresses[0]
    source = HttpHealthSource([first], fleet.backend_port)
    async with http.put(f"{fleet.backend(first).url}/healthz", json={"healthy": False}) as reply:
        assert reply.status == 503
    assert await source.read() == (BackendHealth(first, False, 0),)

    await fleet.stop_backend(first)
    await fleet.start_backend(first)

    assert await source.read() == (BackendHealth(first, True, 1),)


@pytest.mark.asyncio
async def test_a_stopped_backend_still_in_the_record_fails_its_share_as_unreachable(
        fleet: Fleet, dns_port: int, http: aiohttp.ClientSession) -> None:
    first, second, _ = fleet.info.backend_addresses
    await publish(dns_port, 7, [first, second])
    await fleet.stop_backend(second)

    replies = await get_many(http, fleet.lbs[0], 4)

    assert [(status, who) for status, who, _ in replies] == [
        (204, first), (502, "backend-unreachable")] * 2
    assert replies[1][2].startswith(f"backend {second}:{fleet.backend_port} unreachable: "
                                    "ClientConnectorError")
