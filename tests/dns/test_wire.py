"""Our UPDATE codec and TSIG against dnspython, the reference, on random updates.

Both directions: what we encode, dnspython parses (and verifies the signature) to the same
update; what dnspython builds and signs, we parse (and verify) to the same update. Order inside
a section is compared as a multiset, because dnspython merges the RRs of one RRset on parsing.
"""

from __future__ import annotations

import base64
import struct
import time

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_dns import (
    RR,
    Change,
    ChangeKind,
    DnsRequest,
    PrereqKind,
    Prerequisite,
    Update,
    Zone,
    ZoneStore,
    answer_query,
    answer_update,
    read_request,
)
from fake_dns._records import canonical_rdata
from fake_dns._responder import Responder
from fake_dns._tsig import TsigError, find_tsig, sign, verify
from fake_dns._wire import encode_update, parse_message, update_from_message

ZONE = "example.test."
KEY = "k."
SECRET = b"0123456789abcdef0123456789abcdef"
KEYRING = dns.tsigkeyring.from_text({KEY: base64.b64encode(SECRET).decode()})
NOW = 1_700_000_000
TTL = {"A": 60, "AAAA": 61, "TXT": 62, "CNAME": 63, "MX": 64}

names = st.sampled_from(["www", "api", "Mixed.Case", "a.b", "@", "x-y"]).map(
    lambda n: ZONE if n == "@" else f"{n}.{ZONE}".lower())
rdata_by_type = {
    "A": st.ip_addresses(v=4).map(str),
    "AAAA": st.ip_addresses(v=6).map(str),
    "TXT": st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'),
                   max_size=20).map(lambda s: f'"{s}"'),
    "CNAME": names,
    "MX": st.tuples(st.integers(0, 65535), names).map(lambda t: f"{t[0]} {t[1]}"),
}
typed_rdata = st.sampled_from(sorted(rdata_by_type)).flatmap(
    lambda t: st.tuples(st.just(t), rdata_by_type[t]))


@st.composite
def prerequisites(draw: st.DrawFn) -> Prerequisite:
    kind = draw(st.sampled_from(PrereqKind))
    name = draw(names)
    rtype, _ = draw(typed_rdata)
    if kind is PrereqKind.RRSET_EXISTS_VALUE:
        values = draw(st.lists(rdata_by_type[rtype], min_size=1, max_size=3))
        return Prerequisite.rrset_equals(name, rtype, values)
    if kind in (PrereqKind.NAME_IN_USE, PrereqKind.NAME_NOT_IN_USE):
        return Prerequisite(kind, name)
    return Prerequisite(kind, name, rtype)


@st.composite
def changes(draw: st.DrawFn) -> Change:
    kind = draw(st.sampled_from(ChangeKind))
    name = draw(names)
    rtype, rdata = draw(typed_rdata)
    if kind is ChangeKind.ADD:
        return Change.add(name, rtype, TTL[rtype], rdata)
    if kind is ChangeKind.DELETE_RR:
        return Change.delete_rr(name, rtype, rdata)
    if kind is ChangeKind.DELETE_RRSET:
        return Change.delete_rrset(name, rtype)
    return Change.delete_name(name)


updates = st.builds(lambda p, c: Update(ZONE, tuple(p), tuple(c)),
                    st.lists(prerequisites(), max_size=4), st.lists(changes(), max_size=6))


def normalised(update: Update) -> tuple[object, ...]:
    """Value prerequisites merged per RRset (RFC 2136 §3.2.3), sections as sorted multisets."""
    merged: dict[tuple[str, str | None], frozenset[str]] = {}
    others = []
    for p in update.prerequisites:
        if p.kind is PrereqKind.RRSET_EXISTS_VALUE:
            merged[(p.name, p.rtype)] = merged.get((p.name, p.rtype), frozenset()) | p.rdatas
        else:
            others.append(repr(p))
    values = sorted(f"{k}:{sorted(v)}" for k, v in merged.items())
    return (update.zone, sorted(others), values, sorted(repr(c) for c in update.changes))


def from_dnspython(msg: dns.update.UpdateMessage) -> Update:
    """An independent translation of a dnspython-parsed UPDATE into our value (RFC 2136 §2)."""
    pre: list[Prerequisite] = []
    for rrset in msg.prerequisite:
        name = rrset.name.to_text().lower()
        rtype = dns.rdatatype.to_text(rrset.rdtype)
        if rrset.deleting is None:
            pre.append(Prerequisite.rrset_equals(name, rtype, [r.to_text() for r in rrset]))
        elif rrset.rdtype == dns.rdatatype.ANY:
            pre.append(Prerequisite.name_in_use(name) if rrset.deleting == dns.rdataclass.ANY
                       else Prerequisite.name_not_in_use(name))
        else:
            pre.append(Prerequisite.rrset_exists(name, rtype) if rrset.deleting ==
                       dns.rdataclass.ANY else Prerequisite.rrset_absent(name, rtype))
    out: list[Change] = []
    for rrset in msg.update:
        name = rrset.name.to_text().lower()
        rtype = dns.rdatatype.to_text(rrset.rdtype)
        if rrset.deleting is None:
            out += [Change.add(name, rtype, rrset.ttl, r.to_text()) for r in rrset]
        elif rrset.deleting == dns.rdataclass.NONE:
            out += [Change.delete_rr(name, rtype, r.to_text()) for r in rrset]
        elif rrset.rdtype == dns.rdatatype.ANY:
            out.append(Change.delete_name(name))
        else:
            out.append(Change.delete_rrset(name, rtype))
    return Update(msg.zone[0].name.to_text().lower(), tuple(pre), tuple(out))


def to_dnspython(update: Update) -> dns.update.UpdateMessage:
    msg = dns.update.UpdateMessage(update.zone, keyring=KEYRING, keyname=dns.name.from_text(KEY),
                                   keyalgorithm=dns.tsig.HMAC_SHA256)
    for p in update.prerequisites:
        name = dns.name.from_text(p.name)
        if p.kind is PrereqKind.RRSET_EXISTS_VALUE:
            assert p.rtype is not None
            msg.present(name, dns.rdataset.from_text("IN", p.rtype, 0, *sorted(p.rdatas)))
        elif p.kind is PrereqKind.RRSET_EXISTS:
            msg.present(name, p.rtype)
        elif p.kind is PrereqKind.RRSET_DOES_NOT_EXIST:
            msg.absent(name, p.rtype)
        elif p.kind is PrereqKind.NAME_IN_USE:
            msg.present(name)
        else:
            msg.absent(name)
    for c in update.changes:
        name = dns.name.from_text(c.name)
        if c.kind is ChangeKind.ADD:
            msg.add(name, c.ttl, c.rtype, c.rdata)
        elif c.kind is ChangeKind.DELETE_RR:
            msg.delete(name, c.rtype, c.rdata)
        elif c.kind is ChangeKind.DELETE_RRSET:
            msg.delete(name, c.rtype)
        else:
            msg.delete(name)
    return msg


@settings(max_examples=150, deadline=None)
@given(updates)
def test_dnspython_parses_and_verifies_what_we_encode_and_sign(update: Update) -> None:
    # dnspython checks the signing time against its own clock (RFC 8945 §5.2.3).
    wire, _ = sign(encode_update(4242, update), KEY, SECRET, int(time.time()))
    parsed = dns.message.from_wire(wire, keyring=KEYRING)  # raises on a bad signature
    assert isinstance(parsed, dns.update.UpdateMessage)
    assert normalised(from_dnspython(parsed)) == normalised(update)


@settings(max_examples=150, deadline=None)
@given(updates)
def test_we_parse_and_verify_what_dnspython_builds_and_signs(update: Update) -> None:
    wire = to_dnspython(update).to_wire()
    msg = parse_message(wire)
    tsig = find_tsig(msg)
    assert tsig is not None
    assert verify(msg, tsig, {KEY: SECRET}, tsig.time_signed) is TsigError.NOERROR
    ours = update_from_message(msg)
    assert ours.formerr is None
    assert normalised(ours) == normalised(from_dnspython(
        dns.message.from_wire(wire, keyring=KEYRING)))  # type: ignore[arg-type]


def test_a_flipped_bit_in_a_signed_update_fails_verification_with_badsig() -> None:
    update = Update(ZONE, changes=(Change.add("www.example.test.", "A", 60, "192.0.2.1"),))
    wire, _ = sign(encode_update(1, update), KEY, SECRET, NOW)
    broken = bytearray(wire)
    broken[40] ^= 0x01  # inside the update section: the MAC no longer matches
    msg = parse_message(bytes(broken))
    tsig = find_tsig(msg)
    assert tsig is not None
    assert verify(msg, tsig, {KEY: SECRET}, NOW) is TsigError.BADSIG


def test_a_wire_prerequisite_with_a_nonzero_ttl_is_formerr() -> None:
    # RFC 2136 §3.2.1: prerequisite TTLs must be zero.
    update = Update(ZONE, (Prerequisite.name_in_use("www.example.test."),))
    wire = bytearray(encode_update(1, update))
    ttl_at = len(wire) - 6  # the prerequisite RR ends with TTL(4) RDLENGTH(2)
    struct.pack_into("!I", wire, ttl_at, 300)
    assert update_from_message(parse_message(bytes(wire))).formerr is not None
    store = ZoneStore([Zone.empty(ZONE)])
    assert store.apply(update_from_message(parse_message(bytes(wire)))).rcode == 1  # FORMERR


def test_a_wire_class_any_prerequisite_with_rdata_is_formerr() -> None:
    # RFC 2136 §3.2.1: class ANY and NONE prerequisites carry RDLENGTH 0.
    update = Update(ZONE, (Prerequisite.rrset_exists("www.example.test.", "A"),))
    wire = encode_update(1, update)[:-2] + struct.pack("!H", 4) + bytes([192, 0, 2, 1])
    assert "rdata" in (update_from_message(parse_message(wire)).formerr or "")


def test_canonical_rdata_and_the_codec_agree_on_mixed_case_names() -> None:
    assert canonical_rdata("CNAME", "WWW.Example.TEST.") == "www.example.test."


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_the_responder_never_raises_on_random_bytes(wire: bytes, tcp: bool) -> None:
    responder = Responder(ZoneStore([Zone.empty(ZONE)]), {KEY: SECRET}, lambda: NOW)
    try:
        response = responder.respond(wire, tcp=tcp)
    finally:
        responder.close()
    if response is not None:
        assert response[:2] == wire[:2] and response[2] & 0x80  # our ID, QR set


def test_a_query_read_on_its_own_and_answered_from_the_zone_is_what_the_server_answers() -> None:
    """The server's three steps, taken apart as a scheduler that holds requests takes them:
    `read_request`, the zone's lookup, `answer_query`."""
    store = ZoneStore([Zone.empty(ZONE, records=[RR.make(f"www.{ZONE}", "A", 60, "10.0.0.1")])])
    now = int(time.time())  # dnspython signs with the time now
    responder = Responder(store, {KEY: SECRET}, lambda: now)
    for name in (f"www.{ZONE}", f"nowhere.{ZONE}"):
        for signed in (False, True):
            query = dns.message.make_query(name, "A", use_edns=0)
            if signed:
                query.use_tsig(KEYRING, keyname=KEY)
            wire = query.to_wire()
            request = read_request(wire, tcp=False, keys={KEY: SECRET}, now=now)
            assert isinstance(request, DnsRequest) and request.question == (name, "A")
            assert request.key_name == (KEY if signed else None)
            answer = answer_query(request, store.lookup(name, "A"), keys={KEY: SECRET}, now=now)
            assert answer == responder.respond(wire, tcp=False)


def test_an_update_read_on_its_own_is_answered_with_the_rcode_the_zone_gave_it() -> None:
    update = dns.update.UpdateMessage(ZONE, keyring=KEYRING, keyname=dns.name.from_text(KEY))
    update.add(f"www.{ZONE}", 60, "A", "10.0.0.1")
    now = int(time.time())  # dnspython signs with the time now
    request = read_request(update.to_wire(), tcp=False, keys={KEY: SECRET}, now=now)
    assert isinstance(request, DnsRequest) and request.update is not None
    assert request.describe() == f"UPDATE {ZONE}: add www.{ZONE} A 10.0.0.1 ttl 60"
    store = ZoneStore([Zone.empty(ZONE)])
    rcode = store.apply(request.update, request.key_name).rcode
    answer = dns.message.from_wire(answer_update(request, rcode, keys={KEY: SECRET}, now=now),
                                   keyring=KEYRING, request_mac=update.mac)
    assert answer.rcode() == dns.rcode.NOERROR  # dnspython verified the signed answer


def test_what_needs_no_zone_is_answered_at_once_and_a_response_is_dropped() -> None:
    unsigned = dns.update.UpdateMessage(ZONE)
    unsigned.delete(f"www.{ZONE}")
    refused = read_request(unsigned.to_wire(), tcp=False, keys={KEY: SECRET}, now=NOW)
    assert isinstance(refused, bytes)
    assert dns.message.from_wire(refused).rcode() == dns.rcode.REFUSED
    query = dns.message.make_query(f"www.{ZONE}", "A")
    response = dns.message.make_response(query).to_wire()
    assert read_request(response, tcp=False, keys={}, now=NOW) is None
