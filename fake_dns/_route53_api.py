"""`Route53Api`: a parsed request and the `ZoneStore` in, the response out. No I/O.

Rules
-----
- Rule 1: reads (ListHostedZones, ListHostedZonesByName, GetHostedZone, GetHostedZoneCount,
  ListResourceRecordSets, GetChange) look at the store as it is now: an RFC 2136 UPDATE
  committed a moment ago is listed.
- Rule 2: a change batch is planned (`plan_batch`) and applied by one `ZoneStore.apply` call
  in the same synchronous step: the store's single commit path, which writes the journal
  (its durable log) before the commit and runs its subscribers (the DNS answer cache) after
  it, all before it returns. No await, no other commit path.
- Rule 3: a commit that fails (the store raises, or refuses the update it was given, such as
  SERVFAIL when the journal cannot write it) is answered 500 InternalFailure in Route 53's
  shape, with the reason logged; the store's commit path is what guarantees that a failed
  commit changed nothing.
- Rule 4: hosted zone ids are a function of the zone's name ("Z" and 20 base32 characters of
  its SHA-256), so they are the same on every start. Change ids and request ids count the
  calls of one `Route53Api`, so the same calls give the same ids; every accepted change is
  INSYNC at once (it is in the zone when the answer is sent).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from dns.rcode import Rcode

from fake_dns._ratelimit import LogLimiter
from fake_dns._records import canonical_name
from fake_dns._route53_batch import plan_batch
from fake_dns._route53_values import (
    ApiError,
    ChangeResourceRecordSets,
    GetChange,
    GetHostedZone,
    GetHostedZoneCount,
    ListHostedZones,
    ListHostedZonesByName,
    ListResourceRecordSets,
    Rejected,
    Route53Request,
    Route53Response,
)
from fake_dns._route53_wire import (
    element,
    error_body,
    name_from_route53,
    route53_name,
    sort_key,
    xml_document,
)
from fake_dns._zone import Zone, ZoneStore

__all__ = ["Route53Api", "hosted_zone_id"]

log = logging.getLogger("fake_dns.route53")

_CONTENT_TYPE = ("Content-Type", "text/xml")


def hosted_zone_id(origin: str) -> str:
    """The hosted zone id of a zone (rule 4): 'Z' and 20 characters, stable across starts."""
    digest = hashlib.sha256(canonical_name(origin).encode()).digest()
    return "Z" + base64.b32encode(digest).decode()[:20]


def _bare_id(text: str, prefix: str) -> str:
    """'/hostedzone/Z1' or 'Z1' -> 'Z1' (botocore strips the prefix; other clients may not)."""
    return text.rpartition("/")[2] if text.startswith(prefix) else text


@dataclass(frozen=True, slots=True)
class _ChangeRecord:
    submitted_at_s: float
    comment: str | None


def _timestamp(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Route53Api:
    """The Route 53 API over one `ZoneStore`; `handle(request)` answers one request.

    One instance may serve many listeners: it holds the change ids it has handed out (for
    GetChange) and the counters of rule 4. `clock` gives SubmittedAt (seconds since the epoch).
    """

    def __init__(self, store: ZoneStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._changes: dict[str, _ChangeRecord] = {}
        self._requests = 0
        self._limited = LogLimiter(log)  # a flood of refused batches is a few lines and a count

    # -- the one entry point -----------------------------------------------------------------

    def remember_change(self, change_id: str, submitted_at_s: float,
                        comment: str | None = None) -> None:
        """Know `change_id` as a change accepted at `submitted_at_s`, for GetChange: what a
        caller that keeps the changes elsewhere (a scheduler, in each worker's history) tells
        an API made for one request."""
        self._changes[_bare_id(change_id, "/change/")] = _ChangeRecord(submitted_at_s, comment)

    def handle(self, request: Route53Request, *, principal: str | None = None,
               change_id: str | None = None) -> Route53Response:
        """Answer `request`. A change is recorded in the store as made by `principal` (the
        `key_name` of its `CommittedUpdate`); by default the request's access key id. An
        accepted change batch gets the id `change_id` when one is given (otherwise the next
        of this API's count, rule 4)."""
        self._requests += 1
        request_id = str(uuid.UUID(bytes=hashlib.sha256(
            f"fake-dns route53 request {self._requests}".encode()).digest()[:16]))
        op = request.operation
        outcome: bytes | ApiError | tuple[bytes, str]
        if isinstance(op, Rejected):
            outcome = op.error
        elif isinstance(op, ChangeResourceRecordSets):
            outcome = self._change(op, principal or request.access_key_id, change_id)
        elif isinstance(op, ListResourceRecordSets):
            outcome = self._list_rrsets(op)
        elif isinstance(op, GetHostedZone):
            outcome = self._get_zone(op)
        elif isinstance(op, ListHostedZones):
            outcome = self._list_zones(op)
        elif isinstance(op, ListHostedZonesByName):
            outcome = self._list_zones_by_name(op)
        elif isinstance(op, GetHostedZoneCount):
            outcome = xml_document("GetHostedZoneCountResponse",
                                   element("HostedZoneCount", len(self.store.zones)))
        else:
            assert isinstance(op, GetChange)
            outcome = self._get_change(op)
        headers: tuple[tuple[str, str], ...] = (_CONTENT_TYPE, ("x-amzn-RequestId", request_id))
        if isinstance(outcome, ApiError):
            if outcome.status == 405:
                allowed = outcome.message.rpartition("use ")[2].replace(" or ", ", ")
                headers = (*headers, ("Allow", allowed))
            return Route53Response(outcome.status, headers, error_body(outcome, request_id),
                                   error=outcome)
        if isinstance(outcome, tuple):
            body, change_id = outcome
            return Route53Response(200, headers, body, change_id=change_id)
        return Route53Response(200, headers, outcome)

    # -- zones -------------------------------------------------------------------------------

    def _zones_in_order(self) -> list[Zone]:
        return sorted(self.store.zones.values(), key=lambda z: sort_key(z.origin))

    def _zone(self, zone_id: str) -> Zone | ApiError:
        wanted = _bare_id(zone_id, "/hostedzone/")
        for zone in self.store.zones.values():
            if hosted_zone_id(zone.origin) == wanted:
                return zone
        return ApiError(404, "NoSuchHostedZone", f"No hosted zone found with ID: {wanted}")

    @staticmethod
    def _zone_xml(zone: Zone) -> str:
        count = sum(len(node) for node in zone.nodes.values())
        return ("<HostedZone>" + element("Id", f"/hostedzone/{hosted_zone_id(zone.origin)}")
                + element("Name", route53_name(zone.origin))
                + element("CallerReference", f"fake-dns {zone.origin}")
                + "<Config>" + element("Comment", "served by fake-dns")
                + element("PrivateZone", False) + "</Config>"
                + element("ResourceRecordSetCount", count) + "</HostedZone>")

    def _get_zone(self, op: GetHostedZone) -> bytes | ApiError:
        zone = self._zone(op.zone_id)
        if isinstance(zone, ApiError):
            return zone
        servers = "".join(element("NameServer", rr.rdata.rstrip("."))
                          for rr in zone.rrset(zone.origin, "NS"))
        return xml_document("GetHostedZoneResponse", self._zone_xml(zone)
                            + f"<DelegationSet><NameServers>{servers}</NameServers>"
                            "</DelegationSet>")

    def _list_zones(self, op: ListHostedZones) -> bytes | ApiError:
        zones = self._zones_in_order()
        start = 0
        if op.marker is not None:
            ids = [hosted_zone_id(z.origin) for z in zones]
            marker = _bare_id(op.marker, "/hostedzone/")
            if marker not in ids:
                return ApiError(400, "InvalidInput",
                                f"The marker {op.marker!r} is not a hosted zone id")
            start = ids.index(marker)
        page, rest = zones[start:start + op.max_items], zones[start + op.max_items:]
        inner = ("<HostedZones>" + "".join(map(self._zone_xml, page)) + "</HostedZones>"
                 + element("Marker", op.marker or "") + element("IsTruncated", bool(rest)))
        if rest:
            inner += element("NextMarker", hosted_zone_id(rest[0].origin))
        return xml_document("ListHostedZonesResponse", inner + element("MaxItems", op.max_items))

    def _list_zones_by_name(self, op: ListHostedZonesByName) -> bytes | ApiError:
        zones = self._zones_in_order()
        start = 0
        if op.dns_name is not None:
            try:
                key = sort_key(name_from_route53(op.dns_name))
            except ValueError as exc:
                return ApiError(400, "InvalidDomainName", f"The domain name is invalid: {exc}")
            keys = [(sort_key(z.origin), hosted_zone_id(z.origin)) for z in zones]
            wanted = (key, _bare_id(op.hosted_zone_id, "/hostedzone/")
                      if op.hosted_zone_id else "")
            start = next((i for i, k in enumerate(keys) if k >= wanted), len(zones))
        page, rest = zones[start:start + op.max_items], zones[start + op.max_items:]
        inner = "<HostedZones>" + "".join(map(self._zone_xml, page)) + "</HostedZones>"
        if op.dns_name is not None:
            inner += element("DNSName", op.dns_name)
        if op.hosted_zone_id is not None:
            inner += element("HostedZoneId", op.hosted_zone_id)
        inner += element("IsTruncated", bool(rest))
        if rest:
            inner += (element("NextDNSName", route53_name(rest[0].origin))
                      + element("NextHostedZoneId", hosted_zone_id(rest[0].origin)))
        return xml_document("ListHostedZonesByNameResponse",
                            inner + element("MaxItems", op.max_items))

    # -- record sets -------------------------------------------------------------------------

    def _list_rrsets(self, op: ListResourceRecordSets) -> bytes | ApiError:
        """Route 53's order and paging: by name with the labels reversed, then by type;
        starting at the first set at or after (name, type)."""
        zone = self._zone(op.zone_id)
        if isinstance(zone, ApiError):
            return zone
        sets = sorted((sort_key(name), rtype, name)
                      for name, node in zone.nodes.items() for rtype in node)
        start = 0
        if op.start_name is not None:
            try:
                first = (sort_key(name_from_route53(op.start_name)), op.start_type or "")
            except ValueError as exc:
                return ApiError(400, "InvalidInput", f"Invalid name: {exc}")
            start = next((i for i, s in enumerate(sets) if s[:2] >= first), len(sets))
        page, rest = sets[start:start + op.max_items], sets[start + op.max_items:]
        items = []
        for _key, rtype, name in page:
            ttl, rdatas = zone.nodes[name][rtype]
            records = "".join(f"<ResourceRecord>{element('Value', v)}</ResourceRecord>"
                              for v in rdatas)
            items.append("<ResourceRecordSet>" + element("Name", route53_name(name))
                         + element("Type", rtype) + element("TTL", ttl)
                         + f"<ResourceRecords>{records}</ResourceRecords></ResourceRecordSet>")
        inner = (f"<ResourceRecordSets>{''.join(items)}</ResourceRecordSets>"
                 + element("IsTruncated", bool(rest)))
        if rest:
            inner += (element("NextRecordName", route53_name(rest[0][2]))
                      + element("NextRecordType", rest[0][1]))
        return xml_document("ListResourceRecordSetsResponse",
                            inner + element("MaxItems", op.max_items))

    # -- changes -----------------------------------------------------------------------------

    def _change_info(self, change_id: str) -> str:
        record = self._changes[change_id]
        comment = element("Comment", record.comment) if record.comment is not None else ""
        return ("<ChangeInfo>" + element("Id", f"/change/{change_id}")
                + element("Status", "INSYNC")
                + element("SubmittedAt", _timestamp(record.submitted_at_s)) + comment
                + "</ChangeInfo>")

    def _get_change(self, op: GetChange) -> bytes | ApiError:
        change_id = _bare_id(op.change_id, "/change/")
        if change_id not in self._changes:
            return ApiError(404, "NoSuchChange",
                            f"A change with the specified change ID does not exist: {change_id}")
        return xml_document("GetChangeResponse", self._change_info(change_id))

    def _change(self, op: ChangeResourceRecordSets, principal: str | None,
                change_id: str | None = None) -> tuple[bytes, str] | ApiError:
        zone = self._zone(op.zone_id)
        if isinstance(zone, ApiError):
            return zone
        plan = plan_batch(zone, op.batch)
        if isinstance(plan, tuple):
            self._limited.log("refused change batches", logging.INFO,
                              "change batch for %s refused: %s", zone.origin, "; ".join(plan))
            return ApiError(400, "InvalidChangeBatch", "[" + ", ".join(plan) + "]",
                            messages=plan)
        try:
            result = self.store.apply(plan, principal)
        except Exception as exc:
            log.exception("change batch for %s failed to commit", zone.origin)
            return ApiError(500, "InternalFailure", "the change could not be committed "
                            f"({type(exc).__name__}: {exc}); nothing was changed",
                            sender=False)
        if result.rcode != Rcode.NOERROR:
            self._limited.log("change batches that failed to commit", logging.ERROR,
                              "change batch for %s failed to commit: %s %s", zone.origin,
                              result.rcode.name, result.reason)
            return ApiError(500, "InternalFailure", "the change could not be committed "
                            f"({result.rcode.name}: {result.reason}); nothing was changed",
                            sender=False)
        if change_id is None:
            change_id = "C" + base64.b32encode(hashlib.sha256(
                f"fake-dns route53 change {len(self._changes) + 1}".encode()).digest()
            ).decode()[:13]
        self._changes[change_id] = _ChangeRecord(self._clock(), op.batch.comment)
        if result.committed is not None:
            log.info("change batch for %s committed, serial %d, by %s: %s", zone.origin,
                     result.serial, principal, op.batch.describe())
        else:
            log.info("change batch for %s changed nothing, serial stays %d", zone.origin,
                     result.serial)
        return xml_document("ChangeResourceRecordSetsResponse",
                            self._change_info(change_id)), change_id
