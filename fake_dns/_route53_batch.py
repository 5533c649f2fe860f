"""A Route 53 change batch checked against a zone and turned into one RFC 2136 `Update`.

Theory of operation
-------------------
`plan_batch(zone, batch)` is pure: it reads the zone and returns either the messages of an
InvalidChangeBatch error or the one `Update` that makes the batch's net effect. The caller
applies that update with `ZoneStore.apply` right away, in the same synchronous step, so no
other change can come between the checks and the commit.

- Rule 1 (limits, from the Route 53 developer guide's "Quotas"): at most 1,000 ResourceRecord
  elements and 32,000 characters of Value per request, UPSERT counting twice.
- Rule 2 (values): every value must parse for its type; A and AAAA values, TXT quoting and
  CNAME's single value are checked the way Route 53 words it.
- Rule 3 (one set, one change): a record set may appear once in a batch, or twice as DELETE
  followed by CREATE or UPSERT (the documented way to replace a set in one transaction).
  Anything else is "an invalid set of changes" for that set.
- Rule 4 (sequential checks): changes are checked in order against a working copy of the
  zone, so a DELETE then CREATE of the same set succeeds, and a CREATE of an A record where
  the batch has just deleted the CNAME succeeds. CREATE of an existing set, DELETE of a
  missing set and DELETE whose TTL or values differ from the current ones (values compared
  as sets) fail; so do CNAME conflicts and names outside the zone. Every failure is listed, in
  the order of the changes; a failed change leaves the working copy as it was.
- Rule 5 (the zone stays a zone): the end state keeps one SOA and at least one NS at the apex.
  fake-dns keeps the SOA itself (its serial counts committed changes), so a batch that would
  change the SOA is refused with a message saying so.
- Rule 6 (the commit): the update's prerequisites restate what the checks read (each touched
  set absent, or exactly its values, RFC 2136 §2.4.2/§2.4.3), so the store itself refuses it
  if the zone were not the one checked. Its changes first delete the sets that go, then
  replace or add the others; the apex NS set, which RFC 2136 never deletes whole
  (§3.4.2.3), is replaced by adding the new values before deleting the old ones.

Messages quoted from Route 53 as its clients report them: "Tried to create resource record set
[name='…', type='…'] but it already exists", "Tried to delete … but it was not found", "… but
the values provided do not match the current values", "RRSet with DNS name … is not permitted
in zone …", the three CNAME conflicts, "The request contains an invalid set of changes for a
resource record set '…'", "Number of records limit of 1000 exceeded.", "RDATA character limit
of 32000 exceeded.", the A/AAAA/TXT "Invalid Resource Record" ones, and the two apex rules.
The others (CNAME with several values, duplicate values, other unparsable values, the SOA) are
worded here in the same style.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from fake_dns._records import (
    Change,
    ChangeKind,
    PrereqKind,
    Prerequisite,
    Update,
    canonical_rdata,
)
from fake_dns._route53_values import Action, ChangeBatch
from fake_dns._route53_wire import name_from_route53, route53_name
from fake_dns._zone import Zone, _in_zone

__all__ = ["MAX_RECORDS", "MAX_VALUE_CHARS", "RRset", "plan_batch"]

MAX_RECORDS = 1000
MAX_VALUE_CHARS = 32000
_REPLACEMENTS = ((Action.DELETE, Action.CREATE), (Action.DELETE, Action.UPSERT))


@dataclass(frozen=True, slots=True)
class RRset:
    ttl: int
    values: tuple[str, ...]  # canonical rdata, in the zone's order

    def matches(self, ttl: int, values: tuple[str, ...]) -> bool:
        return self.ttl == ttl and frozenset(self.values) == frozenset(values)


@dataclass(frozen=True, slots=True)
class _Checked:
    action: Action
    name: str  # canonical
    rtype: str
    rrset: RRset


def _set_text(name: str, rtype: str) -> str:
    return f"resource record set [name='{route53_name(name)}', type='{rtype}']"


def _fatal(problem: str, value: str) -> str:
    return f"Invalid Resource Record: FATAL problem: {problem} encountered with '{value}'"


def _check_value(rtype: str, value: str) -> tuple[str | None, str | None]:
    """(canonical value, None) or (None, the error message) for one Value (rule 2)."""
    if rtype == "A":
        if any(c.isspace() for c in value):
            return None, _fatal("ARRDATANotSingleField (Value contains spaces)", value)
        try:
            return str(ipaddress.IPv4Address(value)), None
        except ValueError:
            return None, _fatal("ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address)",
                                value)
    if rtype == "AAAA":
        try:
            return str(ipaddress.IPv6Address(value.strip())), None
        except ValueError:
            return None, _fatal("AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 "
                                "address)", value)
    if rtype in ("TXT", "SPF") and not (len(value) >= 2 and value[0] == value[-1] == '"'):
        return None, _fatal("InvalidCharacterString (Value should be enclosed in quotation "
                            "marks)", value)
    try:
        return canonical_rdata(rtype, value), None
    except ValueError as exc:
        return None, _fatal(f"{rtype}RRDATAIllegal ({exc})", value)


def _check_syntax(batch: ChangeBatch) -> tuple[list[_Checked], list[str]]:
    """Rules 1 and 2: limits, names and values; canonical changes or the messages."""
    records = sum(len(c.values) * (2 if c.action is Action.UPSERT else 1) for c in batch.changes)
    chars = sum(sum(map(len, c.values)) * (2 if c.action is Action.UPSERT else 1)
                for c in batch.changes)
    messages: list[str] = []
    if records > MAX_RECORDS:
        messages.append(f"Number of records limit of {MAX_RECORDS} exceeded.")
    if chars > MAX_VALUE_CHARS:
        messages.append(f"RDATA character limit of {MAX_VALUE_CHARS} exceeded.")
    if messages:
        return [], messages
    checked: list[_Checked] = []
    for change in batch.changes:
        try:
            name = name_from_route53(change.name)
        except ValueError as exc:
            messages.append(f"Invalid resource record set name: {exc}")
            continue
        values: list[str] = []
        for value in change.values:
            canonical, problem = _check_value(change.rtype, value)
            if problem is not None:
                messages.append(problem)
            elif canonical in values:
                messages.append(f"Duplicate Resource Record: '{value}'")
            else:
                assert canonical is not None
                values.append(canonical)
        if change.rtype == "CNAME" and len(change.values) > 1:
            messages.append(f"RRSet of type CNAME with DNS name {route53_name(name)} has "
                            f"{len(change.values)} values: a CNAME RRSet holds exactly one")
        checked.append(_Checked(change.action, name, change.rtype,
                                RRset(change.ttl, tuple(values))))
    return checked, messages


def _check_repeats(changes: list[_Checked]) -> list[str]:
    """Rule 3."""
    actions: dict[tuple[str, str], list[Action]] = {}
    for change in changes:
        actions.setdefault((change.name, change.rtype), []).append(change.action)
    return [f"The request contains an invalid set of changes for a resource record set "
            f"'{rtype} {route53_name(name)}'"
            for (name, rtype), seq in actions.items()
            if len(seq) > 1 and tuple(seq) not in _REPLACEMENTS]


class _Working:
    """The zone's record sets as the batch has changed them so far (rule 4)."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.changed: dict[tuple[str, str], RRset | None] = {}
        self.before: dict[tuple[str, str], RRset | None] = {}  # touched sets, first-touch order

    def original(self, name: str, rtype: str) -> RRset | None:
        node = self.zone.nodes.get(name)
        if not node or rtype not in node:
            return None
        ttl, rdatas = node[rtype]
        return RRset(ttl, rdatas)

    def get(self, name: str, rtype: str) -> RRset | None:
        key = (name, rtype)
        return self.changed[key] if key in self.changed else self.original(name, rtype)

    def types_at(self, name: str) -> set[str]:
        types = set(self.zone.nodes.get(name, {}))
        for (n, t), rrset in self.changed.items():
            if n == name:
                (types.add if rrset is not None else types.discard)(t)
        return types

    def put(self, name: str, rtype: str, rrset: RRset | None) -> None:
        key = (name, rtype)
        self.before.setdefault(key, self.original(name, rtype))
        self.changed[key] = rrset


def _cname_conflict(work: _Working, change: _Checked) -> str | None:
    shown, origin = route53_name(change.name), route53_name(work.zone.origin)
    others = work.types_at(change.name) - {change.rtype}
    if change.rtype == "CNAME" and change.name == work.zone.origin:
        return (f"RRSet of type CNAME with DNS name {shown} is not permitted at apex in zone "
                f"{origin}")
    if change.rtype == "CNAME" and others:
        return (f"RRSet of type CNAME with DNS name {shown} is not permitted as it conflicts "
                f"with other records with the same DNS name in zone {origin}")
    if change.rtype != "CNAME" and "CNAME" in others:
        return (f"RRSet of type {change.rtype} with DNS name {shown} is not permitted because a "
                "conflicting RRSet of type CNAME with the same DNS name already exists in zone "
                f"{origin}")
    return None


def _simulate(work: _Working, changes: list[_Checked]) -> list[str]:
    """Rule 4, then rule 5."""
    messages: list[str] = []
    for change in changes:
        name, rtype = change.name, change.rtype
        if not _in_zone(name, work.zone.origin):
            messages.append(f"RRSet with DNS name {route53_name(name)} is not permitted in zone "
                            f"{route53_name(work.zone.origin)}")
            continue
        current = work.get(name, rtype)
        if change.action is Action.DELETE:
            if current is None:
                messages.append(f"Tried to delete {_set_text(name, rtype)} but it was not found")
            elif not current.matches(change.rrset.ttl, change.rrset.values):
                messages.append(f"Tried to delete {_set_text(name, rtype)} but the values "
                                "provided do not match the current values")
            else:
                work.put(name, rtype, None)
            continue
        if change.action is Action.CREATE and current is not None:
            messages.append(f"Tried to create {_set_text(name, rtype)} but it already exists")
            continue
        conflict = _cname_conflict(work, change)
        if conflict:
            messages.append(conflict)
            continue
        work.put(name, rtype, change.rrset)
    apex = work.zone.origin
    soa_key = (apex, "SOA")
    if soa_key in work.changed:
        if work.changed[soa_key] is None:
            messages.append("A HostedZone must contain exactly one SOA record.")
        elif work.changed[soa_key] != work.before[soa_key]:
            messages.append("fake-dns keeps the SOA of zone "
                            f"{route53_name(apex)} itself (its serial counts the committed "
                            "changes): the SOA cannot be changed through the Route 53 API")
    if (apex, "NS") in work.changed and work.changed[(apex, "NS")] is None:
        messages.append("A HostedZone must contain at least one NS record for the zone itself.")
    return messages


def _update(work: _Working) -> Update:
    """Rule 6: the net effect as one RFC 2136 update guarded by prerequisites."""
    prerequisites: list[Prerequisite] = []
    deletions: list[Change] = []
    additions: list[Change] = []
    apex = work.zone.origin
    for (name, rtype), before in work.before.items():
        after = work.changed[(name, rtype)]
        if before is None:
            prerequisites.append(Prerequisite(PrereqKind.RRSET_DOES_NOT_EXIST, name, rtype))
        else:
            prerequisites.append(Prerequisite(PrereqKind.RRSET_EXISTS_VALUE, name, rtype,
                                              frozenset(before.values)))
        if after == before:
            continue
        if after is None:
            deletions.append(Change(ChangeKind.DELETE_RRSET, name, rtype))
            continue
        adds = [Change(ChangeKind.ADD, name, rtype, after.ttl, v) for v in after.values]
        if before is None:
            additions.extend(adds)
        elif (name, rtype) == (apex, "NS"):
            additions.extend(adds)
            additions.extend(Change(ChangeKind.DELETE_RR, name, rtype, 0, v)
                             for v in before.values if v not in after.values)
        else:
            additions.append(Change(ChangeKind.DELETE_RRSET, name, rtype))
            additions.extend(adds)
    return Update(apex, tuple(prerequisites), (*deletions, *additions))


def plan_batch(zone: Zone, batch: ChangeBatch) -> Update | tuple[str, ...]:
    """The update that applies `batch` to `zone`, or the InvalidChangeBatch messages."""
    changes, messages = _check_syntax(batch)
    if not messages:
        messages = _check_repeats(changes)
    if not messages:
        work = _Working(zone)
        messages = _simulate(work, changes)
        if not messages:
            return _update(work)
    return tuple(messages)
