"""TSIG with HMAC-SHA256 (RFC 8945), over bytes: sign a message, verify a signed one.

Pure functions: the clock reading (`now`) and the keys are arguments. Only hmac-sha256 is
served; any other algorithm is answered like an unknown key (RFC 8945 §5.2.1: BADKEY).

What the MAC covers (RFC 8945 §4.3):
- a request: the message without its TSIG RR (ARCOUNT one less, ID replaced by the TSIG's
  Original ID), then the "TSIG variables" (§4.3.3: key name, class ANY, TTL 0, algorithm name,
  time signed, fudge, error, other len, other data);
- a response: first the request's MAC (2-byte length + MAC, §4.3.1), then the same.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from fake_dns._wire import (
    CLASS_ANY,
    TYPE_TSIG,
    ParsedMessage,
    WireError,
    decode_name,
    encode_name,
)

__all__ = ["HMAC_SHA256", "TsigError", "TsigRecord", "find_tsig", "sign", "verify"]

HMAC_SHA256 = "hmac-sha256."
DEFAULT_FUDGE_S = 300  # RFC 8945 §10: 300 seconds is the recommended fudge
_DIGEST_SIZE = hashlib.sha256().digest_size


class TsigError(enum.IntEnum):
    """The TSIG Error field (RFC 8945 §3, §5.3.2)."""

    NOERROR = 0
    BADSIG = 16
    BADKEY = 17
    BADTIME = 18
    BADTRUNC = 22


@dataclass(frozen=True, slots=True)
class TsigRecord:
    key_name: str
    algorithm: str
    time_signed: int
    fudge: int
    mac: bytes
    original_id: int
    error: int
    other: bytes
    start: int  # offset of the TSIG RR in the message: the MAC covers what comes before


def find_tsig(msg: ParsedMessage) -> TsigRecord | None:
    """The message's TSIG RR, or None. RFC 8945 §5.1: it must be the last additional RR."""
    additional = msg.sections[2]
    for rr in additional[:-1]:
        if rr.rtype == TYPE_TSIG:
            raise WireError("a TSIG RR that is not the last additional record (RFC 8945 §5.1)")
    if not additional or additional[-1].rtype != TYPE_TSIG:
        return None
    rr = additional[-1]
    if rr.rclass != CLASS_ANY or rr.ttl != 0:
        raise WireError("TSIG RR must have class ANY and TTL 0 (RFC 8945 §4.2)")
    wire = msg.wire
    end = rr.rdata_offset + rr.rdlength
    algorithm, pos = decode_name(wire, rr.rdata_offset)
    if pos + 10 > end:
        raise WireError("truncated TSIG rdata")
    hi, lo, fudge, mac_size = struct.unpack_from("!HIHH", wire, pos)
    pos += 10
    mac = wire[pos:pos + mac_size]
    pos += mac_size
    if pos + 6 > end:
        raise WireError("truncated TSIG rdata")
    original_id, error, other_len = struct.unpack_from("!HHH", wire, pos)
    pos += 6
    other = wire[pos:pos + other_len]
    if pos + other_len != end:
        raise WireError("TSIG rdata length does not match its fields")
    return TsigRecord(rr.name, algorithm, (hi << 32) | lo, fudge, bytes(mac), original_id,
                      error, bytes(other), rr.start)


@lru_cache(maxsize=1024)
def _variables(key_name: str, time_signed: int, fudge: int, error: int, other: bytes) -> bytes:
    """RFC 8945 §4.3.3 (the same for every message a key signs within one second: cached)."""
    return (encode_name(key_name) + struct.pack("!HI", CLASS_ANY, 0) + encode_name(HMAC_SHA256)
            + struct.pack("!HIHHH", time_signed >> 32, time_signed & 0xFFFFFFFF, fudge, error,
                          len(other)) + other)


def _mac(secret: bytes, request_mac: bytes | None, message: bytes, variables: bytes) -> bytes:
    prefix = b"" if request_mac is None else struct.pack("!H", len(request_mac)) + request_mac
    # hmac.digest is the one-shot C path: several times cheaper than hmac.new(...).update().
    return hmac.digest(secret, prefix + message + variables, "sha256")


def sign(message: bytes, key_name: str, secret: bytes | None, now: int, *,
         request_mac: bytes | None = None, error: int = 0, other: bytes = b"",
         fudge: int = DEFAULT_FUDGE_S) -> tuple[bytes, bytes]:
    """Append a TSIG RR to `message` (which has none yet); return (signed message, MAC).

    `secret=None` appends an unsigned TSIG carrying only an error (RFC 8945 §5.3.2: BADKEY and
    BADSIG answers are not signed, the server cannot or must not use the key).
    `request_mac` is given when signing a response (RFC 8945 §4.3.1).
    """
    if secret is None:
        mac = b""
    else:
        mac = _mac(secret, request_mac, message,
                   _variables(key_name, now, fudge, error, other))
    msg_id, arcount = struct.unpack_from("!H", message)[0], struct.unpack_from("!H", message, 10)[0]
    rdata = (encode_name(HMAC_SHA256)
             + struct.pack("!HIHH", now >> 32, now & 0xFFFFFFFF, fudge, len(mac)) + mac
             + struct.pack("!HHH", msg_id, error, len(other)) + other)
    rr = encode_name(key_name) + struct.pack("!HHIH", TYPE_TSIG, CLASS_ANY, 0, len(rdata)) + rdata
    signed = message[:10] + struct.pack("!H", arcount + 1) + message[12:] + rr
    return signed, mac


def verify(msg: ParsedMessage, tsig: TsigRecord, keys: Mapping[str, bytes], now: int, *,
           request_mac: bytes | None = None) -> TsigError:
    """Check a signed message (RFC 8945 §5.2 order: key, then MAC, then time)."""
    secret = keys.get(tsig.key_name)
    if secret is None or tsig.algorithm != HMAC_SHA256:
        return TsigError.BADKEY
    if len(tsig.mac) != _DIGEST_SIZE:
        # §5.2.2.1: truncated MACs are a policy choice; we accept only full-length ones.
        return TsigError.BADTRUNC if len(tsig.mac) < _DIGEST_SIZE else TsigError.BADSIG
    wire = msg.wire
    unsigned = (struct.pack("!H", tsig.original_id) + wire[2:10]
                + struct.pack("!H", msg.header.arcount - 1) + wire[12:tsig.start])
    expected = _mac(secret, request_mac, unsigned,
                    _variables(tsig.key_name, tsig.time_signed, tsig.fudge, tsig.error,
                               tsig.other))
    if not hmac.compare_digest(expected, tsig.mac):
        return TsigError.BADSIG
    if abs(now - tsig.time_signed) > tsig.fudge:
        return TsigError.BADTIME
    return TsigError.NOERROR
