"""The authoritative zone engine: lookups (RFC 1034 §4.3.2, RFC 2308) and RFC 2136 updates.

Theory of operation
-------------------
- A `ZoneStore` holds the zones a server is authoritative for. It does no I/O and never awaits:
  `lookup()` and `apply()` are plain synchronous functions over values, so an UPDATE is checked
  and applied in one synchronous step, with no await between check and write. That is where
  all-or-nothing comes from.
- Rule 1: `apply()` evaluates every prerequisite (§3.2) and prescans every change (§3.4.1)
  against the zone *before* touching it; the first failure returns its rcode and nothing changes.
- Rule 2: changes are then applied in order to a copy-on-write view of the affected names and
  committed together; the SOA serial goes up by one when the zone content changed (§3.6).
- Rule 3: every committed update that changed something is appended to the change log, and each
  subscriber is called synchronously with the `CommittedUpdate` (serial, key name, changes).
  Subscribers must not raise; the answer cache and the race's timeline are subscribers.
- Rule 4, write-ahead: rule 2's copies are the update's whole effect, and the zone itself is
  not touched until they are installed. Between the two, `apply()` hands the prospective
  `CommittedUpdate` to the store's durable log (`set_durable_log`: the journal), which returns
  once it is on disk. If it raises `OSError` (a full disk, EFBIG, EIO), `apply()` answers
  SERVFAIL (RFC 2136 §2.2: "an internal failure ... for example an operating system error")
  and the zone, the change log and the subscribers are exactly as before. So nothing is
  served, cached or answered as committed that is not durable, whoever the writer is: every
  writer (an RFC 2136 UPDATE, any other API's batch) goes through `apply()`.
- Rule 5, size: loading n records costs O(n) whatever their names; an update costs time linear
  in the size of the RRsets it touches (they are immutable tuples, copied on write).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dns.rcode import Rcode

from fake_dns._records import RR, Change, ChangeKind, PrereqKind, Update, canonical_name

__all__ = ["CommittedUpdate", "LookupResult", "UpdateResult", "Zone", "ZoneStore"]

log = logging.getLogger("fake_dns.zone")

# RFC 2136 §3.4.1.2: meta-types that may not appear in an add; AXFR/MAILA/MAILB not in deletes.
_META_TYPES = frozenset({"ANY", "AXFR", "IXFR", "MAILA", "MAILB", "OPT", "TSIG", "TKEY"})
_MAX_CNAME_CHAIN = 16
# The types that may share a name with a CNAME (RFC 2181 §10.1; RFC 4035 §2.5 for DNSSEC).
_CNAME_NEUTRAL_TYPES = frozenset({"CNAME", "RRSIG", "NSEC", "NSEC3", "KEY"})

# name -> rtype -> (ttl, rdatas in insertion order)
RRsetMap = dict[str, tuple[int, tuple[str, ...]]]


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What an authoritative server answers for one question (before wire encoding)."""

    rcode: Rcode
    answer: tuple[RR, ...] = ()
    authority: tuple[RR, ...] = ()
    authoritative: bool = True

    @property
    def addresses(self) -> tuple[str, ...]:
        """The A/AAAA rdatas in the answer, in order (what a client would connect to)."""
        return tuple(rr.rdata for rr in self.answer if rr.rtype in ("A", "AAAA"))


@dataclass(frozen=True, slots=True)
class CommittedUpdate:
    zone: str
    serial: int
    key_name: str | None
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class UpdateResult:
    rcode: Rcode
    serial: int
    reason: str = ""  # why it was refused, for logs and traces; empty on success
    committed: CommittedUpdate | None = None


def _same_content(before: dict[str, RRsetMap], after: dict[str, RRsetMap],
                  names: set[str]) -> bool:
    """True when every name in `names` holds the same RRsets (as sets, with TTLs) as before.

    O(1) per RRset unless it kept its size and TTL but changed (RRsets hold no duplicates, so
    a new size is a new set): adding one record to a big RRset does not compare it whole.
    """
    for name in names:
        old, new = before.get(name) or {}, after.get(name) or {}
        if old.keys() != new.keys():
            return False
        for rtype, (ttl, rdatas) in old.items():
            new_ttl, new_rdatas = new[rtype]
            if rdatas is new_rdatas and ttl == new_ttl:
                continue
            if ttl != new_ttl or len(rdatas) != len(new_rdatas) or \
                    frozenset(rdatas) != frozenset(new_rdatas):
                return False
    return True


def _serial_of(apex: RRsetMap) -> int:
    return int(apex["SOA"][1][0].split()[2])


def _serial_gt(a: int, b: int) -> bool:
    """RFC 1982 §3.2: serial `a` is greater than `b` in 32-bit sequence space arithmetic."""
    return 0 < (a - b) % 2**32 < 2**31


def _in_zone(name: str, origin: str) -> bool:
    return name == origin or name.endswith("." + origin) or origin == "."


class Zone:
    """One zone's data. Mutate only through `ZoneStore.apply` (or `load`, before serving)."""

    def __init__(self, origin: str, soa: RR, records: Iterable[RR] = ()) -> None:
        self.origin = canonical_name(origin)
        if soa.rtype != "SOA" or soa.name != self.origin:
            raise ValueError(
                f"zone {self.origin}: the SOA must be at the apex, got {soa.to_text()}")
        # Gather each RRset as a dict (an ordered set: O(1) per record), then freeze it into a
        # tuple once (rule 5); appending to a tuple per record made n records at one name O(n²).
        staged: dict[str, dict[str, tuple[int, dict[str, None]]]] = {
            self.origin: {"SOA": (soa.ttl, {soa.rdata: None})}}
        for rr in records:
            if not _in_zone(rr.name, self.origin):
                raise ValueError(f"record {rr.to_text()} is outside zone {self.origin}")
            if rr.rtype == "SOA":
                if rr.name != self.origin:
                    raise ValueError(f"zone {self.origin}: SOA not at the apex: {rr.to_text()}")
                staged[self.origin]["SOA"] = (rr.ttl, {rr.rdata: None})
                continue
            node = staged.setdefault(rr.name, {})
            _ttl, rdatas = node.get(rr.rtype, (rr.ttl, {}))
            rdatas[rr.rdata] = None
            # RFC 2181 §5.2: all RRs of an RRset share one TTL; the newest wins.
            node[rr.rtype] = (rr.ttl, rdatas)
        self.nodes: dict[str, RRsetMap] = {
            name: {rtype: (ttl, tuple(rdatas)) for rtype, (ttl, rdatas) in node.items()}
            for name, node in staged.items()}
        for name, rrsets in self.nodes.items():
            if "CNAME" in rrsets and rrsets.keys() - _CNAME_NEUTRAL_TYPES:
                # RFC 2181 §10.1: a name with a CNAME has no other data (DNSSEC's aside).
                others = ", ".join(sorted(rrsets.keys() - _CNAME_NEUTRAL_TYPES))
                raise ValueError(f"zone {self.origin}: {name} has a CNAME and other data "
                                 f"({others})")

    @classmethod
    def empty(cls, origin: str, *, ns: str | None = None, ttl: int = 3600,
              serial: int = 1, records: Iterable[RR] = ()) -> Zone:
        """A zone with an SOA and one NS (defaults: ns1.<origin>, hostmaster.<origin>), plus
        `records`."""
        origin = canonical_name(origin)
        prefix = "" if origin == "." else origin
        ns = canonical_name(ns) if ns else f"ns1.{prefix}" if prefix else "ns1."
        soa = RR.make(origin, "SOA", ttl,
                      f"{ns} hostmaster.{prefix} {serial} 3600 600 86400 60")
        return cls(origin, soa, [RR.make(origin, "NS", ttl, ns), *records])

    # -- reading ---------------------------------------------------------------------------

    @property
    def soa(self) -> RR:
        ttl, (rdata,) = self.nodes[self.origin]["SOA"]
        return RR(self.origin, "SOA", ttl, rdata)

    @property
    def serial(self) -> int:
        return int(self.soa.rdata.split()[2])

    def rrset(self, name: str, rtype: str) -> tuple[RR, ...]:
        node = self.nodes.get(name)
        if not node or rtype not in node:
            return ()
        ttl, rdatas = node[rtype]
        return tuple(RR(name, rtype, ttl, r) for r in rdatas)

    def records(self) -> list[RR]:
        """Every record, SOA first, then by name and type (a stable order for dumps and hashes)."""
        out = [self.soa]
        for name in sorted(self.nodes):
            for rtype in sorted(self.nodes[name]):
                if name == self.origin and rtype == "SOA":
                    continue
                out.extend(self.rrset(name, rtype))
        return out

    def _name_exists(self, name: str) -> bool:
        """True when the name owns records or is an empty non-terminal (RFC 8020 §2)."""
        if name in self.nodes:
            return True
        suffix = "." + name
        return any(n.endswith(suffix) for n in self.nodes)

    def _negative_soa(self) -> RR:
        # RFC 2308 §3: the SOA in a negative answer carries min(SOA TTL, SOA MINIMUM).
        soa = self.soa
        minimum = int(soa.rdata.split()[6])
        return RR(soa.name, "SOA", min(soa.ttl, minimum), soa.rdata)

    def lookup(self, qname: str, qtype: str) -> LookupResult:
        """Answer one question authoritatively (RFC 1034 §4.3.2 for data inside this zone).

        CNAME chains are followed inside the zone with every CNAME in the answer; the rcode is
        that of the last name in the chain (RFC 6604 §2.1). NXDOMAIN and NODATA both carry the
        zone SOA in the authority section (RFC 2308 §2.1, §2.2).
        """
        answer: list[RR] = []
        name = qname
        seen: set[str] = set()
        while True:
            node = self.nodes.get(name)
            if node is None:
                if self._name_exists(name):
                    return LookupResult(Rcode.NOERROR, tuple(answer), (self._negative_soa(),))
                return LookupResult(Rcode.NXDOMAIN, tuple(answer), (self._negative_soa(),))
            if qtype == "ANY":
                for rtype in node:
                    answer.extend(self.rrset(name, rtype))
                return LookupResult(Rcode.NOERROR, tuple(answer))
            if qtype in node:
                answer.extend(self.rrset(name, qtype))
                return LookupResult(Rcode.NOERROR, tuple(answer))
            if "CNAME" in node and qtype != "CNAME":
                cname = self.rrset(name, "CNAME")[0]
                answer.append(cname)
                seen.add(name)
                target = cname.rdata
                if target in seen or len(seen) >= _MAX_CNAME_CHAIN:
                    # A loop: answer what we have; RFC 1034 §3.6.2 says loops are errors.
                    return LookupResult(Rcode.SERVFAIL, tuple(answer))
                if not _in_zone(target, self.origin):
                    return LookupResult(Rcode.NOERROR, tuple(answer))
                name = target
                continue
            return LookupResult(Rcode.NOERROR, tuple(answer), (self._negative_soa(),))


class ZoneStore:
    """The zones one server is authoritative for, and the single place they change."""

    def __init__(self, zones: Iterable[Zone] = ()) -> None:
        self.zones: dict[str, Zone] = {}
        self.change_log: list[CommittedUpdate] = []
        self._subscribers: list[Callable[[CommittedUpdate], None]] = []
        self._durable_log: Callable[[CommittedUpdate], None] | None = None
        for zone in zones:
            self.add_zone(zone)

    def branch(self, names: Iterable[str]) -> ZoneStore:
        """A cheap copy for applying one more update without touching this store: it shares
        every node with this store except those of `names` and each zone's apex (the SOA
        serial), which are copied. (`apply` replaces the nodes it changes rather than changing
        them in place, so the copies are a second safeguard.) Only an update that changes
        nothing but `names` may be applied to the copy. It has no change log, no subscribers
        and no durable log (a model checker's branch, not a second server)."""
        wanted = {canonical_name(n) for n in names}
        store = ZoneStore()
        for origin, zone in self.zones.items():
            clone = Zone.__new__(Zone)
            clone.origin = origin
            nodes = dict(zone.nodes)
            for name in (wanted & nodes.keys()) | {origin}:
                nodes[name] = dict(nodes[name])
            clone.nodes = nodes
            store.zones[origin] = clone
        return store

    def add_zone(self, zone: Zone) -> None:
        if zone.origin in self.zones:
            raise ValueError(f"zone {zone.origin} is already served")
        self.zones[zone.origin] = zone

    def subscribe(self, callback: Callable[[CommittedUpdate], None]) -> Callable[[], None]:
        """Call `callback` after each committed update; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def set_durable_log(self, write: Callable[[CommittedUpdate], None] | None) -> None:
        """Make every commit durable before it takes effect (rule 4): `write` is called with
        each update about to commit and returns once it is on stable storage, or raises
        `OSError`, and then the update does not commit (SERVFAIL). One per store; None
        removes it."""
        if write is not None and self._durable_log is not None:
            raise ValueError("this store already has a durable log")
        self._durable_log = write

    def find_zone(self, name: str) -> Zone | None:
        """The zone with the longest origin that contains `name` (canonical), or None."""
        best: Zone | None = None
        for origin, zone in self.zones.items():
            if _in_zone(name, origin) and (best is None or len(origin) > len(best.origin)):
                best = zone
        return best

    def lookup(self, qname: str, qtype: str) -> LookupResult:
        """Answer a question; REFUSED (not authoritative) for names outside every zone."""
        zone = self.find_zone(qname)
        if zone is None:
            return LookupResult(Rcode.REFUSED, authoritative=False)
        return zone.lookup(qname, qtype)

    # -- RFC 2136 ----------------------------------------------------------------------------

    def apply(self, update: Update, key_name: str | None = None) -> UpdateResult:
        """Check and apply one UPDATE all-or-nothing, in one synchronous step.

        `key_name` is the TSIG key that signed it (authentication is the server's job; the
        engine only records who made each change).
        """
        zone = self.zones.get(update.zone)
        serial = zone.serial if zone else 0
        if update.formerr:
            return UpdateResult(Rcode.FORMERR, serial, update.formerr)
        if zone is None:
            # §3.1.2: a zone we are not authoritative for.
            return UpdateResult(Rcode.NOTAUTH, 0, f"not authoritative for zone {update.zone}")
        failure = self._check_prerequisites(zone, update) or self._prescan(zone, update)
        if failure:
            rcode, reason = failure
            log.debug("update of %s refused: %s %s", zone.origin, rcode.name, reason)
            return UpdateResult(rcode, serial, reason)
        nodes, changed = self._commit(zone, update.changes)
        if not changed:
            return UpdateResult(Rcode.NOERROR, serial)
        committed = CommittedUpdate(zone.origin, _serial_of(nodes[zone.origin]), key_name,
                                    tuple(changed))
        if self._durable_log is not None:
            try:
                self._durable_log(committed)
            except OSError as exc:  # rule 4: not durable, so not committed
                return UpdateResult(Rcode.SERVFAIL, serial,
                                    f"not committed: {exc.strerror or exc}")
        zone.nodes.update(nodes)
        for name in {change.name for change in changed} - nodes.keys():
            zone.nodes.pop(name, None)
        self.change_log.append(committed)
        for callback in list(self._subscribers):
            callback(committed)
        return UpdateResult(Rcode.NOERROR, committed.serial, committed=committed)

    @staticmethod
    def _check_prerequisites(zone: Zone, update: Update) -> tuple[Rcode, str] | None:
        """RFC 2136 §3.2.5, in its order: every prerequisite is checked for zone membership and
        the value-independent ones are evaluated in message order; only then are the
        value-dependent ones compared, each as a whole RRset (§3.2.3: "temp<rr.name, rr.type>
        += rr", then "if (zone_rrset<rrset.name, rrset.type> != rrset) return (NXRRSET)")."""
        expected: dict[tuple[str, str], frozenset[str]] = {}
        for pre in update.prerequisites:
            if not _in_zone(pre.name, zone.origin):
                return Rcode.NOTZONE, f"prerequisite name {pre.name} is outside {zone.origin}"
            node = zone.nodes.get(pre.name)
            if pre.kind is PrereqKind.NAME_IN_USE:
                if not node:
                    return Rcode.NXDOMAIN, f"name {pre.name} is not in use"
            elif pre.kind is PrereqKind.NAME_NOT_IN_USE:
                if node:
                    return Rcode.YXDOMAIN, f"name {pre.name} is in use"
            elif pre.kind is PrereqKind.RRSET_EXISTS:
                if not node or pre.rtype not in node:
                    return Rcode.NXRRSET, f"no {pre.rtype} RRset at {pre.name}"
            elif pre.kind is PrereqKind.RRSET_DOES_NOT_EXIST:
                if node and pre.rtype in node:
                    return Rcode.YXRRSET, f"a {pre.rtype} RRset exists at {pre.name}"
            elif pre.kind is PrereqKind.RRSET_EXISTS_VALUE:
                assert pre.rtype is not None
                key = (pre.name, pre.rtype)
                expected[key] = expected.get(key, frozenset()) | pre.rdatas
        for (name, rtype), rdatas in expected.items():
            node = zone.nodes.get(name)
            have = frozenset(node[rtype][1]) if node and rtype in node else frozenset()
            if have != rdatas:
                return (Rcode.NXRRSET,
                        f"{rtype} RRset at {name} is {sorted(have)}, expected {sorted(rdatas)}")
        return None

    @staticmethod
    def _prescan(zone: Zone, update: Update) -> tuple[Rcode, str] | None:
        """RFC 2136 §3.4.1: every change must be inside the zone and well-formed."""
        for change in update.changes:
            if not _in_zone(change.name, zone.origin):
                return Rcode.NOTZONE, f"update name {change.name} is outside {zone.origin}"
            if change.kind is ChangeKind.ADD and change.rtype in _META_TYPES:
                return Rcode.FORMERR, f"cannot add a record of meta-type {change.rtype}"
            if change.kind is ChangeKind.DELETE_RRSET and change.rtype in _META_TYPES - {"ANY"}:
                return Rcode.FORMERR, f"cannot delete meta-type {change.rtype}"
            if change.kind is ChangeKind.DELETE_RR and change.rtype in _META_TYPES:
                # §3.4.1.2: class NONE with type ANY is a format error.
                return Rcode.FORMERR, f"cannot delete one RR of meta-type {change.rtype}"
        return None

    @staticmethod
    def _commit(zone: Zone, changes: tuple[Change, ...]) -> tuple[dict[str, RRsetMap],
                                                                    list[Change]]:
        """RFC 2136 §3.4.2 on copies (rule 2): returns the nodes of the names the update
        touches as they are after it, the apex always among them (a name missing from them
        has no records left), and the changes that actually changed the zone. The zone itself
        is not touched (rule 4): `apply` installs the copies.

        An update whose changes cancel out (add X, then delete X) leaves the zone as it was:
        it is then no change at all (no serial bump, no change-log entry).
        """
        apex = zone.origin
        # Shallow copies suffice: the engine replaces RRset tuples, never mutates them.
        nodes = {name: dict(zone.nodes[name]) for name in {ch.name for ch in changes} | {apex}
                 if name in zone.nodes}
        done: list[Change] = []
        for ch in changes:
            node = nodes.get(ch.name)
            if ch.kind is ChangeKind.ADD:
                assert ch.rtype is not None and ch.rdata is not None
                if node and ch.rtype != "CNAME" and "CNAME" in node:
                    continue  # §3.4.2.2: a CNAME name takes no other data
                if node and ch.rtype == "CNAME" and any(t != "CNAME" for t in node):
                    continue
                if ch.rtype == "SOA":
                    if ch.name != apex:
                        continue
                    new_serial = int(ch.rdata.split()[2])
                    if not _serial_gt(new_serial, _serial_of(nodes[apex])):
                        continue  # §3.4.2.2: ignored unless greater (RFC 1982 arithmetic)
                    node = nodes[apex]
                    node["SOA"] = (ch.ttl, (ch.rdata,))
                    done.append(ch)
                    continue
                node = nodes.setdefault(ch.name, {})
                if ch.rtype == "CNAME" and "CNAME" in node:
                    # §3.4.2.2: a CNAME replaces the existing CNAME (one per name).
                    if node["CNAME"] == (ch.ttl, (ch.rdata,)):
                        continue
                    node["CNAME"] = (ch.ttl, (ch.rdata,))
                    done.append(ch)
                    continue
                ttl, rdatas = node.get(ch.rtype, (ch.ttl, ()))
                present = ch.rdata in rdatas  # one scan of the RRset (rule 5)
                if present and ttl == ch.ttl:
                    continue
                if not present:
                    rdatas = (*rdatas, ch.rdata)
                node[ch.rtype] = (ch.ttl, rdatas)
                done.append(ch)
            elif ch.kind is ChangeKind.DELETE_RRSET:
                assert ch.rtype is not None
                if not node or (ch.name == apex and ch.rtype in ("SOA", "NS")):
                    continue  # §3.4.2.3: apex SOA and NS RRsets are never deleted this way
                if ch.rtype == "ANY":
                    ZoneStore._delete_name(nodes, ch.name, apex, done, ch)
                    continue
                if ch.rtype in node:
                    del node[ch.rtype]
                    if not node:
                        del nodes[ch.name]
                    done.append(ch)
            elif ch.kind is ChangeKind.DELETE_NAME:
                ZoneStore._delete_name(nodes, ch.name, apex, done, ch)
            elif ch.kind is ChangeKind.DELETE_RR:
                assert ch.rtype is not None and ch.rdata is not None
                if not node or ch.rtype not in node:
                    continue
                if ch.name == apex and ch.rtype == "SOA":
                    continue  # §3.4.2.4: the SOA is never deleted
                ttl, rdatas = node[ch.rtype]
                if ch.rdata not in rdatas:
                    continue
                if ch.name == apex and ch.rtype == "NS" and len(rdatas) == 1:
                    continue  # §3.4.2.4: never delete the last apex NS
                rest = tuple(r for r in rdatas if r != ch.rdata)
                if rest:
                    node[ch.rtype] = (ttl, rest)
                else:
                    del node[ch.rtype]
                    if not node:
                        del nodes[ch.name]
                done.append(ch)
        if done and _same_content(zone.nodes, nodes, {ch.name for ch in changes}):
            return {}, []
        if done and not any(c.rtype == "SOA" and c.kind is ChangeKind.ADD for c in done):
            ttl, (rdata,) = nodes[apex]["SOA"]
            fields = rdata.split()
            fields[2] = str((int(fields[2]) + 1) % 2**32)  # RFC 1982 serial arithmetic
            nodes[apex]["SOA"] = (ttl, (" ".join(fields),))
        return nodes, done

    @staticmethod
    def _delete_name(nodes: dict[str, RRsetMap], name: str, apex: str,
                     done: list[Change], ch: Change) -> None:
        node = nodes.get(name)
        if not node:
            return
        if name == apex:
            # §3.4.2.3: at the apex, everything but the SOA and NS RRsets goes.
            doomed = [t for t in node if t not in ("SOA", "NS")]
            if not doomed:
                return
            for t in doomed:
                del node[t]
        else:
            del nodes[name]
        done.append(ch)
