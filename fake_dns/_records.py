"""Value objects for DNS data: names, resource records, prerequisites and changes.

Everything here is plain, frozen and synchronous: no sockets, no wire format. The zone engine
(`_zone.py`) works over these values; the server (`_server.py`) translates the wire to and from
them, and the reproducer's in-process transport hands them to the engine directly. That is what
lets one enactor's code run over a real socket and over an in-process transport unchanged.

Canonical forms (so that value-dependent prerequisites of RFC 2136 §2.4.2 compare correctly):
- names are absolute, lower-case, with the trailing dot (RFC 1035 §2.3.3: names compare without
  regard to case);
- rdata is dnspython's presentation text of the rdata with any domain names lower-cased
  (`canonical_rdata`), so "2001:DB8:0::1" and "2001:db8::1" or "Foo.Example." and "foo.example."
  are the same value.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import lru_cache

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

__all__ = [
    "RR",
    "Change",
    "ChangeKind",
    "PrereqKind",
    "Prerequisite",
    "Update",
    "canonical_name",
    "canonical_rdata",
]

# Types whose rdata holds domain names that must be compared case-insensitively.
_NAME_RDATA_TYPES = frozenset({"CNAME", "NS", "PTR", "DNAME", "MX", "SRV", "SOA"})


@lru_cache(maxsize=65536)
def canonical_name(name: str) -> str:
    """Return `name` absolute and lower-case: 'WWW.Example.com' -> 'www.example.com.'.

    Raises ValueError with the offending name when it is not a valid domain name.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"invalid domain name {name!r}: expected a non-empty string")
    try:
        parsed = dns.name.from_text(name)
    except dns.exception.DNSException as exc:
        raise ValueError(f"invalid domain name {name!r}: {exc}") from None
    return parsed.to_text().lower()


# An IPv4 address already in canonical dotted-quad form (no leading zeros, each octet <= 255).
_CANONICAL_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                             r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")


@lru_cache(maxsize=65536)
def canonical_rdata(rtype: str, text: str) -> str:
    """Return the canonical presentation text of one rdata of type `rtype`.

    Raises ValueError naming the type and the text when the rdata does not parse.
    """
    if rtype == "A" and _CANONICAL_IPV4.fullmatch(text):
        return text  # the hot case, already canonical: skip dnspython's tokenizer
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text,
                                    origin=dns.name.root, relativize=False)
    except (dns.exception.DNSException, ValueError) as exc:
        raise ValueError(f"invalid {rtype} rdata {text!r}: {exc}") from None
    out = rdata.to_text()
    return out.lower() if rtype in _NAME_RDATA_TYPES else out


def _check_type(rtype: str) -> str:
    upper = rtype.upper()
    try:
        dns.rdatatype.from_text(upper)
    except dns.rdatatype.UnknownRdatatype:
        raise ValueError(f"unknown record type {rtype!r}") from None
    return upper


@dataclass(frozen=True, slots=True)
class RR:
    """One resource record of class IN, in canonical form.

    Build with `RR.make(...)` to canonicalise user input; the plain constructor trusts its
    arguments (the engine and the wire codec only ever pass canonical values).
    """

    name: str
    rtype: str
    ttl: int
    rdata: str

    @classmethod
    def make(cls, name: str, rtype: str, ttl: int, rdata: str) -> RR:
        rtype = _check_type(rtype)
        if not 0 <= ttl <= 0x7FFFFFFF:
            raise ValueError(f"TTL {ttl} out of range: RFC 2181 §8 allows 0..2147483647")
        return cls(canonical_name(name), rtype, ttl, canonical_rdata(rtype, rdata))

    def to_text(self) -> str:
        return f"{self.name} {self.ttl} IN {self.rtype} {self.rdata}"


class PrereqKind(enum.Enum):
    """The five prerequisite kinds of RFC 2136 §2.4, with the rcode each fails with."""

    RRSET_EXISTS = "rrset-exists"  # §2.4.1, class ANY, type T      -> NXRRSET
    RRSET_EXISTS_VALUE = "rrset-exists-value"  # §2.4.2, class IN -> NXRRSET
    RRSET_DOES_NOT_EXIST = "rrset-does-not-exist"  # §2.4.3, class NONE -> YXRRSET
    NAME_IN_USE = "name-in-use"  # §2.4.4, class ANY, type ANY      -> NXDOMAIN
    NAME_NOT_IN_USE = "name-not-in-use"  # §2.4.5, class NONE, type ANY -> YXDOMAIN


@dataclass(frozen=True, slots=True)
class Prerequisite:
    """One prerequisite. For RRSET_EXISTS_VALUE, `rdatas` is the whole RRset expected (§3.2.3:
    the RRset must match exactly, as a set); for the others it is empty."""

    kind: PrereqKind
    name: str
    rtype: str | None = None
    rdatas: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def rrset_exists(cls, name: str, rtype: str) -> Prerequisite:
        return cls(PrereqKind.RRSET_EXISTS, canonical_name(name), _check_type(rtype))

    @classmethod
    def rrset_equals(cls, name: str, rtype: str,
                     rdatas: list[str] | tuple[str, ...]) -> Prerequisite:
        """The compare-and-set prerequisite: the RRset is exactly `rdatas`."""
        rtype = _check_type(rtype)
        if not rdatas:
            raise ValueError("a value-dependent prerequisite needs at least one rdata; "
                             "use rrset_absent() to require that the RRset does not exist")
        return cls(PrereqKind.RRSET_EXISTS_VALUE, canonical_name(name), rtype,
                   frozenset(canonical_rdata(rtype, r) for r in rdatas))

    @classmethod
    def rrset_absent(cls, name: str, rtype: str) -> Prerequisite:
        return cls(PrereqKind.RRSET_DOES_NOT_EXIST, canonical_name(name), _check_type(rtype))

    @classmethod
    def name_in_use(cls, name: str) -> Prerequisite:
        return cls(PrereqKind.NAME_IN_USE, canonical_name(name))

    @classmethod
    def name_not_in_use(cls, name: str) -> Prerequisite:
        return cls(PrereqKind.NAME_NOT_IN_USE, canonical_name(name))


class ChangeKind(enum.Enum):
    """The four update kinds of RFC 2136 §2.5."""

    ADD = "add"  # §2.5.1 add RRs to an RRset (class IN)
    DELETE_RRSET = "delete-rrset"  # §2.5.2 (class ANY, type T)
    DELETE_NAME = "delete-name"  # §2.5.3 delete all RRsets from a name (class ANY, type ANY)
    DELETE_RR = "delete-rr"  # §2.5.4 delete an RR from an RRset (class NONE)


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    name: str
    rtype: str | None = None
    ttl: int = 0
    rdata: str | None = None

    def to_text(self) -> str:
        """'add www.example. A 127.0.0.1', 'delete-rrset lock.example. TXT' (logs, reports)."""
        return " ".join(p for p in (self.kind.value, self.name, self.rtype, self.rdata) if p)

    @classmethod
    def add(cls, name: str, rtype: str, ttl: int, rdata: str) -> Change:
        rr = RR.make(name, rtype, ttl, rdata)
        return cls(ChangeKind.ADD, rr.name, rr.rtype, rr.ttl, rr.rdata)

    @classmethod
    def delete_rrset(cls, name: str, rtype: str) -> Change:
        return cls(ChangeKind.DELETE_RRSET, canonical_name(name), _check_type(rtype))

    @classmethod
    def delete_name(cls, name: str) -> Change:
        return cls(ChangeKind.DELETE_NAME, canonical_name(name))

    @classmethod
    def delete_rr(cls, name: str, rtype: str, rdata: str) -> Change:
        rtype = _check_type(rtype)
        return cls(ChangeKind.DELETE_RR, canonical_name(name), rtype,
                   0, canonical_rdata(rtype, rdata))


@dataclass(frozen=True, slots=True)
class Update:
    """One RFC 2136 UPDATE message as a value: zone, prerequisites, changes.

    `formerr` carries a reason when the wire message was malformed in a way RFC 2136 §3.1–3.4.1
    answers with FORMERR (the codec records it instead of raising, so that the engine, not the
    codec, decides the rcode in one place).
    """

    zone: str
    prerequisites: tuple[Prerequisite, ...] = ()
    changes: tuple[Change, ...] = ()
    formerr: str | None = None

    def describe(self) -> str:
        """The update in words, in a canonical order of nothing but its content (the same
        update always reads the same): 'example.: if a.example. A = 10.0.0.1; delete-rrset
        a.example. A; add a.example. A 10.0.0.2 ttl 60'."""
        parts = []
        for p in self.prerequisites:
            values = " ".join(sorted(p.rdatas))
            parts.append(" ".join(x for x in ("if", p.kind.value, p.name, p.rtype, values) if x))
        for c in self.changes:
            parts.append(c.to_text() + (f" ttl {c.ttl}" if c.kind is ChangeKind.ADD else ""))
        if self.formerr is not None:
            parts.append(f"malformed: {self.formerr}")
        return f"{self.zone}: " + "; ".join(parts) if parts else f"{self.zone}: nothing"
