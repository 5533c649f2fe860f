"""The Route 53 API without sockets: requests parsed into values, answered over a ZoneStore.

Every test builds real XML the way botocore sends it, parses it with `parse_request` and
answers it with `Route53Api.handle`; responses are read back with ElementTree.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest
from dns.rcode import Rcode

from fake_dns import RR, Change, CommittedUpdate, Update, Zone, ZoneStore
from fake_dns.route53 import (
    Action,
    ChangeResourceRecordSets,
    GetChange,
    ListResourceRecordSets,
    RecordSetChange,
    Rejected,
    Route53Api,
    Route53Request,
    Route53Response,
    hosted_zone_id,
    parse_request,
)

ZONE = "example.test."
NS = "{https://route53.amazonaws.com/doc/2013-04-01/}"
ZONE_ID = hosted_zone_id(ZONE)
RRSET_PATH = f"/2013-04-01/hostedzone/{ZONE_ID}/rrset/"


def make_store(*records: RR) -> ZoneStore:
    base = Zone.empty(ZONE)
    return ZoneStore([Zone(ZONE, base.soa, [*base.records()[1:], *records])])


def change_xml(*changes: tuple[str, str, str, int, list[str]], comment: str = "") -> bytes:
    """A ChangeResourceRecordSetsRequest as botocore serialises it."""
    items = "".join(
        f"<Change><Action>{action}</Action><ResourceRecordSet><Name>{name}</Name>"
        f"<Type>{rtype}</Type><TTL>{ttl}</TTL><ResourceRecords>"
        + "".join(f"<ResourceRecord><Value>{v}</Value></ResourceRecord>" for v in values)
        + "</ResourceRecords></ResourceRecordSet></Change>"
        for action, name, rtype, ttl, values in changes)
    note = f"<Comment>{comment}</Comment>" if comment else ""
    return (f'<ChangeResourceRecordSetsRequest xmlns="{NS[1:-1]}"><ChangeBatch>{note}'
            f"<Changes>{items}</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
            ).encode()


def post(api: Route53Api, body: bytes, zone_id: str = ZONE_ID,
         principal: str | None = None) -> Route53Response:
    request = parse_request("POST", f"/2013-04-01/hostedzone/{zone_id}/rrset/", [], {}, body)
    return api.handle(request, principal=principal)


def get(api: Route53Api, path: str, **query: str) -> Route53Response:
    return api.handle(parse_request("GET", path, list(query.items()), {}, b""))


def xml(response: Route53Response) -> ET.Element:
    return ET.fromstring(response.body)


def messages(response: Route53Response) -> list[str]:
    assert response.status == 400 and response.error is not None, response.body
    assert response.error.code == "InvalidChangeBatch", response.body
    return list(response.error.messages)


def rrsets(api: Route53Api, **query: str) -> list[tuple[str, str, int, list[str]]]:
    root = xml(get(api, f"/2013-04-01/hostedzone/{ZONE_ID}/rrset", **query))
    return [(s.findtext(f"{NS}Name") or "", s.findtext(f"{NS}Type") or "",
             int(s.findtext(f"{NS}TTL") or 0),
             [v.text or "" for v in s.iter(f"{NS}Value")])
            for s in root.iter(f"{NS}ResourceRecordSet")]


A1 = RR.make("dynamodb.example.test.", "A", 60, "10.0.0.1")


# -- parsing -------------------------------------------------------------------------------------


def test_a_change_batch_parses_into_typed_changes_with_their_comment() -> None:
    body = change_xml(("DELETE", "dynamodb.example.test", "A", 60, ["10.0.0.1"]),
                      ("CREATE", "dynamodb.example.test", "A", 60, ["10.0.0.2", "10.0.0.3"]),
                      comment="flip")
    request = parse_request("POST", RRSET_PATH, [], {
        "Authorization": "AWS4-HMAC-SHA256 Credential=enactor-1/20251020/us-east-1/route53/"
                         "aws4_request, SignedHeaders=host, Signature=00"}, body)
    assert isinstance(request.operation, ChangeResourceRecordSets)
    batch = request.operation.batch
    assert batch.comment == "flip"
    assert batch.changes[1] == RecordSetChange(Action.CREATE, "dynamodb.example.test", "A", 60,
                                               ("10.0.0.2", "10.0.0.3"))
    assert request.access_key_id == "enactor-1"
    assert request.writes


def test_a_batch_is_described_in_words_in_order() -> None:
    body = change_xml(("DELETE", "dynamodb.example.test.", "A", 60, ["10.0.0.1"]),
                      ("CREATE", "dynamodb.example.test.", "A", 60, ["10.0.0.2"]))
    request = parse_request("POST", RRSET_PATH, [], {}, body)
    assert isinstance(request.operation, ChangeResourceRecordSets)
    assert request.operation.batch.describe() == (
        "DELETE dynamodb.example.test. A 10.0.0.1 ttl 60; "
        "CREATE dynamodb.example.test. A 10.0.0.2 ttl 60")
    assert request.describe().startswith(f"ChangeResourceRecordSets {ZONE_ID}: DELETE ")


def test_the_digest_covers_method_path_query_and_body_but_not_the_signature() -> None:
    body = change_xml(("UPSERT", "a.example.test", "A", 60, ["10.0.0.1"]))
    one = parse_request("POST", RRSET_PATH, [], {"Authorization": "sig-1"}, body)
    two = parse_request("POST", RRSET_PATH, [], {"Authorization": "sig-2",
                                                 "X-Amz-Date": "20251020T000000Z"}, body)
    assert one.digest() == two.digest()
    other = parse_request("POST", RRSET_PATH, [], {}, body.replace(b"10.0.0.1", b"10.0.0.2"))
    assert other.digest() != one.digest()
    page1 = parse_request("GET", RRSET_PATH, [("name", "a.example.test"), ("maxitems", "1")],
                          {}, b"")
    page2 = parse_request("GET", RRSET_PATH, [("maxitems", "1"), ("name", "b.example.test")],
                          {}, b"")
    same_as_1 = parse_request("GET", RRSET_PATH, [("maxitems", "1"),
                                                  ("name", "a.example.test")], {}, b"")
    assert page1.digest() != page2.digest()
    assert page1.digest() == same_as_1.digest()


def test_a_list_request_parses_its_start_and_page_size() -> None:
    request = parse_request("GET", f"/2013-04-01/hostedzone/{ZONE_ID}/rrset",
                            [("name", "a.example.test."), ("type", "A"), ("maxitems", "2")],
                            {}, b"")
    assert request.operation == ListResourceRecordSets(ZONE_ID, "a.example.test.", "A", 2)
    assert not request.writes
    assert request.describe() == f"ListResourceRecordSets {ZONE_ID} from a.example.test. A max 2"


@pytest.mark.parametrize(("method", "path", "query", "body", "status", "code"), [
    ("GET", "/2013-04-01/nothing-here", [], b"", 400, "InvalidAction"),
    ("GET", "/", [], b"", 400, "InvalidAction"),
    ("PUT", "/2013-04-01/hostedzone", [], b"", 405, "MethodNotAllowed"),
    ("DELETE", f"/2013-04-01/hostedzone/{ZONE_ID}/rrset", [], b"", 405, "MethodNotAllowed"),
    ("POST", "/2013-04-01/hostedzone", [], b"<CreateHostedZoneRequest/>", 400, "InvalidAction"),
    ("POST", RRSET_PATH, [], b"<ChangeResourceRecordSetsRequest><ChangeBatch>", 400,
     "MalformedInput"),
    ("POST", RRSET_PATH, [], b"<SomethingElse/>", 400, "MalformedInput"),
    ("POST", RRSET_PATH, [],
     b'<!DOCTYPE r [<!ENTITY e "x">]><ChangeResourceRecordSetsRequest/>', 400,
     "MalformedInput"),
    ("POST", RRSET_PATH, [], b"<ChangeResourceRecordSetsRequest/>", 400, "InvalidInput"),
    ("POST", RRSET_PATH, [], change_xml(("REPLACE", "a.example.test", "A", 60, ["10.0.0.1"])),
     400, "InvalidInput"),
    ("POST", RRSET_PATH, [], change_xml(("CREATE", "a.example.test", "XYZ", 60, ["x"])),
     400, "InvalidInput"),
    ("POST", RRSET_PATH, [], change_xml(("CREATE", "a.example.test", "A", 60, [])),
     400, "InvalidInput"),
    ("GET", f"/2013-04-01/hostedzone/{ZONE_ID}/rrset", [("type", "A")], b"", 400,
     "InvalidInput"),
    ("GET", f"/2013-04-01/hostedzone/{ZONE_ID}/rrset", [("maxitems", "-1")], b"", 400,
     "InvalidInput"),
    ("GET", "/2013-04-01/hostedzonesbyname", [("hostedzoneid", ZONE_ID)], b"", 400,
     "InvalidInput"),
    ("POST", RRSET_PATH, [], b"x" * (1 << 20 + 1), 413, "RequestEntityTooLarge"),
])
def test_a_request_that_names_no_runnable_operation_is_rejected_in_route53s_shape(
        method: str, path: str, query: list[tuple[str, str]], body: bytes, status: int,
        code: str) -> None:
    store = make_store(A1)
    before = store.zones[ZONE].records()
    request = parse_request(method, path, query, {}, body)
    assert isinstance(request.operation, Rejected)
    response = Route53Api(store).handle(request)
    assert (response.status, response.error and response.error.code) == (status, code)
    root = xml(response)
    assert root.tag == f"{NS}ErrorResponse"
    assert root.findtext(f"{NS}Error/{NS}Type") == "Sender"
    assert root.findtext(f"{NS}Error/{NS}Code") == code
    assert root.findtext(f"{NS}RequestId")
    assert store.zones[ZONE].records() == before


def test_a_change_without_ttl_gets_route53s_own_invalid_input_message() -> None:
    body = change_xml(("DELETE", "a.example.test", "A", 60, ["10.0.0.1"])).replace(
        b"<TTL>60</TTL>", b"")
    request = parse_request("POST", RRSET_PATH, [], {}, body)
    assert isinstance(request.operation, Rejected)
    assert request.operation.error.message.startswith(
        "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
        "ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with "
        "[Action=DELETE, Name=a.example.test, Type=A")


def test_an_alias_target_is_refused_as_not_modelled() -> None:
    body = change_xml(("CREATE", "a.example.test", "A", 60, ["10.0.0.1"])).replace(
        b"<TTL>", b"<AliasTarget><DNSName>x.</DNSName></AliasTarget><TTL>")
    request = parse_request("POST", RRSET_PATH, [], {}, body)
    assert isinstance(request.operation, Rejected)
    assert "AliasTarget" in request.operation.error.message


# -- zones ---------------------------------------------------------------------------------------


def test_hosted_zone_ids_are_derived_from_the_zone_and_stable() -> None:
    assert hosted_zone_id("Example.Test") == hosted_zone_id(ZONE) == ZONE_ID
    assert ZONE_ID.startswith("Z") and len(ZONE_ID) == 21 and ZONE_ID.isalnum()
    assert hosted_zone_id("other.test.") != ZONE_ID


def test_the_hosted_zones_are_the_stores_zones_in_reversed_label_order() -> None:
    store = ZoneStore([Zone.empty(n) for n in ("b.test.", "a.test.", "z.example.", "a.b.test.")])
    api = Route53Api(store)
    root = xml(get(api, "/2013-04-01/hostedzonesbyname"))
    names = [z.findtext(f"{NS}Name") for z in root.iter(f"{NS}HostedZone")]
    assert names == ["z.example.", "a.test.", "b.test.", "a.b.test."]
    page = xml(get(api, "/2013-04-01/hostedzonesbyname", dnsname="b.test", maxitems="1"))
    assert [z.findtext(f"{NS}Name") for z in page.iter(f"{NS}HostedZone")] == ["b.test."]
    assert page.findtext(f"{NS}IsTruncated") == "true"
    assert page.findtext(f"{NS}NextDNSName") == "a.b.test."
    assert page.findtext(f"{NS}NextHostedZoneId") == hosted_zone_id("a.b.test.")
    one = xml(get(api, "/2013-04-01/hostedzone", maxitems="3"))
    assert one.findtext(f"{NS}NextMarker") == hosted_zone_id("a.b.test.")
    rest = xml(get(api, "/2013-04-01/hostedzone", marker=hosted_zone_id("a.b.test.")))
    assert [z.findtext(f"{NS}Name") for z in rest.iter(f"{NS}HostedZone")] == ["a.b.test."]
    assert rest.findtext(f"{NS}IsTruncated") == "false"
    count = xml(get(api, "/2013-04-01/hostedzonecount"))
    assert count.findtext(f"{NS}HostedZoneCount") == "4"


def test_get_hosted_zone_names_its_name_servers_and_counts_its_record_sets() -> None:
    api = Route53Api(make_store(A1))
    root = xml(get(api, f"/2013-04-01/hostedzone/{ZONE_ID}"))
    assert root.findtext(f"{NS}HostedZone/{NS}Id") == f"/hostedzone/{ZONE_ID}"
    assert root.findtext(f"{NS}HostedZone/{NS}ResourceRecordSetCount") == "3"
    assert [n.text for n in root.iter(f"{NS}NameServer")] == ["ns1.example.test"]


def test_an_unknown_zone_id_is_no_such_hosted_zone_and_changes_nothing() -> None:
    store = make_store(A1)
    api = Route53Api(store)
    for response in (get(api, "/2013-04-01/hostedzone/ZNOSUCHZONE"),
                     post(api, change_xml(("UPSERT", "a.example.test", "A", 60, ["10.0.0.9"])),
                          zone_id="ZNOSUCHZONE")):
        assert response.status == 404
        assert response.error is not None and response.error.code == "NoSuchHostedZone"
        assert "ZNOSUCHZONE" in response.error.message
    assert not store.change_log


# -- listing record sets -------------------------------------------------------------------------


def test_record_sets_are_listed_by_name_with_labels_reversed_then_by_type() -> None:
    store = make_store(RR.make("b.example.test.", "A", 60, "10.0.0.2"),
                       RR.make("a.b.example.test.", "A", 60, "10.0.0.3"),
                       RR.make("a.example.test.", "TXT", 60, '"t"'),
                       RR.make("a.example.test.", "A", 60, "10.0.0.1"),
                       RR.make("a-b.example.test.", "A", 60, "10.0.0.4"),
                       RR.make("*.example.test.", "A", 60, "10.0.0.5"))
    listed = [(name, rtype) for name, rtype, _, _ in rrsets(Route53Api(store))]
    # com.example.a-b. sorts before com.example.a. because '-' (45) is below '.' (46): the
    # API reference's note on the trailing dot. '*' is shown as \052 and sorts by that text.
    assert listed == [("example.test.", "NS"), ("example.test.", "SOA"),
                      ("\\052.example.test.", "A"), ("a-b.example.test.", "A"),
                      ("a.example.test.", "A"), ("a.example.test.", "TXT"),
                      ("b.example.test.", "A"), ("a.b.example.test.", "A")]


def test_paging_returns_every_set_once_following_next_record_name_and_type() -> None:
    records = [RR.make(f"host{i:03d}.example.test.", "A", 60, f"10.0.{i // 200}.{i % 200}")
               for i in range(250)]
    records += [RR.make(f"host{i:03d}.example.test.", "TXT", 60, f'"{i}"')
                for i in range(0, 250, 7)]
    api = Route53Api(make_store(*records))
    seen: list[tuple[str, str]] = []
    query: dict[str, str] = {"maxitems": "7"}
    pages = 0
    while True:
        root = xml(get(api, f"/2013-04-01/hostedzone/{ZONE_ID}/rrset", **query))
        page = [(s.findtext(f"{NS}Name") or "", s.findtext(f"{NS}Type") or "")
                for s in root.iter(f"{NS}ResourceRecordSet")]
        assert root.findtext(f"{NS}MaxItems") == "7"
        seen += page
        pages += 1
        if root.findtext(f"{NS}IsTruncated") == "false":
            assert root.find(f"{NS}NextRecordName") is None
            break
        assert len(page) == 7
        query = {"maxitems": "7", "name": root.findtext(f"{NS}NextRecordName") or "",
                 "type": root.findtext(f"{NS}NextRecordType") or ""}
    assert len(seen) == len(set(seen)) == 2 + 250 + 36
    assert pages == -(-len(seen) // 7)


def test_a_start_name_alone_starts_at_the_first_set_at_or_after_it() -> None:
    store = make_store(A1, RR.make("dynamodb.example.test.", "TXT", 60, '"x"'),
                       RR.make("zeta.example.test.", "A", 60, "10.0.0.9"))
    api = Route53Api(store)
    assert [s[:2] for s in rrsets(api, name="dynamodb.example.test")] == [
        ("dynamodb.example.test.", "A"), ("dynamodb.example.test.", "TXT"),
        ("zeta.example.test.", "A")]
    assert [s[:2] for s in rrsets(api, name="dynamodb.example.test", type="CNAME")] == [
        ("dynamodb.example.test.", "TXT"), ("zeta.example.test.", "A")]
    assert [s[:2] for s in rrsets(api, name="e.example.test")] == [("zeta.example.test.", "A")]


def test_more_than_300_items_asked_for_gives_pages_of_300() -> None:
    records = [RR.make(f"h{i}.example.test.", "A", 60, "10.0.0.1") for i in range(305)]
    root = xml(get(Route53Api(make_store(*records)),
                   f"/2013-04-01/hostedzone/{ZONE_ID}/rrset", maxitems="1000"))
    assert len(list(root.iter(f"{NS}ResourceRecordSet"))) == 300
    assert root.findtext(f"{NS}IsTruncated") == "true"


# -- changing record sets ------------------------------------------------------------------------


def test_create_delete_and_upsert_change_the_zone_and_get_an_insync_change_id() -> None:
    store = make_store()
    api = Route53Api(store, clock=lambda: 1760918400.25)
    created = post(api, change_xml(("CREATE", "a.example.test", "A", 60, ["10.0.0.1"]),
                                   comment="first"))
    assert created.status == 200, created.body
    assert created.change_id and created.change_id.startswith("C")
    info = xml(created).find(f"{NS}ChangeInfo")
    assert info is not None
    assert info.findtext(f"{NS}Status") == "INSYNC"
    assert info.findtext(f"{NS}SubmittedAt") == "2025-10-20T00:00:00.250Z"
    assert info.findtext(f"{NS}Comment") == "first"
    assert store.lookup("a.example.test.", "A").addresses == ("10.0.0.1",)
    assert post(api, change_xml(("UPSERT", "a.example.test", "A", 30,
                                 ["10.0.0.2", "10.0.0.3"]))).status == 200
    assert rrsets(api, name="a.example.test", maxitems="1") == [
        ("a.example.test.", "A", 30, ["10.0.0.2", "10.0.0.3"])]
    assert post(api, change_xml(("DELETE", "a.example.test", "A", 30,
                                 ["10.0.0.3", "10.0.0.2"]))).status == 200
    assert store.lookup("a.example.test.", "A").rcode == Rcode.NXDOMAIN
    polled = get(api, f"/2013-04-01/change/{created.change_id}")
    assert xml(polled).findtext(f"{NS}ChangeInfo/{NS}Status") == "INSYNC"
    assert get(api, "/2013-04-01/change/CNOSUCHCHANGE").status == 404


def test_a_change_is_recorded_in_the_store_as_made_by_its_principal() -> None:
    store = make_store()
    commits: list[CommittedUpdate] = []
    store.subscribe(commits.append)
    api = Route53Api(store)
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=enactor-2/20251020/us-east-1/"
                               "route53/aws4_request, SignedHeaders=host, Signature=ab"}
    body = change_xml(("UPSERT", "a.example.test", "A", 60, ["10.0.0.1"]))
    api.handle(parse_request("POST", RRSET_PATH, [], signed, body))
    post(api, body.replace(b"10.0.0.1", b"10.0.0.2"), principal="program-7")
    assert [c.key_name for c in commits] == ["enactor-2", "program-7"]
    assert commits[1].changes == (Change.delete_rrset("a.example.test.", "A"),
                                  Change.add("a.example.test.", "A", 60, "10.0.0.2"))


def test_delete_of_the_exact_value_plus_create_is_a_compare_and_set() -> None:
    store = make_store(A1)
    api = Route53Api(store)
    flip = change_xml(("DELETE", "dynamodb.example.test", "A", 60, ["10.0.0.1"]),
                      ("CREATE", "dynamodb.example.test", "A", 60, ["10.0.0.2"]))
    assert post(api, flip).status == 200
    assert store.lookup("dynamodb.example.test.", "A").addresses == ("10.0.0.2",)
    # The same flip again holds a stale view of the set: refused, nothing changed. The CREATE
    # is checked against the set as the failed DELETE left it (still there), so it fails too.
    assert messages(post(api, flip)) == [
        "Tried to delete resource record set [name='dynamodb.example.test.', type='A'] but the "
        "values provided do not match the current values",
        "Tried to create resource record set [name='dynamodb.example.test.', type='A'] but it "
        "already exists"]
    assert store.lookup("dynamodb.example.test.", "A").addresses == ("10.0.0.2",)


@pytest.mark.parametrize(("changes", "expected"), [
    ([("CREATE", "dynamodb.example.test", "A", 60, ["10.0.0.9"])],
     ["Tried to create resource record set [name='dynamodb.example.test.', type='A'] but it "
      "already exists"]),
    ([("DELETE", "missing.example.test", "A", 60, ["10.0.0.1"])],
     ["Tried to delete resource record set [name='missing.example.test.', type='A'] but it was "
      "not found"]),
    ([("DELETE", "dynamodb.example.test", "A", 60, ["10.0.0.2"])],
     ["Tried to delete resource record set [name='dynamodb.example.test.', type='A'] but the "
      "values provided do not match the current values"]),
    ([("DELETE", "dynamodb.example.test", "A", 300, ["10.0.0.1"])],
     ["Tried to delete resource record set [name='dynamodb.example.test.', type='A'] but the "
      "values provided do not match the current values"]),
    ([("DELETE", "dynamodb.example.test", "A", 60, ["10.0.0.1", "10.0.0.2"])],
     ["Tried to delete resource record set [name='dynamodb.example.test.', type='A'] but the "
      "values provided do not match the current values"]),
    ([("UPSERT", "x.other.test", "A", 60, ["10.0.0.1"])],
     ["RRSet with DNS name x.other.test. is not permitted in zone example.test."]),
    ([("CREATE", "dynamodb.example.test", "CNAME", 60, ["elsewhere.example.test"])],
     ["RRSet of type CNAME with DNS name dynamodb.example.test. is not permitted as it "
      "conflicts with other records with the same DNS name in zone example.test."]),
    ([("CREATE", "alias.example.test", "TXT", 60, ['"x"'])],
     ["RRSet of type TXT with DNS name alias.example.test. is not permitted because a "
      "conflicting RRSet of type CNAME with the same DNS name already exists in zone "
      "example.test."]),
    ([("UPSERT", "example.test", "CNAME", 60, ["x.example.test"])],
     ["RRSet of type CNAME with DNS name example.test. is not permitted at apex in zone "
      "example.test."]),
    ([("UPSERT", "a.example.test", "A", 60, ["10.0.0.1"]),
      ("UPSERT", "a.example.test", "A", 60, ["10.0.0.2"])],
     ["The request contains an invalid set of changes for a resource record set "
      "'A a.example.test.'"]),
    ([("DELETE", "dynamodb.example.test", "A", 60, ["10.0.0.1"]),
      ("DELETE", "dynamodb.example.test", "A", 60, ["10.0.0.1"])],
     ["The request contains an invalid set of changes for a resource record set "
      "'A dynamodb.example.test.'"]),
    ([("CREATE", "b.example.test", "A", 60, ["10.0.0"])],
     ["Invalid Resource Record: FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid "
      "IPv4 address) encountered with '10.0.0'"]),
    ([("CREATE", "b.example.test", "A", 60, ["10.0.0.1 10.0.0.2"])],
     ["Invalid Resource Record: FATAL problem: ARRDATANotSingleField (Value contains spaces) "
      "encountered with '10.0.0.1 10.0.0.2'"]),
    ([("CREATE", "b.example.test", "AAAA", 60, ["2001:db8::g"])],
     ["Invalid Resource Record: FATAL problem: AAAARRDATAIllegalIPv6Address (Value is not a "
      "valid IPv6 address) encountered with '2001:db8::g'"]),
    ([("CREATE", "b.example.test", "TXT", 60, ["unquoted"])],
     ["Invalid Resource Record: FATAL problem: InvalidCharacterString (Value should be enclosed "
      "in quotation marks) encountered with 'unquoted'"]),
    ([("DELETE", "example.test", "NS", 3600, ["ns1.example.test."])],
     ["A HostedZone must contain at least one NS record for the zone itself."]),
    ([("CREATE", f"m{i}.example.test", "A", 60, ["10.0.0.1"]) for i in range(1001)],
     ["Number of records limit of 1000 exceeded."]),
    ([("UPSERT", f"m{i}.example.test", "A", 60, ["10.0.0.1"]) for i in range(501)],
     ["Number of records limit of 1000 exceeded."]),
    ([("UPSERT", "t.example.test", "TXT", 60, [f'"{"x" * 250}"' for _ in range(1)]),
      *(("CREATE", f"t{i}.example.test", "TXT", 60, [f'"{"y" * 250}"']) for i in range(128))],
     ["RDATA character limit of 32000 exceeded."]),
])
def test_every_invalid_change_batch_case_refuses_the_whole_batch_with_route53s_message(
        changes: list[tuple[str, str, str, int, list[str]]], expected: list[str]) -> None:
    store = make_store(A1, RR.make("alias.example.test.", "CNAME", 60, "dynamodb.example.test."))
    before = store.zones[ZONE].records()
    # A valid change in front of the bad ones must not be applied either.
    changes = [("UPSERT", "innocent.example.test", "A", 60, ["10.0.0.7"]), *changes]
    response = post(Route53Api(store), change_xml(*changes))
    assert messages(response) == expected
    assert xml(response).findtext(f"{NS}Error/{NS}Message") == "[" + ", ".join(expected) + "]"
    assert store.zones[ZONE].records() == before
    assert not store.change_log


def test_several_errors_in_one_batch_are_all_listed_in_order() -> None:
    store = make_store(A1, RR.make("lock.example.test.", "TXT", 60, '"enactor-1"'))
    response = post(Route53Api(store), change_xml(
        ("CREATE", "dynamodb.example.test", "A", 60, ["10.0.0.1"]),
        ("UPSERT", "fine.example.test", "A", 60, ["10.0.0.5"]),
        ("DELETE", "gone.example.test", "A", 60, ["10.0.0.1"]),
        ("DELETE", "lock.example.test", "TXT", 60, ['"enactor-2"'])))
    assert messages(response) == [
        "Tried to create resource record set [name='dynamodb.example.test.', type='A'] but it "
        "already exists",
        "Tried to delete resource record set [name='gone.example.test.', type='A'] but it was "
        "not found",
        "Tried to delete resource record set [name='lock.example.test.', type='TXT'] but the "
        "values provided do not match the current values"]
    assert store.lookup("fine.example.test.", "A").rcode == Rcode.NXDOMAIN


def test_changes_are_checked_in_order_against_the_batch_so_far() -> None:
    store = make_store(RR.make("www.example.test.", "CNAME", 60, "dynamodb.example.test."))
    api = Route53Api(store)
    # The API reference's example: delete a CNAME and create another type at its name.
    assert post(api, change_xml(
        ("DELETE", "www.example.test", "CNAME", 60, ["dynamodb.example.test."]),
        ("CREATE", "www.example.test", "A", 60, ["10.0.0.1"]))).status == 200
    assert store.lookup("www.example.test.", "A").addresses == ("10.0.0.1",)


def test_the_apex_ns_set_can_be_replaced_and_the_soa_is_kept_by_the_server() -> None:
    store = make_store()
    api = Route53Api(store)
    assert post(api, change_xml(("UPSERT", "example.test", "NS", 300,
                                 ["ns2.example.test.", "ns3.example.test."]))).status == 200
    assert [rr.rdata for rr in store.zones[ZONE].rrset(ZONE, "NS")] == [
        "ns2.example.test.", "ns3.example.test."]
    soa = store.zones[ZONE].soa
    assert messages(post(api, change_xml(("UPSERT", "example.test", "SOA", 60,
                                          ["ns1.example.test. h.example.test. 9 1 1 1 1"])))
                    )[0].startswith("fake-dns keeps the SOA of zone example.test. itself")
    assert messages(post(api, change_xml(("DELETE", "example.test", "SOA", soa.ttl,
                                          [soa.rdata])))) == [
        "A HostedZone must contain exactly one SOA record."]


def test_an_upsert_with_the_same_values_succeeds_and_changes_nothing() -> None:
    store = make_store(A1)
    response = post(Route53Api(store), change_xml(("UPSERT", "dynamodb.example.test", "A", 60,
                                                   ["10.0.0.1"])))
    assert response.status == 200 and response.change_id
    assert not store.change_log


def test_an_rfc2136_update_is_listed_by_the_api_at_once() -> None:
    store = make_store(A1)
    api = Route53Api(store)
    result = store.apply(Update(ZONE, (), (Change.delete_rr("dynamodb.example.test.", "A",
                                                            "10.0.0.1"),
                                           Change.add("dynamodb.example.test.", "A", 60,
                                                      "10.0.0.3"))), "enactor-1.")
    assert result.rcode == Rcode.NOERROR
    assert rrsets(api, name="dynamodb.example.test", type="A", maxitems="1") == [
        ("dynamodb.example.test.", "A", 60, ["10.0.0.3"])]


def test_a_commit_that_fails_is_answered_500_in_route53s_shape() -> None:
    store = make_store(A1)

    def refuse(_: CommittedUpdate) -> None:
        raise OSError(28, "No space left on device")

    store.subscribe(refuse)
    api = Route53Api(store)
    response = post(api, change_xml(("UPSERT", "b.example.test", "A", 60, ["10.0.0.2"])))
    assert response.status == 500
    root = xml(response)
    assert root.findtext(f"{NS}Error/{NS}Type") == "Receiver"
    assert root.findtext(f"{NS}Error/{NS}Code") == "InternalFailure"
    assert "No space left on device" in (root.findtext(f"{NS}Error/{NS}Message") or "")
    assert response.change_id is None
    # The API keeps serving.
    assert get(api, f"/2013-04-01/hostedzone/{ZONE_ID}").status == 200


def test_change_ids_are_the_same_for_the_same_calls_and_get_change_finds_them() -> None:
    ids = []
    for _ in range(2):
        api = Route53Api(make_store())
        change_id = post(api, change_xml(("UPSERT", "a.example.test", "A", 60, ["10.0.0.1"]))
                         ).change_id
        request = parse_request("GET", f"/2013-04-01/change/{change_id}", [], {}, b"")
        assert isinstance(request.operation, GetChange)
        assert api.handle(request).status == 200
        ids.append(change_id)
    assert ids[0] == ids[1]


def test_a_change_id_given_by_the_caller_is_the_one_answered_and_a_remembered_one_is_insync(
        ) -> None:
    api = Route53Api(make_store(), clock=lambda: 1_760_942_880.0)
    created = post(api, change_xml(("UPSERT", "a.example.test", "A", 60, ["10.0.0.1"])))
    assert created.change_id is not None
    given = api.handle(parse_request("POST", RRSET_PATH, [], {}, change_xml(
        ("UPSERT", "b.example.test", "A", 60, ["10.0.0.2"]))), change_id="CGIVENBYCALLER")
    assert given.change_id == "CGIVENBYCALLER"
    # an API made for one request knows a change kept elsewhere (a scheduler's history)
    fresh = Route53Api(make_store())
    fresh.remember_change("/change/CKEPTELSEWHERE", 1_760_942_880.0, "from before")
    found = xml(get(fresh, "/2013-04-01/change/CKEPTELSEWHERE"))
    assert found.findtext(f"{NS}ChangeInfo/{NS}Status") == "INSYNC"
    assert found.findtext(f"{NS}ChangeInfo/{NS}SubmittedAt") == "2025-10-20T06:48:00.000Z"
    assert found.findtext(f"{NS}ChangeInfo/{NS}Comment") == "from before"
    assert get(fresh, "/2013-04-01/change/CGIVENBYCALLER").status == 404


def test_route53_names_escape_what_route53_escapes_and_read_octal_escapes_back() -> None:
    store = make_store()
    api = Route53Api(store)
    assert post(api, change_xml(("CREATE", "\\052.example.test", "A", 60,
                                 ["10.0.0.1"]))).status == 200
    assert store.lookup("*.example.test.", "A").addresses == ("10.0.0.1",)
    assert rrsets(api, name="\\052.example.test", maxitems="1")[0][0] == "\\052.example.test."


def test_a_request_value_is_what_a_scheduler_holds_and_applies_later() -> None:
    store = make_store(A1)
    api = Route53Api(store)
    held: list[Route53Request] = [
        parse_request("POST", RRSET_PATH, [], {}, change_xml(
            ("DELETE", "dynamodb.example.test", "A", 60, ["10.0.0.1"]),
            ("CREATE", "dynamodb.example.test", "A", 60, [value])))
        for value in ("10.0.0.2", "10.0.0.3")]
    # Two programs read 10.0.0.1 and both try to flip it; the second one granted loses.
    first, second = (api.handle(r) for r in reversed(held))
    assert first.status == 200
    assert second.error is not None and second.error.code == "InvalidChangeBatch"
    assert store.lookup("dynamodb.example.test.", "A").addresses == ("10.0.0.3",)


def test_a_flood_of_refused_batches_is_a_few_log_lines_and_a_count(
        caplog: pytest.LogCaptureFixture) -> None:
    store = ZoneStore([Zone.empty("example.test.")])
    api = Route53Api(store)
    zone_id = hosted_zone_id("example.test.")
    body = (b'<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest '
            b'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes>'
            b'<Change><Action>DELETE</Action><ResourceRecordSet><Name>gone.example.test.</Name>'
            b'<Type>A</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>192.0.2.1'
            b'</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change>'
            b'</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>')
    request = parse_request("POST", f"/2013-04-01/hostedzone/{zone_id}/rrset/", [], {}, body)
    with caplog.at_level(logging.INFO, logger="fake_dns.route53"):
        for _ in range(1_000):
            assert api.handle(request).status == 400
    assert len(caplog.records) <= 5
