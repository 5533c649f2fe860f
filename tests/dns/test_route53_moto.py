"""Differential: the same change batches through moto's Route 53 and through fake-dns.

Both sides are driven by the same boto3 calls: moto in process (`mock_aws`), fake-dns through
its `Route53Server` on a loopback port. After each scenario both zones are listed and compared,
and so are the error codes of the batches that fail.

Only behaviour where moto agrees with AWS's documentation is compared. Excluded, because moto
(5.x) does not do what the Route 53 API reference says:
- CREATE of an existing set: moto accepts it and keeps a second set of the same name and
  type; Route 53 refuses the batch (InvalidChangeBatch, "... but it already exists").
- DELETE of a missing set, or with other values or another TTL: moto answers InvalidInput with
  an unrelated message ("Expected exactly one of [AliasTarget, ...]"); Route 53 answers
  InvalidChangeBatch ("... was not found", "... do not match the current values").
- A stale compare-and-set (DELETE of a value that is no longer there, then CREATE): moto
  applies it; Route 53 refuses it, which is what makes it a compare-and-set.
- CNAME beside other types, and values that do not parse ('10.0.0' as an A): moto accepts
  them; Route 53 refuses them.
- All or nothing and the listing of several errors: moto stops at the first failing change
  and may keep the changes before it.
- Listing order of names with characters that sort below '.' ('a-b' against 'a'): moto sorts
  the reversed labels without the trailing dot, which the API reference warns changes the
  order; the scenarios' names avoid such characters.
- Error messages: moto's differ in small ways (no trailing dot on the zone in "... is not
  permitted in zone ..."), so failing batches are compared by error code, and by message only
  where moto words it as Route 53 does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from fake_dns import Zone, ZoneStore
from fake_dns.route53 import Route53Server

ZONE = "example.test."
CREDENTIALS = {"aws_access_key_id": "differential", "aws_secret_access_key": "dummy",
               "region_name": "us-east-1"}

Change = dict[str, Any]


def rrset(action: str, name: str, values: list[str], ttl: int = 60,
          rtype: str = "A") -> Change:
    return {"Action": action, "ResourceRecordSet": {
        "Name": name, "Type": rtype, "TTL": ttl,
        "ResourceRecords": [{"Value": v} for v in values]}}


SCENARIOS: dict[str, list[list[Change]]] = {
    "create, one set per batch and several in one": [
        [rrset("CREATE", "dynamodb.example.test.", ["10.0.0.1"])],
        [rrset("CREATE", "a.example.test.", ["10.0.0.2", "10.0.0.3"], ttl=30),
         rrset("CREATE", "lock.example.test.", ['"enactor-1"'], rtype="TXT"),
         rrset("CREATE", "www.example.test.", ["dynamodb.example.test."], rtype="CNAME")],
    ],
    "upsert creates, then replaces values and TTL": [
        [rrset("UPSERT", "dynamodb.example.test.", ["10.0.0.1"])],
        [rrset("UPSERT", "dynamodb.example.test.", ["10.0.0.2", "10.0.0.3"], ttl=5)],
        [rrset("UPSERT", "dynamodb.example.test.", ["10.0.0.2", "10.0.0.3"], ttl=5)],
    ],
    "delete of the exact set": [
        [rrset("CREATE", "dynamodb.example.test.", ["10.0.0.1", "10.0.0.2"])],
        [rrset("DELETE", "dynamodb.example.test.", ["10.0.0.1", "10.0.0.2"])],
    ],
    "compare-and-set that holds the current value": [
        [rrset("CREATE", "dynamodb.example.test.", ["10.0.0.1"])],
        [rrset("DELETE", "dynamodb.example.test.", ["10.0.0.1"]),
         rrset("CREATE", "dynamodb.example.test.", ["10.0.0.2"])],
        [rrset("DELETE", "dynamodb.example.test.", ["10.0.0.2"]),
         rrset("CREATE", "dynamodb.example.test.", ["10.0.0.3"])],
    ],
    "a name outside the zone": [
        [rrset("UPSERT", "dynamodb.other.test.", ["10.0.0.1"])],
    ],
    "more than 1,000 records": [
        [rrset("CREATE", f"m{i}.example.test.", ["10.0.0.1"]) for i in range(1001)],
    ],
    "many sets listed in order, over pages": [
        [rrset("CREATE", f"host{i}.{sub}example.test.", [f"10.0.{i}.1"])
         for i in range(12) for sub in ("east.", "west.", "")],
        [rrset("UPSERT", f"host{i}.example.test.", ['"txt"'], rtype="TXT") for i in range(3)],
    ],
}


@contextlib.contextmanager
def fake_dns_endpoint() -> Iterator[str]:
    """A fresh zone served by Route53Server in a thread of its own; yields the endpoint URL."""
    store = ZoneStore([Zone.empty(ZONE)])
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    url: list[str] = []
    stop = asyncio.Event()

    async def serve() -> None:
        async with Route53Server(store) as server:
            url.append(server.endpoint_url)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(30), "the Route 53 server did not start"
        yield url[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def run(client: Any, batches: list[list[Change]]) -> tuple[list[str], list[Any]]:
    """Apply each batch to a new zone named ZONE; (the error code of each batch or 'ok', the
    zone's record sets at the end, in listing order, paged 5 at a time)."""
    zones = client.list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"]
    zone_id = next(z["Id"] for z in zones if z["Name"] == ZONE)
    outcomes = []
    for changes in batches:
        try:
            client.change_resource_record_sets(HostedZoneId=zone_id,
                                               ChangeBatch={"Changes": changes})
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(f"{exc.response['Error']['Code']}")
    pages = client.get_paginator("list_resource_record_sets").paginate(
        HostedZoneId=zone_id, PaginationConfig={"PageSize": 5})
    sets = [(s["Name"], s["Type"], s["TTL"], [r["Value"] for r in s["ResourceRecords"]])
            for page in pages for s in page["ResourceRecordSets"]
            if s["Type"] not in ("SOA", "NS")]  # the zones' own SOA and NS differ by design
    return outcomes, sets


@pytest.fixture(autouse=True)
def no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ROUTE_53"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_moto_and_fake_dns_agree_on_results_and_error_codes(scenario: str) -> None:
    batches = SCENARIOS[scenario]
    with mock_aws():
        moto = boto3.client("route53", **CREDENTIALS)
        moto.create_hosted_zone(Name=ZONE, CallerReference=scenario)
        expected = run(moto, batches)
    with fake_dns_endpoint() as url:
        ours = run(boto3.client("route53", endpoint_url=url, **CREDENTIALS), batches)
    assert ours == expected


def test_both_word_the_record_limit_the_same_way() -> None:
    too_many = [rrset("CREATE", f"m{i}.example.test.", ["10.0.0.1"]) for i in range(1001)]
    messages = []
    with mock_aws():
        moto = boto3.client("route53", **CREDENTIALS)
        zone_id = moto.create_hosted_zone(Name=ZONE, CallerReference="limit")["HostedZone"]["Id"]
        with pytest.raises(ClientError) as caught:
            moto.change_resource_record_sets(HostedZoneId=zone_id,
                                             ChangeBatch={"Changes": too_many})
        messages.append(caught.value.response["Error"]["Message"])
    with fake_dns_endpoint() as url:
        ours = boto3.client("route53", endpoint_url=url, **CREDENTIALS)
        with pytest.raises(ClientError) as caught:
            ours.change_resource_record_sets(HostedZoneId=ours.list_hosted_zones(
                )["HostedZones"][0]["Id"], ChangeBatch={"Changes": too_many})
        messages.append(caught.value.response["Error"]["Message"])
    # Route 53 lists InvalidChangeBatch messages in brackets; moto gives the one message bare.
    assert messages == ["Number of records limit of 1000 exceeded.",
                        "[Number of records limit of 1000 exceeded.]"]
