"""A small, fast DNS wire codec for the hot paths: RFC 2136 UPDATE messages and answers.

Why hand-written: the reproducer sends thousands of TSIG-signed UPDATEs a second, and dnspython
builds, signs and parses each an order of magnitude slower than this codec (measured in
docs/benchmarks.md, `python -m fake_dns.bench --codec`); dnslib cannot parse most UPDATEs at
all (RDLENGTH 0 records, paulc/dnslib#76). This module does only what those paths need, over
plain bytes, with no I/O. dnspython stays the reference: the tests parse the same random
messages with both.

Rdata is converted between canonical presentation text (`_records.canonical_rdata`) and wire
form through dnspython, cached: a run uses few distinct rdata values, so the cost is paid once.

Names are never compressed on output (RFC 1035 §4.1.4 makes compression optional); on input,
compression pointers are followed only backwards, so a malicious pointer loop cannot hang us.
"""

from __future__ import annotations

import socket
import struct
from functools import lru_cache
from typing import NamedTuple

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rcode import Rcode

from fake_dns._records import (
    RR,
    Change,
    ChangeKind,
    PrereqKind,
    Prerequisite,
    Update,
    canonical_name,
)
from fake_dns._zone import LookupResult

__all__ = [
    "CLASS_ANY",
    "CLASS_IN",
    "CLASS_NONE",
    "OPCODE_QUERY",
    "OPCODE_UPDATE",
    "TYPE_OPT",
    "TYPE_TSIG",
    "Header",
    "ParsedMessage",
    "RawRR",
    "WireError",
    "decode_lookup_result",
    "decode_name",
    "encode_name",
    "encode_update",
    "parse_header",
    "parse_message",
    "rdata_from_wire",
    "rdata_to_wire",
    "type_code",
    "type_text",
    "update_from_message",
    "update_from_wire",
]

OPCODE_QUERY = 0
OPCODE_UPDATE = 5
CLASS_IN = 1
CLASS_NONE = 254  # RFC 2136 §1.3
CLASS_ANY = 255
TYPE_SOA = 6
TYPE_OPT = 41
TYPE_TSIG = 250
TYPE_ANY = 255
# RFC 2136 §3.4.1.2: meta-types that may never appear as the type of an update RR.
_NOT_IN_UPDATES = frozenset({252, 253, 254})  # AXFR, MAILB, MAILA
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_MAX_POINTER_HOPS = 64

# Label bytes that dnspython prints unescaped (its `_escaped` set and non-printables aside):
# a label made only of these decodes with a plain ascii decode.
_PLAIN_LABEL_BYTES = bytes(
    b for b in range(0x21, 0x7F) if b not in b'"().;\\@$'
)


class WireError(ValueError):
    """The peer sent bytes that are not a well-formed DNS message (answer FORMERR or drop)."""


class Header(NamedTuple):
    id: int
    flags: int
    qdcount: int
    ancount: int
    nscount: int
    arcount: int

    @property
    def qr(self) -> bool:
        return bool(self.flags & 0x8000)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def rcode(self) -> int:
        return self.flags & 0xF


class RawRR(NamedTuple):
    """One resource record as it sits on the wire: rdata stays bytes, located in `wire`."""

    name: str
    rtype: int
    rclass: int
    ttl: int
    rdata_offset: int
    rdlength: int
    start: int  # where the RR begins in the message (TSIG needs to cut there)


class ParsedMessage(NamedTuple):
    wire: bytes
    header: Header
    questions: tuple[tuple[str, int, int], ...]  # (name, type, class)
    question_end: int  # offset just after the question (zone) section
    sections: tuple[tuple[RawRR, ...], tuple[RawRR, ...], tuple[RawRR, ...]]

    def rdata(self, rr: RawRR) -> bytes:
        return self.wire[rr.rdata_offset:rr.rdata_offset + rr.rdlength]


def parse_header(wire: bytes) -> Header:
    if len(wire) < 12:
        raise WireError(f"message of {len(wire)} bytes is shorter than a DNS header (12)")
    return Header(*_HEADER.unpack_from(wire))


# -- names -----------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def encode_name(name: str) -> bytes:
    """Uncompressed wire form of an absolute name, lower-cased (TSIG's canonical form too)."""
    wire = dns.name.from_text(name).canonicalize().to_wire()
    assert wire is not None  # to_wire() without a file returns the bytes
    return wire


def decode_name(wire: bytes, offset: int) -> tuple[str, int]:
    """Decode the name at `offset`; return (canonical text, offset just after it).

    Follows compression pointers (RFC 1035 §4.1.4), only to earlier offsets.
    """
    # Fast path: an uncompressed name, converted once per distinct byte string.
    pos = offset
    n = len(wire)
    while pos < n:
        length = wire[pos]
        if length == 0:
            return _uncompressed_name(wire[offset:pos + 1]), pos + 1
        if length & 0xC0:
            break
        pos += length + 1
    return _decode_name_slow(wire, offset)


@lru_cache(maxsize=65536)
def _uncompressed_name(raw: bytes) -> str:
    return _decode_name_slow(raw, 0)[0]


def _decode_name_slow(wire: bytes, offset: int) -> tuple[str, int]:
    labels: list[bytes] = []
    end = -1
    pos = offset
    hops = 0
    total = 1
    while True:
        if pos >= len(wire):
            raise WireError(f"name at offset {offset} runs past the end of the message")
        length = wire[pos]
        if length == 0:
            pos += 1
            break
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(wire):
                raise WireError(f"truncated compression pointer at offset {pos}")
            target = ((length & 0x3F) << 8) | wire[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= pos or hops >= _MAX_POINTER_HOPS:
                raise WireError(f"compression pointer at {pos} does not point backwards")
            hops += 1
            pos = target
            continue
        if length & 0xC0:
            raise WireError(f"unsupported label type {length:#x} at offset {pos}")
        label = wire[pos + 1:pos + 1 + length]
        if len(label) != length:
            raise WireError(f"label at offset {pos} runs past the end of the message")
        total += length + 1
        if total > 255:
            raise WireError(f"name at offset {offset} is longer than 255 bytes (RFC 1035 §2.3.4)")
        labels.append(label)
        pos += 1 + length
    return _name_text(tuple(labels)), (end if end >= 0 else pos)


@lru_cache(maxsize=65536)
def _name_text(labels: tuple[bytes, ...]) -> str:
    if not labels:
        return "."
    if all(not label.translate(None, _PLAIN_LABEL_BYTES) for label in labels):
        return (b".".join(labels).decode("ascii") + ".").lower()
    return dns.name.Name((*labels, b"")).to_text().lower()


# -- types and rdata -------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def type_code(rtype: str) -> int:
    return int(dns.rdatatype.from_text(rtype))


@lru_cache(maxsize=1024)
def type_text(code: int) -> str:
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(code))


@lru_cache(maxsize=65536)
def rdata_to_wire(rtype: str, rdata: str) -> bytes:
    """Uncompressed wire form of canonical rdata text (RFC 3597 §4: no compression in UPDATE)."""
    if rtype == "A":
        return socket.inet_aton(rdata)  # canonical A text is a plain dotted quad
    rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), rdata,
                             origin=dns.name.root, relativize=False)
    wire = rd.to_wire()
    assert wire is not None
    return wire


# Types whose rdata may hold compressed names (RFC 3597 §4: the RFC 1035 types only).
_COMPRESSIBLE = frozenset({2, 3, 4, 5, 6, 7, 8, 9, 12, 14, 15})
_SINGLE_NAME = frozenset({2, 5, 12})  # NS, CNAME, PTR
_LOWER_TYPES = frozenset({"CNAME", "NS", "PTR", "DNAME", "MX", "SRV", "SOA"})


def rdata_from_wire(rtype: int, wire: bytes, offset: int, rdlength: int) -> str:
    """Canonical presentation text (as `canonical_rdata` gives) of the rdata at `offset`."""
    if rdlength == 0:
        raise WireError(f"empty rdata for a {type_text(rtype)} record")
    if rtype in _SINGLE_NAME:
        name, end = decode_name(wire, offset)
        if end != offset + rdlength:
            raise WireError(f"{type_text(rtype)} rdata length {rdlength} does not match its name")
        return name
    if rtype in _COMPRESSIBLE:
        return _rdata_via_dnspython(rtype, wire, offset, rdlength)
    return _rdata_cached(rtype, wire[offset:offset + rdlength])


@lru_cache(maxsize=65536)
def _rdata_cached(rtype: int, rdata: bytes) -> str:
    return _rdata_via_dnspython(rtype, rdata, 0, len(rdata))


def _rdata_via_dnspython(rtype: int, wire: bytes, offset: int, rdlength: int) -> str:
    if offset + rdlength > len(wire):
        raise WireError("rdata runs past the end of the message")
    try:
        rd = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RdataType.make(rtype), wire,
                                 offset, rdlength)
        text = rd.to_text()
    except (dns.exception.DNSException, ValueError, IndexError, struct.error) as exc:
        raise WireError(f"malformed {type_text(rtype)} rdata: {exc}") from None
    return text.lower() if type_text(rtype) in _LOWER_TYPES else text


# -- whole messages --------------------------------------------------------------------------


def parse_message(wire: bytes) -> ParsedMessage:
    """Split a message into header, questions and three RR sections (rdata left as bytes)."""
    header = parse_header(wire)
    pos = 12
    questions: list[tuple[str, int, int]] = []
    n = len(wire)
    for _ in range(header.qdcount):
        name, pos = decode_name(wire, pos)
        if pos + 4 > n:
            raise WireError("question runs past the end of the message")
        qtype, qclass = struct.unpack_from("!HH", wire, pos)
        pos += 4
        questions.append((name, qtype, qclass))
    question_end = pos
    sections: list[tuple[RawRR, ...]] = []
    for count in (header.ancount, header.nscount, header.arcount):
        rrs: list[RawRR] = []
        for _ in range(count):
            start = pos
            name, pos = decode_name(wire, pos)
            if pos + 10 > n:
                raise WireError("resource record runs past the end of the message")
            rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(wire, pos)
            pos += 10
            if pos + rdlength > n:
                raise WireError(f"rdata of {name} runs past the end of the message")
            rrs.append(RawRR(name, rtype, rclass, ttl, pos, rdlength, start))
            pos += rdlength
        sections.append(tuple(rrs))
    if pos != n:
        raise WireError(f"{n - pos} bytes of trailing garbage after the message")
    return ParsedMessage(wire, header, tuple(questions), question_end,
                         (sections[0], sections[1], sections[2]))


def update_from_message(msg: ParsedMessage) -> Update:
    """Translate a parsed UPDATE into the engine's `Update` value (RFC 2136 §2, §3.1–3.4.1).

    Wire-level faults that RFC 2136 answers with FORMERR are recorded in `Update.formerr`, so
    the engine decides every rcode in one place. The additional section (TSIG, OPT) is ignored
    here; authentication is the server's job.
    """
    # §3.1.1: exactly one zone RR, of type SOA.
    if len(msg.questions) != 1:
        return Update(zone=".", formerr=f"ZOCOUNT is {len(msg.questions)}, must be 1")
    zone, ztype, zclass = msg.questions[0]
    if ztype != TYPE_SOA:
        return Update(zone=zone, formerr=f"zone type is {type_text(ztype)}, must be SOA")
    if zclass != CLASS_IN:
        return Update(zone=zone, formerr=f"zone class {zclass} is not IN, the only one served")
    prereq_rrs, update_rrs, _ = msg.sections
    try:
        prerequisites = _prerequisites(msg, prereq_rrs)
        changes = tuple(_change(msg, rr) for rr in update_rrs)
    except WireError as exc:
        return Update(zone=zone, formerr=str(exc))
    return Update(zone, prerequisites, changes)


def update_from_wire(wire: bytes) -> Update:
    """An UPDATE message as the engine's `Update` value (for a message built by another library,
    e.g. dnspython's `UpdateMessage.to_wire()`). Raises `WireError` (a ValueError) when the
    bytes are not a DNS message; RFC 2136 faults are kept in `Update.formerr`."""
    return update_from_message(parse_message(wire))


def _prerequisites(msg: ParsedMessage, rrs: tuple[RawRR, ...]) -> tuple[Prerequisite, ...]:
    """RFC 2136 §3.2: classify each prerequisite RR; value-dependent ones are gathered into
    whole RRsets (§3.2.3: "temp<rr.name, rr.type> += rr")."""
    out: list[Prerequisite] = []
    values: dict[tuple[str, str], set[str]] = {}
    for rr in rrs:
        if rr.ttl != 0:
            raise WireError(f"prerequisite {rr.name} has TTL {rr.ttl}, must be 0 (§3.2.1)")
        if rr.rclass in (CLASS_ANY, CLASS_NONE):
            if rr.rdlength != 0:
                raise WireError(f"prerequisite {rr.name} of class {rr.rclass} has rdata (§3.2.1)")
            exists = rr.rclass == CLASS_ANY
            if rr.rtype == TYPE_ANY:
                kind = PrereqKind.NAME_IN_USE if exists else PrereqKind.NAME_NOT_IN_USE
                out.append(Prerequisite(kind, rr.name))
            else:
                kind = PrereqKind.RRSET_EXISTS if exists else PrereqKind.RRSET_DOES_NOT_EXIST
                out.append(Prerequisite(kind, rr.name, type_text(rr.rtype)))
        elif rr.rclass == CLASS_IN:
            if rr.rtype in _NOT_IN_UPDATES or rr.rtype in (TYPE_ANY, TYPE_OPT, TYPE_TSIG):
                raise WireError(f"value-dependent prerequisite of meta-type {type_text(rr.rtype)}")
            text = rdata_from_wire(rr.rtype, msg.wire, rr.rdata_offset, rr.rdlength)
            values.setdefault((rr.name, type_text(rr.rtype)), set()).add(text)
        else:
            raise WireError(f"prerequisite {rr.name} has class {rr.rclass} (§3.2.4)")
    for (name, rtype), rdatas in values.items():
        out.append(Prerequisite(PrereqKind.RRSET_EXISTS_VALUE, name, rtype, frozenset(rdatas)))
    return tuple(out)


def _change(msg: ParsedMessage, rr: RawRR) -> Change:
    """RFC 2136 §3.4.1.2 (prescan of one update RR) and §2.5 (which of the four kinds)."""
    if rr.rtype in _NOT_IN_UPDATES:
        raise WireError(f"update RR {rr.name} has meta-type {type_text(rr.rtype)} (§3.4.1.2)")
    rtype = type_text(rr.rtype)
    if rr.rclass == CLASS_IN:
        if rr.rtype in (TYPE_ANY, TYPE_OPT, TYPE_TSIG):
            raise WireError(f"cannot add a record of meta-type {rtype} (§3.4.1.2)")
        if rr.ttl > 0x7FFFFFFF:
            raise WireError(f"TTL {rr.ttl} of {rr.name} out of range (RFC 2181 §8)")
        text = rdata_from_wire(rr.rtype, msg.wire, rr.rdata_offset, rr.rdlength)
        return Change(ChangeKind.ADD, rr.name, rtype, rr.ttl, text)
    if rr.rclass == CLASS_ANY:
        if rr.ttl != 0 or rr.rdlength != 0:
            raise WireError(f"delete of {rr.name} with class ANY needs TTL 0 and no rdata")
        if rr.rtype == TYPE_ANY:
            return Change(ChangeKind.DELETE_NAME, rr.name)
        return Change(ChangeKind.DELETE_RRSET, rr.name, rtype)
    if rr.rclass == CLASS_NONE:
        if rr.ttl != 0 or rr.rtype == TYPE_ANY:
            raise WireError(f"delete of an RR of {rr.name} needs TTL 0 and a real type")
        text = rdata_from_wire(rr.rtype, msg.wire, rr.rdata_offset, rr.rdlength)
        return Change(ChangeKind.DELETE_RR, rr.name, rtype, 0, text)
    raise WireError(f"update RR {rr.name} has class {rr.rclass} (§3.4.1.2)")


def _rr_wire(name: str, rtype: int, rclass: int, ttl: int, rdata: bytes) -> bytes:
    return encode_name(name) + _RR_FIXED.pack(rtype, rclass, ttl, len(rdata)) + rdata


def encode_update(msg_id: int, update: Update) -> bytes:
    """Wire form of `update` (RFC 2136 §2), unsigned (ARCOUNT 0; `_tsig.sign` appends TSIG)."""
    parts: list[bytes] = []
    for pre in update.prerequisites:
        if pre.kind is PrereqKind.RRSET_EXISTS_VALUE:
            assert pre.rtype is not None
            code = type_code(pre.rtype)
            for rdata in sorted(pre.rdatas):
                parts.append(_rr_wire(pre.name, code, CLASS_IN, 0, rdata_to_wire(pre.rtype, rdata)))
            continue
        rclass = CLASS_ANY if pre.kind in (PrereqKind.RRSET_EXISTS,
                                          PrereqKind.NAME_IN_USE) else CLASS_NONE
        code = type_code(pre.rtype) if pre.rtype else TYPE_ANY
        parts.append(_rr_wire(pre.name, code, rclass, 0, b""))
    prcount = len(parts)
    for ch in update.changes:
        if ch.kind is ChangeKind.ADD:
            assert ch.rtype is not None and ch.rdata is not None
            parts.append(_rr_wire(ch.name, type_code(ch.rtype), CLASS_IN, ch.ttl,
                                  rdata_to_wire(ch.rtype, ch.rdata)))
        elif ch.kind is ChangeKind.DELETE_RR:
            assert ch.rtype is not None and ch.rdata is not None
            parts.append(_rr_wire(ch.name, type_code(ch.rtype), CLASS_NONE, 0,
                                  rdata_to_wire(ch.rtype, ch.rdata)))
        else:
            code = TYPE_ANY if ch.kind is ChangeKind.DELETE_NAME else type_code(ch.rtype or "ANY")
            parts.append(_rr_wire(ch.name, code, CLASS_ANY, 0, b""))
    header = _HEADER.pack(msg_id, OPCODE_UPDATE << 11, 1, prcount, len(parts) - prcount, 0)
    zone = encode_name(update.zone) + struct.pack("!HH", TYPE_SOA, CLASS_IN)
    return header + zone + b"".join(parts)


def decode_lookup_result(msg: ParsedMessage) -> LookupResult:
    """The engine's view of a query response: rcode, answer and authority in canonical form."""
    rcode = msg.header.rcode
    for rr in msg.sections[2]:
        if rr.rtype == TYPE_OPT:  # RFC 6891 §6.1.3: the upper 8 bits of the extended rcode
            rcode |= (rr.ttl >> 24) << 4
    return LookupResult(
        Rcode(rcode),
        _canonical_rrs(msg, msg.sections[0]),
        _canonical_rrs(msg, msg.sections[1]),
        authoritative=bool(msg.header.flags & 0x0400),
    )


def _canonical_rrs(msg: ParsedMessage, rrs: tuple[RawRR, ...]) -> tuple[RR, ...]:
    return tuple(
        RR(canonical_name(rr.name), type_text(rr.rtype), rr.ttl,
           rdata_from_wire(rr.rtype, msg.wire, rr.rdata_offset, rr.rdlength))
        for rr in rrs
    )
