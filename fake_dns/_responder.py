"""The server's logic without sockets: one request's bytes in, the response's bytes out.

Theory of operation
-------------------
- `Responder.respond(wire, tcp=...)` returns the response, or None when the request must be
  dropped (shorter than a header, or a response itself: answering responses makes loops).
- It is three public steps, which a scheduler that holds requests uses on their own:
  `read_request` (bytes in: a `DnsRequest` that needs the zone, or the answer's bytes when the
  zone has nothing to do with it), the zone (`ZoneStore.lookup` or `.apply`), and
  `answer_query` / `answer_update` (what the zone said in, the answer's bytes out).
- Rule 1, routing by header bits (RFC 1035 §4.1.1): opcode 5 (UPDATE, RFC 2136) goes to our own
  codec before dnslib sees the packet, since dnslib cannot parse RDLENGTH-0 records; opcode 0
  goes to dnslib; any other opcode is answered NOTIMP.
- Rule 2, queries: a fast path returns a packed answer cached by the request's bytes after the
  ID, with the ID patched in. A committed update (the store calls us synchronously inside
  `apply`) drops every cached answer that read a name it changed, so no stale answer
  survives a change. Behind it, an answer is a pure function of the request and the zone's
  `LookupResult` for its question: a second memo keyed by both skips building it with dnslib
  again when a name goes back to content it had before (a zone reset, a lock record that is
  rewritten to the same value). Signed queries are never cached: their answers are signed
  afresh.
- Rule 3, updates: TSIG is checked first (RFC 8945 §5.2), then the whole update is checked and
  applied by `ZoneStore.apply` in one synchronous call, and the answer is signed with the
  request's key. The journal has written and fsync'd the update before `apply` commits it, and
  every subscriber (this answer cache) has run by the time it returns, hence before the answer
  can be sent. An update the journal could not write is answered SERVFAIL and changed
  nothing, so the cache never holds data that is not committed.
- Rule 4, size: no answer is longer than its transport allows. Over UDP the limit is 512 bytes
  or the client's EDNS payload size; over TCP it is the 65,535 bytes a two-byte length can
  frame (RFC 1035 §4.2.2). An answer over the limit is sent with TC set and no records
  (RFC 2181 §9: TC when a required RRset could not be included whole). Over TCP that tells the
  client the truth, that the RRset cannot be sent in one message, where SERVFAIL would say the
  server failed and send it to retry elsewhere.
- Rule 5, logs: refused, malformed and uncommitted UPDATEs are logged through a `LogLimiter`,
  a few lines per kind per window, so a flood of them cannot flood the log.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import dnslib
from dns.rcode import Rcode

from fake_dns._ratelimit import LogLimiter
from fake_dns._records import RR, Update
from fake_dns._tsig import TsigError, TsigRecord, find_tsig, sign, verify
from fake_dns._wire import (
    OPCODE_QUERY,
    OPCODE_UPDATE,
    TYPE_OPT,
    ParsedMessage,
    WireError,
    encode_name,
    parse_message,
    rdata_to_wire,
    type_code,
    type_text,
    update_from_message,
)
from fake_dns._zone import CommittedUpdate, LookupResult, ZoneStore

__all__ = ["DEFAULT_MAX_UDP_PAYLOAD", "DnsRequest", "Responder", "answer_query",
           "answer_update", "read_request"]

log = logging.getLogger("fake_dns.server")

# RFC 6891 §6.2.5 and the DNS Flag Day 2020 advice: 1232 bytes avoids IP fragmentation.
DEFAULT_MAX_UDP_PAYLOAD = 1232
_CLASSIC_UDP_LIMIT = 512  # RFC 1035 §4.2.1, without EDNS(0)
_TCP_LIMIT = 65535  # RFC 1035 §4.2.2: the two-byte length prefix
_TSIG_ROOM = 512  # room left for the TSIG RR of a signed answer (RFC 8945 §4.2)
_CACHE_LIMIT = 65536
_CLASS_IN = 1
_CLASS_ANY = 255
_BADVERS = 16  # RFC 6891 §9
_ZONE_TRANSFERS = frozenset({"AXFR", "IXFR"})


@lru_cache(maxsize=65536)
def _dnslib_rr(rr: RR) -> dnslib.RR:
    """The engine's RR as a dnslib RR, by way of the wire (dnslib packs it with compression)."""
    rdata = rdata_to_wire(rr.rtype, rr.rdata)
    wire = (encode_name(rr.name) + struct.pack("!HHIH", type_code(rr.rtype), _CLASS_IN, rr.ttl,
                                               len(rdata)) + rdata)
    return dnslib.RR.parse(dnslib.DNSBuffer(wire))


def _error_reply(wire: bytes, rcode: int) -> bytes:
    """A bare answer (no sections) to a request we cannot or will not parse."""
    msg_id, flags = struct.unpack_from("!HH", wire)
    opcode_and_rd = flags & 0x7900  # keep OPCODE and RD (RFC 1035 §4.1.1)
    return struct.pack("!HHHHHH", msg_id, 0x8000 | opcode_and_rd | rcode, 0, 0, 0, 0)


_LIMITED = LogLimiter(log)  # for `read_request` called on its own (a Responder has its own)


@dataclass(frozen=True, slots=True, eq=False)
class DnsRequest:
    """A request read, checked and authenticated (`read_request`) that needs the zone to be
    answered: a query's `question` (name, type), or an `update`. It can be held, described and
    compared before anything asks the zone; `answer_query` and `answer_update` turn what the
    zone said (a `LookupResult`, an UPDATE's rcode) into the answer's bytes."""

    message: ParsedMessage
    tcp: bool
    tsig: TsigRecord | None
    question: tuple[str, str] | None = None
    update: Update | None = None
    udp_limit: int = _CLASSIC_UDP_LIMIT  # the largest UDP answer the client takes

    @property
    def id(self) -> int:
        return self.message.header.id

    @property
    def wire(self) -> bytes:
        return self.message.wire

    @property
    def key_name(self) -> str | None:
        """The TSIG key that signed it (verified), or None."""
        return self.tsig.key_name if self.tsig is not None else None

    def describe(self) -> str:
        """'query dynamodb.example. A', or 'UPDATE example.: add a.example. A 10.0.0.1; ...'."""
        if self.question is not None:
            return f"query {self.question[0]} {self.question[1]}"
        assert self.update is not None
        return f"UPDATE {self.update.describe()}"


def read_request(wire: bytes, *, tcp: bool, keys: Mapping[str, bytes], now: int,
                 max_udp_payload: int = DEFAULT_MAX_UDP_PAYLOAD,
                 log_limiter: LogLimiter | None = None) -> DnsRequest | bytes | None:
    """Read one request (Rule 1) before the zone is asked: a `DnsRequest` to answer from the
    zone; the answer's bytes at once when the zone has nothing to do with it (malformed:
    FORMERR; an opcode we do not serve: NOTIMP; an unsigned UPDATE: REFUSED; a signature that
    does not verify: NOTAUTH with the TSIG error; an EDNS version we do not speak: BADVERS;
    another class or a zone transfer: REFUSED); None when it must be dropped (shorter than a
    header, or a response). `keys` maps TSIG key names to secrets; `now` is the time in
    seconds that signatures are checked against."""
    if len(wire) < 12 or wire[2] & 0x80:
        return None  # not even a header, or a response: never answer those
    opcode = (wire[2] >> 3) & 0xF
    if opcode == OPCODE_UPDATE:
        return _read_update(wire, keys, now, log_limiter or _LIMITED)
    if opcode != OPCODE_QUERY:
        return _error_reply(wire, Rcode.NOTIMP)
    return _read_query(wire, tcp, keys, now, max_udp_payload)


def _read_query(wire: bytes, tcp: bool, keys: Mapping[str, bytes], now: int,
                max_udp_payload: int) -> DnsRequest | bytes:
    try:
        msg = parse_message(wire)
        tsig = find_tsig(msg)
    except (WireError, ValueError, IndexError, UnicodeError) as exc:
        log.debug("malformed query: %s", exc)
        return _error_reply(wire, Rcode.FORMERR)
    if msg.header.qdcount != 1 or msg.header.ancount or msg.header.nscount:
        return _error_reply(wire, Rcode.FORMERR)  # RFC 9619: exactly one question
    opts = [rr for rr in msg.sections[2] if rr.rtype == TYPE_OPT]
    if len(opts) > 1:
        return _error_reply(wire, Rcode.FORMERR)  # RFC 6891 §6.1.1
    qname, qtype_code, qclass = msg.questions[0]
    qtype = type_text(qtype_code)
    if tsig is not None:
        error = verify(msg, tsig, keys, now)
        if error is not TsigError.NOERROR:
            header = struct.pack("!HHHHHH", msg.header.id,
                                 0x8000 | (msg.header.flags & 0x7900) | Rcode.NOTAUTH, 1, 0, 0, 0)
            return sign(header + msg.wire[12:msg.question_end], tsig.key_name, None, now,
                        error=error)[0]
    badvers = bool(opts) and (opts[0].ttl >> 16) & 0xFF != 0
    if badvers or qclass not in (_CLASS_IN, _CLASS_ANY) or qtype in _ZONE_TRANSFERS:
        try:
            reply = _reply_to(wire, bool(opts), max_udp_payload)
        except (dnslib.DNSError, ValueError, IndexError, UnicodeError) as exc:
            log.debug("malformed query: %s", exc)
            return _error_reply(wire, Rcode.FORMERR)
        reply.header.aa = 0
        if badvers:
            # RFC 6891 §6.1.3: we speak version 0 only; the rcode goes in the OPT RR.
            reply.ar = [dnslib.EDNS0(udp_len=max_udp_payload, ext_rcode=_BADVERS >> 4)]
        else:
            reply.header.rcode = Rcode.REFUSED
        return _signed(bytes(reply.pack()), tsig, keys, now)
    limit = _CLASSIC_UDP_LIMIT
    if opts:
        limit = min(max(_CLASSIC_UDP_LIMIT, opts[0].rclass), max_udp_payload)
    return DnsRequest(msg, tcp, tsig, (qname, qtype), None, limit)


def _read_update(wire: bytes, keys: Mapping[str, bytes], now: int,
                 limited: LogLimiter) -> DnsRequest | bytes:
    try:
        msg = parse_message(wire)
        tsig = find_tsig(msg)
    except WireError as exc:
        limited.log("malformed UPDATEs", logging.INFO, "malformed UPDATE: %s", exc)
        return _error_reply(wire, Rcode.FORMERR)
    if tsig is None:
        # RFC 2136 §3.3: the requestor is not permitted; we permit only TSIG-signed updates.
        limited.log("unsigned UPDATEs", logging.INFO,
                    "unsigned UPDATE refused (updates need a TSIG key)")
        return _update_reply(msg, Rcode.REFUSED)
    update = update_from_message(msg)
    error = verify(msg, tsig, keys, now)
    if error is not TsigError.NOERROR:
        limited.log("UPDATEs failing TSIG", logging.INFO,
                    "UPDATE of %s with key %s refused: TSIG %s", update.zone, tsig.key_name,
                    error.name)
        unsigned = _update_reply(msg, Rcode.NOTAUTH)
        if error is TsigError.BADTIME:
            # RFC 8945 §5.2.3: signed, with our time in Other Data.
            other = struct.pack("!HI", now >> 32, now & 0xFFFFFFFF)
            return sign(unsigned, tsig.key_name, keys[tsig.key_name], now,
                        request_mac=tsig.mac, error=error, other=other)[0]
        # RFC 8945 §5.3.2: BADKEY and BADSIG answers are unsigned (empty MAC).
        return sign(unsigned, tsig.key_name, None, now, error=error)[0]
    return DnsRequest(msg, False, tsig, None, update)


def _reply_to(wire: bytes, edns: bool, max_udp_payload: int) -> dnslib.DNSRecord:
    """dnslib's reply to the query in `wire`: authoritative, no recursion, Z and AD clear."""
    request = dnslib.DNSRecord.parse(wire)
    reply = request.reply(ra=0, aa=1)
    # RFC 1035 §4.1.1: Z is zero; RFC 4035 §3.2.3: we validate nothing, so AD is clear.
    reply.header.bitmap &= ~0x0060
    reply.ar = []
    if edns:
        reply.add_ar(dnslib.EDNS0(udp_len=max_udp_payload))
    return reply


def _signed(packed: bytes, tsig: TsigRecord | None, keys: Mapping[str, bytes],
            now: int) -> bytes:
    """An answer signed with the (verified) key of the request it answers (RFC 8945 §4.3)."""
    if tsig is None:
        return packed
    return sign(packed, tsig.key_name, keys[tsig.key_name], now, request_mac=tsig.mac)[0]


def answer_query(request: DnsRequest, result: LookupResult, *, keys: Mapping[str, bytes],
                 now: int, max_udp_payload: int = DEFAULT_MAX_UDP_PAYLOAD) -> bytes:
    """The answer to a query `request` from the zone's `result` for its question: answer and
    authority sections, AA as the zone says, TC and no records when it is longer than its
    transport allows (Rule 4), signed with the request's key if it was."""
    edns = any(rr.rtype == TYPE_OPT for rr in request.message.sections[2])
    try:
        reply = _reply_to(request.wire, edns, max_udp_payload)
    except (dnslib.DNSError, ValueError, IndexError, UnicodeError) as exc:
        log.debug("malformed query: %s", exc)  # our codec read it, dnslib cannot
        return _signed(_error_reply(request.wire, Rcode.FORMERR), request.tsig, keys, now)
    reply.header.rcode = int(result.rcode)
    reply.header.aa = int(result.authoritative)
    for rr in result.answer:
        reply.add_answer(_dnslib_rr(rr))
    for rr in result.authority:
        reply.add_auth(_dnslib_rr(rr))
    packed = bytes(reply.pack())
    limit = (_TCP_LIMIT - (_TSIG_ROOM if request.tsig is not None else 0) if request.tcp
             else request.udp_limit)
    if len(packed) > limit:
        # Rule 4, RFC 2181 §9 / RFC 7766 §4: too big: no records, TC set (over UDP: retry
        # over TCP; over TCP: the RRset cannot be sent whole in one message).
        truncated = dnslib.DNSRecord(dnslib.DNSHeader(id=reply.header.id,
                                                      bitmap=reply.header.bitmap, tc=1),
                                     q=reply.q)
        for rr in reply.ar:
            truncated.add_ar(rr)
        packed = bytes(truncated.pack())
    return _signed(packed, request.tsig, keys, now)


def answer_update(request: DnsRequest, rcode: int, *, keys: Mapping[str, bytes],
                  now: int) -> bytes:
    """The answer to an UPDATE `request` that the zone answered with `rcode` (RFC 2136 §3.8:
    the request's header and zone section, with QR and the rcode), signed with its key."""
    return _signed(_update_reply(request.message, rcode), request.tsig, keys, now)


def _update_reply(msg: ParsedMessage, rcode: int) -> bytes:
    """RFC 2136 §3.8: the header and zone section of the request, with QR and the rcode."""
    header = msg.header
    flags = 0x8000 | (OPCODE_UPDATE << 11) | (rcode & 0xF)
    return (struct.pack("!HHHHHH", header.id, flags, header.qdcount, 0, 0, 0)
            + msg.wire[12:msg.question_end])


class Responder:
    """Answers queries and applies updates for one `ZoneStore`; does no I/O."""

    def __init__(self, store: ZoneStore, tsig_keys: Mapping[str, bytes],
                 clock: Callable[[], float], *,
                 max_udp_payload: int = DEFAULT_MAX_UDP_PAYLOAD,
                 log_limiter: LogLimiter | None = None) -> None:
        self.store = store
        self._keys = dict(tsig_keys)
        self._clock = clock
        self._limited = log_limiter or LogLimiter(log)
        self._max_udp_payload = max_udp_payload
        self._udp_cache: dict[bytes, bytes] = {}
        self._tcp_cache: dict[bytes, bytes] = {}
        self._built: dict[tuple[bytes, bool, LookupResult], bytes] = {}  # Rule 2's memo
        # Which cached answers depend on which owner name: an update drops exactly the answers
        # that read a name it changed. Every negative answer carries the zone's SOA, whose
        # serial every committed update bumps, so negative answers depend on the apex.
        self._dependents: dict[str, set[tuple[bool, bytes]]] = {}
        self._unsubscribe = store.subscribe(self._invalidate)

    def close(self) -> None:
        self._unsubscribe()
        self._invalidate(None)
        self._built.clear()

    def _invalidate(self, committed: CommittedUpdate | None) -> None:
        if committed is None:
            self._udp_cache.clear()
            self._tcp_cache.clear()
            self._dependents.clear()
            return
        for name in {committed.zone, *(change.name for change in committed.changes)}:
            for tcp, key in self._dependents.pop(name, ()):
                (self._tcp_cache if tcp else self._udp_cache).pop(key, None)

    def respond(self, wire: bytes, *, tcp: bool) -> bytes | None:
        cache = self._tcp_cache if tcp else self._udp_cache
        hit = cache.get(wire[2:])
        if hit is not None:
            return wire[:2] + hit
        now = int(self._clock())
        request = read_request(wire, tcp=tcp, keys=self._keys, now=now,
                               max_udp_payload=self._max_udp_payload,
                               log_limiter=self._limited)
        if not isinstance(request, DnsRequest):
            return request
        if request.update is not None:
            return self._apply(request, now)
        assert request.question is not None
        qname, qtype = request.question
        result = self.store.lookup(qname, qtype)
        if request.tsig is not None:  # signed answers are signed afresh, never cached
            return answer_query(request, result, keys=self._keys, now=now,
                                max_udp_payload=self._max_udp_payload)
        # Rule 2's memo: the same request bytes and the same lookup result always make the
        # same answer.
        built = self._built.get((wire[2:], tcp, result))
        if built is None:
            built = answer_query(request, result, keys=self._keys, now=now,
                                 max_udp_payload=self._max_udp_payload)[2:]
            if len(self._built) >= _CACHE_LIMIT:
                self._built.clear()
            self._built[wire[2:], tcp, result] = built
        packed = wire[:2] + built
        self._remember(wire, packed, cache, self._dependencies(qname, result))
        return packed

    def _dependencies(self, qname: str, result: LookupResult) -> set[str]:
        """The owner names an answer read: an update to any of them drops it (Rule 2)."""
        deps = {qname.lower(), *(rr.name for rr in result.answer)}
        if any(rr.rtype == "SOA" for rr in result.authority):
            zone = self.store.find_zone(qname)
            if zone is not None:
                deps.add(zone.origin)
        return deps

    def _remember(self, wire: bytes, packed: bytes, cache: dict[bytes, bytes],
                  deps: set[str]) -> None:
        if len(cache) >= _CACHE_LIMIT:
            self._invalidate(None)
        key = wire[2:]
        cache[key] = packed[2:]
        tcp = cache is self._tcp_cache
        for name in deps:
            self._dependents.setdefault(name, set()).add((tcp, key))

    # -- updates -----------------------------------------------------------------------------

    def _apply(self, request: DnsRequest, now: int) -> bytes:
        """Rule 3: the whole update checked and applied by one `ZoneStore.apply` call."""
        update = request.update
        assert update is not None
        result = self.store.apply(update, request.key_name)
        if result.rcode == Rcode.SERVFAIL:
            self._limited.log("uncommitted UPDATEs", logging.WARNING,
                              "update of %s answered SERVFAIL: %s", update.zone, result.reason)
        elif not log.isEnabledFor(logging.INFO):
            pass
        elif result.committed is not None:
            log.info("update of %s committed, serial %d, key %s: %s", update.zone,
                     result.serial, request.key_name,
                     "; ".join(c.to_text() for c in result.committed.changes))
        elif result.rcode == Rcode.NOERROR:
            log.info("update of %s changed nothing, serial stays %d", update.zone, result.serial)
        else:
            self._limited.log("refused UPDATEs", logging.INFO, "update of %s refused: %s %s",
                              update.zone, result.rcode.name, result.reason)
        return answer_update(request, result.rcode, keys=self._keys, now=now)
