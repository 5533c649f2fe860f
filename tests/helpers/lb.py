"""A published zone for the load-balancer tests: the zone, the planner's key, a fake clock, and
plan trees written with dnspython through real RFC 2136 UPDATEs."""

from __future__ import annotations

from collections.abc import Callable

import dns.asyncquery
import dns.name
import dns.rcode
import dns.tsig
import dns.update

import fake_dns
from fake_dns import ZoneStore

ZONE = "us-east-1.amazonaws.com."
ENDPOINT = "dynamodb.us-east-1.amazonaws.com"
KEY_NAME = "planner."
SECRET = b"lb-tests-secret-0123456789abcdef"
TTL_S = 1


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def tree(generation: int) -> str:
    return f"g{generation:04d}.dynamodb.plans.{ZONE}"


async def send_update(dns_port: int, build: Callable[[dns.update.UpdateMessage], None]) -> None:
    """One TSIG-signed RFC 2136 UPDATE, sent with dnspython, that must succeed."""
    keyring = {dns.name.from_text(KEY_NAME): dns.tsig.Key(KEY_NAME, SECRET)}
    message = dns.update.UpdateMessage(ZONE, keyring=keyring, keyalgorithm=dns.tsig.HMAC_SHA256)
    build(message)
    response = await dns.asyncquery.udp(message, "127.0.0.1", port=dns_port, timeout=2)
    assert dns.rcode.to_text(response.rcode()) == "NOERROR"


async def publish(dns_port: int, generation: int, addresses: list[str]) -> None:
    """Write a plan tree with one A record per address (and a TXT naming the plan, so the name
    outlives its addresses) and point the endpoint's CNAME at it."""
    def build(m: dns.update.UpdateMessage) -> None:
        m.replace(tree(generation), TTL_S, "TXT", f'"plan {generation}"')
        m.replace(tree(generation), TTL_S, "A", *addresses)
        m.replace(ENDPOINT + ".", TTL_S, "CNAME", tree(generation))
    await send_update(dns_port, build)


async def empty_tree(dns_port: int, generation: int) -> None:
    """What the clean-up did on 20 October: delete the active tree's addresses. The name stays
    (its TXT), so the endpoint answers NOERROR with the CNAME and no address, as clients saw."""
    await send_update(dns_port, lambda m: m.delete(tree(generation), "A"))


def new_store() -> ZoneStore:
    return ZoneStore([fake_dns.Zone.empty(ZONE, ttl=TTL_S)])
