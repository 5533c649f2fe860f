"""Route 53's REST + XML wire format: requests in (`parse_request`), XML out, names both ways.

Rules
-----
- Rule 1: `parse_request` never raises. A request it cannot turn into an operation becomes
  `Rejected(error)` with the error Route 53 would answer (unknown path, wrong method, XML that
  does not parse or lacks an element, a feature not modelled here), so every request, good or
  bad, is one value a scheduler can hold, describe and answer.
- Rule 2: names are shown as Route 53 shows them: absolute, lower case, and every byte other
  than a-z, 0-9, '-' and '_' as a three-digit octal escape ('*' is '\\052'); clients may send
  octal escapes too. Listings sort by that escaped text with the labels reversed
  ('com.example.www.'), as the API reference for ListResourceRecordSets and
  ListHostedZonesByName describes.
- Rule 3: no DTDs. A body that declares one is refused before it is parsed (no entity
  expansion), and a body larger than `MAX_BODY_BYTES` is refused unread.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from xml.sax.saxutils import escape

import dns.exception
import dns.name

from fake_dns._route53_values import (
    API_VERSION,
    NAMESPACE,
    Action,
    ApiError,
    ChangeBatch,
    ChangeResourceRecordSets,
    GetChange,
    GetHostedZone,
    GetHostedZoneCount,
    ListHostedZones,
    ListHostedZonesByName,
    ListResourceRecordSets,
    Operation,
    RecordSetChange,
    Rejected,
    Route53Request,
)

__all__ = [
    "MAX_BODY_BYTES",
    "RECORD_TYPES",
    "element",
    "error_body",
    "name_from_route53",
    "parse_request",
    "route53_name",
    "sort_key",
    "xml_document",
]

# Far above the largest valid batch (1,000 records, 32,000 characters of values).
MAX_BODY_BYTES = 1 << 20
# The RRType enumeration of the 2013-04-01 API.
RECORD_TYPES = ("SOA", "A", "TXT", "NS", "CNAME", "MX", "NAPTR", "PTR", "SRV", "SPF", "AAAA",
                "CAA", "DS", "TLSA", "SSHFP", "SVCB", "HTTPS")
_ACTIONS = tuple(a.value for a in Action)
_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_")
_AUTH_KEY_ID = re.compile(r"Credential=([^/,\s]+)/")
# Elements of a ResourceRecordSet that select routing policies, alias targets or health
# checks: Route 53 features this server does not model.
_NOT_MODELLED = ("AliasTarget", "SetIdentifier", "Weight", "Region", "GeoLocation", "Failover",
                 "MultiValueAnswer", "HealthCheckId", "TrafficPolicyInstanceId",
                 "CidrRoutingConfig", "GeoProximityLocation")


# -- names ---------------------------------------------------------------------------------------


def route53_name(name: str) -> str:
    """A canonical name as Route 53 shows it (rule 2): '*.example.' -> '\\052.example.'."""
    labels = dns.name.from_text(name).labels
    if labels == (b"",):
        return "."
    return "".join("".join(chr(b) if b in _PLAIN else f"\\{b:03o}" for b in label.lower()) + "."
                   for label in labels if label)


def name_from_route53(text: str) -> str:
    """The canonical name (fake_dns's form) of a name a client sent, with or without the
    trailing dot, octal escapes read as Route 53 reads them. Raises ValueError."""
    if not text or len(text) > 1024:
        raise ValueError(f"invalid domain name {text!r}")
    labels: list[bytes] = []
    label = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            octal = text[i + 1:i + 4]
            if len(octal) == 3 and all(c in "01234567" for c in octal):
                label.append(int(octal, 8) & 0xFF)
                i += 4
                continue
            if i + 1 >= len(text):
                raise ValueError(f"invalid domain name {text!r}: a trailing backslash")
            label.extend(text[i + 1].encode())
            i += 2
            continue
        if ch == ".":
            if not label and (labels or i + 1 < len(text)):
                raise ValueError(f"invalid domain name {text!r}: an empty label")
            if label:
                labels.append(bytes(label))
            label = bytearray()
        else:
            label.extend(ch.encode())
        i += 1
    if label:
        labels.append(bytes(label))
    try:
        return dns.name.Name([*labels, b""]).to_text().lower()
    except dns.exception.DNSException as exc:
        raise ValueError(f"invalid domain name {text!r}: {exc}") from None


def sort_key(name: str) -> str:
    """Route 53's listing order for a canonical name: its escaped labels reversed, with the
    trailing dot ('www.example.com.' -> 'com.example.www.')."""
    shown = route53_name(name)
    if shown == ".":
        return ""
    # Split on the dots between labels, not on escaped ones (there are none: a dot inside a
    # label is shown as \\056).
    return ".".join(reversed(shown[:-1].split("."))) + "."


# -- responses -----------------------------------------------------------------------------------


def xml_document(root: str, inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NAMESPACE}">{inner}'
            f"</{root}>").encode()


def element(tag: str, text: str | int | bool) -> str:
    if isinstance(text, bool):
        text = "true" if text else "false"
    return f"<{tag}>{escape(str(text))}</{tag}>"


def error_body(error: ApiError, request_id: str) -> bytes:
    """Route 53's error document. InvalidChangeBatch's messages go in one `<Message>` as a
    bracketed, comma-separated list, which is what boto3 and the AWS CLI show from the real
    service ("An error occurred (InvalidChangeBatch) ...: [Tried to create ...]"); the
    `<InvalidChangeBatch><Messages>` root that Route 53 also uses is not readable by botocore
    (it finds no error code in it)."""
    kind = "Sender" if error.sender else "Receiver"
    inner = ("<Error>" + element("Type", kind) + element("Code", error.code)
             + element("Message", error.message) + "</Error>" + element("RequestId", request_id))
    return xml_document("ErrorResponse", inner)


# -- requests ------------------------------------------------------------------------------------


def _invalid_input(message: str) -> Rejected:
    return Rejected(ApiError(400, "InvalidInput", message))


def _not_modelled(operation: str) -> Rejected:
    return Rejected(ApiError(400, "InvalidAction",
                             f"{operation} is not modelled by fake-dns's Route 53 API; its hosted "
                             "zones are the zones fake-dns serves (--zone, --zone-file)"))


def _max_items(query: Mapping[str, str], default: int) -> int | Rejected:
    text = query.get("maxitems")
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        return _invalid_input(f"Invalid value for maxitems: {text!r} (expected a positive "
                              "integer)")
    return min(int(text), default)  # Route 53 returns at most its default page size


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child(parent: ET.Element, tag: str) -> ET.Element | None:
    for child in parent:
        if _local(child.tag) == tag:
            return child
    return None


def _children(parent: ET.Element | None, tag: str) -> list[ET.Element]:
    return [c for c in parent if _local(c.tag) == tag] if parent is not None else []


def _text(parent: ET.Element, tag: str) -> str | None:
    child = _child(parent, tag)
    return None if child is None else (child.text or "").strip()


def _enum_error(value: str, where: str, allowed: Iterable[str]) -> Rejected:
    return _invalid_input(f"1 validation error detected: Value '{value}' at '{where}' failed "
                          "to satisfy constraint: Member must satisfy enum value set: "
                          f"[{', '.join(allowed)}]")


def _parse_change(index: int, node: ET.Element) -> RecordSetChange | Rejected:
    where = f"changeBatch.changes.{index}.member"
    action = _text(node, "Action")
    if action not in _ACTIONS:
        return _enum_error(action or "null", f"{where}.action", _ACTIONS)
    rrset = _child(node, "ResourceRecordSet")
    if rrset is None:
        return _invalid_input(f"Invalid request: Change {index} has no ResourceRecordSet")
    name = _text(rrset, "Name")
    rtype = _text(rrset, "Type")
    if not name:
        return _invalid_input(f"Invalid request: Change {index} has no ResourceRecordSet Name")
    if rtype not in RECORD_TYPES:
        return _enum_error(rtype or "null", f"{where}.resourceRecordSet.type", RECORD_TYPES)
    for tag in _NOT_MODELLED:
        if _child(rrset, tag) is not None:
            return _invalid_input(f"Invalid request: {tag} in Change {index} ([Action={action}, "
                                  f"Name={name}, Type={rtype}]): fake-dns's Route 53 API models "
                                  "simple routing only (TTL and ResourceRecords)")
    ttl_text = _text(rrset, "TTL")
    records = _child(rrset, "ResourceRecords")
    values = tuple(_text(r, "Value") or "" for r in _children(records, "ResourceRecord"))
    if ttl_text is None or records is None:
        # Route 53's message when TTL or ResourceRecords is missing from a simple change.
        return _invalid_input("Invalid request: Expected exactly one of [AliasTarget, all of "
                              "[TTL, and ResourceRecords], or TrafficPolicyInstanceId], but "
                              f"found none in Change with [Action={action}, Name={name}, "
                              f"Type={rtype}, SetIdentifier=null]")
    if not ttl_text.isdigit() or int(ttl_text) > 2147483647:
        return _invalid_input(f"1 validation error detected: Value '{ttl_text}' at "
                              f"'{where}.resourceRecordSet.tTL' failed to satisfy constraint: "
                              "Member must have value between 0 and 2147483647")
    if not values:
        return _invalid_input(f"1 validation error detected: Value '[]' at "
                              f"'{where}.resourceRecordSet.resourceRecords' failed to satisfy "
                              "constraint: Member must have length greater than or equal to 1")
    return RecordSetChange(Action(action), name, rtype, int(ttl_text), values)


def _parse_change_batch(zone_id: str, body: bytes) -> Operation:
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        return Rejected(ApiError(400, "MalformedInput", "a request body may not declare a DTD"))
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        return Rejected(ApiError(400, "MalformedInput",
                                 f"Could not parse the request body as XML: {exc}"))
    if _local(root.tag) != "ChangeResourceRecordSetsRequest":
        return Rejected(ApiError(400, "MalformedInput", f"{_local(root.tag)} is not valid, "
                                 "expected ChangeResourceRecordSetsRequest"))
    batch = _child(root, "ChangeBatch")
    if batch is None:
        return _invalid_input("Invalid request: the ChangeResourceRecordSetsRequest has no "
                              "ChangeBatch")
    nodes = _children(_child(batch, "Changes"), "Change")
    if not nodes:
        return _invalid_input("1 validation error detected: Value '[]' at 'changeBatch.changes' "
                              "failed to satisfy constraint: Member must have length greater "
                              "than or equal to 1")
    changes: list[RecordSetChange] = []
    for index, node in enumerate(nodes, 1):
        change = _parse_change(index, node)
        if isinstance(change, Rejected):
            return change
        changes.append(change)
    return ChangeResourceRecordSets(zone_id, ChangeBatch(tuple(changes), _text(batch, "Comment")))


def _route(method: str, parts: list[str], query: Mapping[str, str], body: bytes) -> Operation:
    """The operation at `parts` (the path after the version), or why there is none."""
    allowed: tuple[str, ...]
    operation: Operation | None = None
    match parts:
        case ["hostedzone"]:
            allowed = ("GET",)
            if method == "POST":
                return _not_modelled("CreateHostedZone")
            max_items = _max_items(query, 100)
            operation = max_items if isinstance(max_items, Rejected) else \
                ListHostedZones(query.get("marker") or None, max_items)
        case ["hostedzonesbyname"]:
            allowed = ("GET",)
            max_items = _max_items(query, 100)
            if isinstance(max_items, Rejected):
                operation = max_items
            elif query.get("hostedzoneid") and not query.get("dnsname"):
                operation = _invalid_input("If you specify hostedzoneid, you must also specify "
                                           "dnsname")
            else:
                operation = ListHostedZonesByName(query.get("dnsname") or None,
                                                  query.get("hostedzoneid") or None, max_items)
        case ["hostedzonecount"]:
            allowed = ("GET",)
            operation = GetHostedZoneCount()
        case ["hostedzone", zone_id]:
            allowed = ("GET",)
            if method in ("DELETE", "POST"):
                return _not_modelled("DeleteHostedZone" if method == "DELETE"
                                     else "UpdateHostedZoneComment")
            operation = GetHostedZone(zone_id)
        case ["hostedzone", zone_id, "rrset"]:
            allowed = ("GET", "POST")
            if method == "POST":
                operation = _parse_change_batch(zone_id, body)
            else:
                operation = _list_rrsets(zone_id, query)
        case ["change", change_id]:
            allowed = ("GET",)
            operation = GetChange(change_id)
        case _:
            return Rejected(ApiError(400, "InvalidAction",
                                     f"no Route 53 operation at /{API_VERSION}/"
                                     f"{'/'.join(parts)} (fake-dns serves ListHostedZones, "
                                     "ListHostedZonesByName, GetHostedZone, GetHostedZoneCount, "
                                     "ListResourceRecordSets, ChangeResourceRecordSets and "
                                     "GetChange)"))
    if method not in allowed:
        return Rejected(ApiError(405, "MethodNotAllowed",
                                 f"{method} is not allowed on /{API_VERSION}/{'/'.join(parts)}; "
                                 f"use {' or '.join(allowed)}"))
    assert operation is not None
    return operation


def _list_rrsets(zone_id: str, query: Mapping[str, str]) -> Operation:
    max_items = _max_items(query, 300)
    if isinstance(max_items, Rejected):
        return max_items
    name, rtype = query.get("name") or None, query.get("type") or None
    if rtype and not name:
        # API reference: "If you specify Type but not Name: Route 53 returns InvalidInput".
        return _invalid_input("The input is not valid: type was specified without name")
    if rtype and rtype not in RECORD_TYPES:
        return _enum_error(rtype, "type", RECORD_TYPES)
    if query.get("identifier"):
        return _invalid_input("fake-dns's Route 53 API models no set identifiers (weighted, "
                              "latency, failover or geolocation routing)")
    return ListResourceRecordSets(zone_id, name, rtype, max_items)


def access_key_id(headers: Mapping[str, str]) -> str | None:
    """The access key id of a SigV4 `Authorization` header (not checked: any signature goes)."""
    for key, value in headers.items():
        if key.lower() == "authorization":
            match = _AUTH_KEY_ID.search(value)
            return match.group(1) if match else None
    return None


def parse_request(method: str, path: str, query: Iterable[tuple[str, str]],
                  headers: Mapping[str, str], body: bytes) -> Route53Request:
    """Turn one HTTP request into a `Route53Request` (rule 1: never raises).

    `path` is the decoded path without the query; `query` the decoded (key, value) pairs.
    """
    method = method.upper()
    pairs = tuple((str(k), str(v)) for k, v in query)
    lowered = {k.lower(): v for k, v in pairs}
    parts = [p for p in path.split("/") if p]
    operation: Operation
    if len(body) > MAX_BODY_BYTES:
        operation = Rejected(ApiError(413, "RequestEntityTooLarge",
                                      f"the request body is {len(body)} bytes; the limit is "
                                      f"{MAX_BODY_BYTES}"))
    elif not parts or parts[0] != API_VERSION:
        operation = Rejected(ApiError(400, "InvalidAction",
                                      f"no Route 53 operation at {path!r}: paths start with "
                                      f"/{API_VERSION}/ (set AWS_ENDPOINT_URL_ROUTE_53 to "
                                      "http://HOST:PORT, without a path)"))
    else:
        operation = _route(method, parts[1:], lowered, body)
    return Route53Request(method, path, pairs, body, operation, access_key_id(headers))
