"""Real clients against a real `fake-dns --route53`: boto3, the AWS CLI, dig's peers.

Each test starts the server as a process (`ServerProcess`, port 0 for DNS and for the API) and
points boto3 at it the way a user would: `AWS_ENDPOINT_URL_ROUTE_53` and dummy credentials in
the environment. DNS queries and RFC 2136 updates go to the same process over UDP.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update
import pytest
from botocore.exceptions import ClientError

from fake_dns import read_journal
from fake_dns.route53 import hosted_zone_id
from fake_dns.testing import ServerProcess, require_tool

ZONE = "example.test."
ZONE_ID = hosted_zone_id(ZONE)
KEY_NAME = "enactor-key."
SECRET = b"0123456789abcdef0123456789abcdef"
KEY_B64 = base64.b64encode(SECRET).decode()
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "enactor-1", "AWS_SECRET_ACCESS_KEY": "dummy",
             "AWS_DEFAULT_REGION": "us-east-1"}


def flags(journal: Path | None = None) -> list[str]:
    out = ["--zone", ZONE, "--tsig-key", f"{KEY_NAME}:{KEY_B64}", "--route53", "127.0.0.1:0",
           "--log-level", "WARNING"]
    return out + (["--journal", str(journal)] if journal else [])


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    with ServerProcess(flags()) as srv:
        yield srv


@pytest.fixture
def route53(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boto3 Route 53 client configured only through the environment, as users do."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", server.route53_url)
    for name, value in DUMMY_AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("route53")
    assert client.meta.endpoint_url == server.route53_url
    return client


def rrset(action: str, name: str, values: list[str], ttl: int = 60,
          rtype: str = "A") -> dict[str, Any]:
    return {"Action": action, "ResourceRecordSet": {
        "Name": name, "Type": rtype, "TTL": ttl,
        "ResourceRecords": [{"Value": v} for v in values]}}


def change(client: Any, *changes: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = client.change_resource_record_sets(
        HostedZoneId=ZONE_ID, ChangeBatch={"Changes": list(changes)})
    return result


def refused(client: Any, *changes: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        change(client, *changes)
    error: dict[str, Any] = caught.value.response["Error"]
    return error


def addresses(srv: ServerProcess, name: str) -> list[str]:
    reply = dns.query.udp(dns.message.make_query(name, "A"), srv.host, port=srv.port, timeout=5)
    return sorted(rr.address for rrs in reply.answer for rr in rrs)


def listed(client: Any, name: str, rtype: str = "A") -> list[dict[str, Any]]:
    sets = client.list_resource_record_sets(HostedZoneId=ZONE_ID, StartRecordName=name,
                                            StartRecordType=rtype, MaxItems="1")
    found: list[dict[str, Any]] = [s for s in sets["ResourceRecordSets"]
                                   if s["Name"] == name and s["Type"] == rtype]
    return found


# -- boto3 ---------------------------------------------------------------------------------------


def test_boto3_finds_the_zone_by_name_and_its_stable_id(route53: Any) -> None:
    zones = route53.list_hosted_zones_by_name(DNSName="example.test")["HostedZones"]
    assert [(z["Id"], z["Name"]) for z in zones] == [(f"/hostedzone/{ZONE_ID}", ZONE)]
    assert route53.list_hosted_zones()["HostedZones"][0]["Id"] == f"/hostedzone/{ZONE_ID}"
    zone = route53.get_hosted_zone(Id=zones[0]["Id"])  # botocore strips the /hostedzone/ prefix
    assert zone["HostedZone"]["Config"]["PrivateZone"] is False
    assert zone["DelegationSet"]["NameServers"] == ["ns1.example.test"]


def test_boto3_creates_upserts_and_deletes_and_dns_answers_each_change_at_once(
        route53: Any, server: ServerProcess) -> None:
    name = "dynamodb.example.test."
    done = change(route53, rrset("CREATE", name, ["10.0.0.1"]))
    assert done["ChangeInfo"]["Status"] == "INSYNC"
    route53.get_waiter("resource_record_sets_changed").wait(
        Id=done["ChangeInfo"]["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    assert addresses(server, name) == ["10.0.0.1"]
    change(route53, rrset("UPSERT", name, ["10.0.0.2", "10.0.0.3"], ttl=30))
    assert addresses(server, name) == ["10.0.0.2", "10.0.0.3"]
    assert listed(route53, name) == [{"Name": name, "Type": "A", "TTL": 30, "ResourceRecords": [
        {"Value": "10.0.0.2"}, {"Value": "10.0.0.3"}]}]
    change(route53, rrset("DELETE", name, ["10.0.0.3", "10.0.0.2"], ttl=30))
    assert addresses(server, name) == []


def test_boto3_pages_through_many_record_sets_in_route53s_order(route53: Any) -> None:
    names = [f"host{i:03d}.example.test." for i in range(260)]
    change(route53, *(rrset("CREATE", n, [f"10.1.{i // 200}.{i % 200}"])
                      for i, n in enumerate(names)))
    pages = route53.get_paginator("list_resource_record_sets").paginate(
        HostedZoneId=ZONE_ID, PaginationConfig={"PageSize": 50})
    seen = [(s["Name"], s["Type"]) for page in pages for s in page["ResourceRecordSets"]]
    assert seen == [(ZONE, "NS"), (ZONE, "SOA"), *((n, "A") for n in names)]
    first = route53.list_resource_record_sets(HostedZoneId=ZONE_ID, MaxItems="2")
    assert first["IsTruncated"] is True
    assert (first["NextRecordName"], first["NextRecordType"]) == (names[0], "A")


def test_boto3_sees_every_invalid_change_batch_as_route53_words_it_and_nothing_changes(
        route53: Any, server: ServerProcess) -> None:
    name = "dynamodb.example.test."
    change(route53, rrset("CREATE", name, ["10.0.0.1"]))
    cases = {
        "create of an existing set": [rrset("CREATE", name, ["10.0.0.9"])],
        "delete of a missing set": [rrset("DELETE", "gone.example.test.", ["10.0.0.1"])],
        "delete with another value": [rrset("DELETE", name, ["10.0.0.2"])],
        "delete with another TTL": [rrset("DELETE", name, ["10.0.0.1"], ttl=300)],
        "a name outside the zone": [rrset("UPSERT", "x.other.test.", ["10.0.0.1"])],
        "a CNAME beside an A": [rrset("CREATE", name, ["x.example.test."], rtype="CNAME")],
        "a set changed twice": [rrset("UPSERT", "t.example.test.", ["10.0.0.1"]),
                                rrset("UPSERT", "t.example.test.", ["10.0.0.2"])],
        "a bad IPv4 address": [rrset("CREATE", "b.example.test.", ["10.0.0"])],
        "over 1,000 records": [rrset("CREATE", f"m{i}.example.test.", ["10.0.0.1"])
                               for i in range(1001)],
    }
    for case, changes in cases.items():
        error = refused(route53, rrset("UPSERT", "innocent.example.test.", ["10.0.0.7"]),
                        *changes)
        assert error["Code"] == "InvalidChangeBatch", case
        assert error["Message"].startswith("[") and error["Message"].endswith("]"), case
    assert refused(route53, rrset("DELETE", name, ["10.0.0.2"]))["Message"] == (
        "[Tried to delete resource record set [name='dynamodb.example.test.', type='A'] but the "
        "values provided do not match the current values]")
    assert addresses(server, "innocent.example.test.") == []
    assert addresses(server, name) == ["10.0.0.1"]


def test_boto3_gets_a_compare_and_set_from_delete_exact_value_plus_create(
        route53: Any, server: ServerProcess) -> None:
    name = "dynamodb.example.test."
    change(route53, rrset("CREATE", name, ["10.0.0.1"]))
    seen = listed(route53, name)[0]  # two programs read the same plan...
    flip_to = {"enactor-1": "10.0.0.2", "enactor-2": "10.0.0.3"}
    outcomes = {}
    for who, value in flip_to.items():  # ...and both try to flip it from what they read
        try:
            change(route53, {"Action": "DELETE", "ResourceRecordSet": seen},
                   rrset("CREATE", name, [value]))
            outcomes[who] = "flipped"
        except route53.exceptions.InvalidChangeBatch:
            outcomes[who] = "refused"
    assert outcomes == {"enactor-1": "flipped", "enactor-2": "refused"}
    assert addresses(server, name) == ["10.0.0.2"]


def test_boto3_errors_for_unknown_zones_and_changes(route53: Any) -> None:
    with pytest.raises(route53.exceptions.NoSuchHostedZone):
        route53.get_hosted_zone(Id="ZNOSUCHZONE")
    with pytest.raises(route53.exceptions.NoSuchHostedZone):
        route53.change_resource_record_sets(HostedZoneId="ZNOSUCHZONE", ChangeBatch={
            "Changes": [rrset("UPSERT", "a.example.test.", ["10.0.0.1"])]})
    with pytest.raises(route53.exceptions.NoSuchChange):
        route53.get_change(Id="CNOSUCHCHANGE")
    with pytest.raises(route53.exceptions.InvalidInput):
        route53.list_resource_record_sets(HostedZoneId=ZONE_ID, StartRecordType="A",
                                          StartRecordName="")


# -- the same store: RFC 2136 and the API see each other's changes -------------------------------


def test_a_dnspython_update_is_listed_by_boto3_at_once(route53: Any,
                                                       server: ServerProcess) -> None:
    update = dns.update.UpdateMessage(ZONE, keyring=dns.tsigkeyring.from_text(
        {KEY_NAME: KEY_B64}), keyalgorithm="hmac-sha256")
    update.replace("lock.example.test.", 45, "TXT", '"enactor-2"')
    reply = dns.query.udp(update, server.host, port=server.port, timeout=5)
    assert reply.rcode() == dns.rcode.NOERROR
    assert listed(route53, "lock.example.test.", "TXT") == [{
        "Name": "lock.example.test.", "Type": "TXT", "TTL": 45,
        "ResourceRecords": [{"Value": '"enactor-2"'}]}]


def test_an_nsupdate_change_is_listed_by_boto3_at_once(route53: Any,
                                                       server: ServerProcess) -> None:
    script = (f"server {server.host} {server.port}\nzone {ZONE}\n"
              "update add plan.example.test. 90 A 192.0.2.8\nsend\n")
    done = subprocess.run([require_tool("nsupdate", "bind9-dnsutils"), "-t", "3", "-y",
                           f"hmac-sha256:{KEY_NAME}:{KEY_B64}"], input=script, text=True,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert listed(route53, "plan.example.test.")[0]["ResourceRecords"] == [
        {"Value": "192.0.2.8"}]


def test_the_journal_replays_api_changes_after_a_restart(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    journal = tmp_path / "journal"
    for name, value in DUMMY_AWS.items():
        monkeypatch.setenv(name, value)
    with ServerProcess(flags(journal)) as first:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", first.route53_url)
        client = boto3.client("route53")
        change(client, rrset("CREATE", "dynamodb.example.test.", ["10.0.0.1"]))
        change(client, rrset("DELETE", "dynamodb.example.test.", ["10.0.0.1"]),
               rrset("CREATE", "dynamodb.example.test.", ["10.0.0.2"]))
    recorded = read_journal(journal)
    assert [c.key_name for c in recorded] == ["enactor-1", "enactor-1"]
    first_zone_id = ZONE_ID
    with ServerProcess(flags(journal)) as second:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", second.route53_url)
        client = boto3.client("route53")
        zones = client.list_hosted_zones()["HostedZones"]
        assert zones[0]["Id"] == f"/hostedzone/{first_zone_id}"  # the same id on every start
        assert addresses(second, "dynamodb.example.test.") == ["10.0.0.2"]
        assert listed(client, "dynamodb.example.test.")[0]["ResourceRecords"] == [
            {"Value": "10.0.0.2"}]


# -- the command line ----------------------------------------------------------------------------


def test_a_route53_address_in_use_gives_one_line_and_exit_status_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "fake_dns", "--zone", ZONE, "--listen",
                               "127.0.0.1:0", "--route53", f"127.0.0.1:{port}", "--log-level",
                               "ERROR"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"fake-dns: error: cannot listen on 127.0.0.1:{port} (--route53): Address already in "
        "use"]


def test_the_help_documents_route53() -> None:
    done = subprocess.run([sys.executable, "-m", "fake_dns", "--help"], capture_output=True,
                          text=True, timeout=30)
    assert "--route53 HOST:PORT" in done.stdout
    assert "AWS_ENDPOINT_URL_ROUTE_53" in done.stdout


def aws(srv: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """The AWS CLI (v1, from PyPI, installed beside this Python) configured by environment."""
    cli = Path(sys.executable).with_name("aws")
    if not cli.exists():
        pytest.fail(f"the AWS CLI is not installed beside {sys.executable}: "
                    "pip install -e '.[test]' installs awscli")
    env = {**os.environ, **DUMMY_AWS, "AWS_ENDPOINT_URL_ROUTE_53": srv.route53_url,
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
           "AWS_PAGER": ""}
    env.pop("AWS_PROFILE", None)
    return subprocess.run([sys.executable, str(cli), "route53", *args, "--output", "json"],
                          capture_output=True, text=True, timeout=60, env=env)


def test_the_aws_cli_lists_changes_and_reports_invalid_change_batches(
        server: ServerProcess, tmp_path: Path) -> None:
    zones = aws(server, "list-hosted-zones-by-name", "--dns-name", "example.test")
    assert zones.returncode == 0, zones.stderr
    assert json.loads(zones.stdout)["HostedZones"][0]["Id"] == f"/hostedzone/{ZONE_ID}"
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"Comment": "flip", "Changes": [
        rrset("CREATE", "dynamodb.example.test.", ["10.0.0.1"])]}))
    done = aws(server, "change-resource-record-sets", "--hosted-zone-id", ZONE_ID,
               "--change-batch", f"file://{batch}")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)["ChangeInfo"]
    assert info["Status"] == "INSYNC" and info["Comment"] == "flip"
    assert addresses(server, "dynamodb.example.test.") == ["10.0.0.1"]
    waited = aws(server, "wait", "resource-record-sets-changed", "--id", info["Id"])
    assert waited.returncode == 0, waited.stderr
    again = aws(server, "change-resource-record-sets", "--hosted-zone-id", ZONE_ID,
                "--change-batch", f"file://{batch}")
    assert again.returncode == 255  # the AWS CLI v1 exits 255 on a service error
    assert again.stderr.strip() == (
        "An error occurred (InvalidChangeBatch) when calling the ChangeResourceRecordSets "
        "operation: [Tried to create resource record set [name='dynamodb.example.test.', "
        "type='A'] but it already exists]")
    sets = aws(server, "list-resource-record-sets", "--hosted-zone-id", ZONE_ID,
               "--query", "ResourceRecordSets[?Type=='A'].ResourceRecords[].Value")
    assert json.loads(sets.stdout) == ["10.0.0.1"]
