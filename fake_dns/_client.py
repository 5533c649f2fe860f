"""An asyncio DNS client for queries and TSIG-signed RFC 2136 updates.

One persistent UDP endpoint carries every request (no socket per call). Responses are matched
by ID and by the echoed question/zone section (RFC 5452 §9.1), so a stray or late datagram is
ignored. A request that gets no answer is sent again, same bytes, until `timeout_s` is spent;
an answer with TC set is fetched again over TCP (RFC 7766 §5). A query's answer is decoded
once per distinct answer (everything after the ID): a client that asks the same questions
again, as an exploration does thousands of times, gets the same immutable `LookupResult`.

Note that resending an UPDATE is what real clients (nsupdate) do too: if the first copy was
applied and only its answer was lost, the copy is evaluated afresh, and its prerequisites may
then fail. On loopback that does not happen in practice.
"""

from __future__ import annotations

import asyncio
import functools
import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from dns.rcode import Rcode

from fake_dns._records import Update, canonical_name
from fake_dns._tsig import TsigError, find_tsig, sign, verify
from fake_dns._wire import (
    CLASS_IN,
    WireError,
    decode_lookup_result,
    encode_name,
    encode_update,
    parse_message,
    type_code,
)
from fake_dns._zone import LookupResult

__all__ = ["DNSClient", "DNSClientError", "UpdateReply"]

_ATTEMPTS = 3
_DRAIN_BATCH = 64
_DECODED_LIMIT = 4096
_MAX_DATAGRAM = 65535
_EDNS_PAYLOAD = 1232  # RFC 6891; what we advertise, as the server does


class DNSClientError(Exception):
    """The server did not answer, or answered something that cannot be trusted."""


@dataclass(frozen=True, slots=True)
class UpdateReply:
    """The server's answer to an UPDATE: its rcode (RFC 2136 §2.2) and TSIG error (RFC 8945
    §3; NOERROR unless the server rejected the signature: then rcode is NOTAUTH)."""

    rcode: Rcode
    tsig_error: TsigError = TsigError.NOERROR

    @property
    def ok(self) -> bool:
        return self.rcode == Rcode.NOERROR


class _Pending:
    __slots__ = ("attempts_left", "future", "handle", "match", "wire")

    def __init__(self, future: asyncio.Future[bytes], wire: bytes, match: bytes) -> None:
        self.future = future
        self.wire = wire
        self.match = match  # the bytes after the header that the answer must echo
        self.attempts_left = _ATTEMPTS - 1
        self.handle: asyncio.TimerHandle | None = None


class _ClientProtocol(asyncio.DatagramProtocol):
    def __init__(self, pending: dict[int, _Pending], sock: socket.socket) -> None:
        self._pending = pending
        self._sock = sock

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._match(data)
        # asyncio reads one datagram per readiness event: read what else is queued (bounded),
        # one event-loop iteration for a burst of answers instead of one each.
        for _ in range(_DRAIN_BATCH):
            try:
                data = self._sock.recv(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.error_received(exc)
                return
            self._match(data)

    def _match(self, data: bytes) -> None:
        if len(data) < 12:
            return
        entry = self._pending.get((data[0] << 8) | data[1])
        if entry is None or entry.future.done():
            return
        if data[12:12 + len(entry.match)] != entry.match and struct.unpack_from(
                "!H", data, 4)[0] != 0:
            return  # not the answer to our question (a bare error answer has no question)
        entry.future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable: fail every waiting request now rather than at its timeout.
        for entry in self._pending.values():
            if not entry.future.done():
                entry.future.set_exception(DNSClientError(f"UDP error from server: {exc}"))


class DNSClient:
    """Queries and signed updates against one server.

    `key_name`/`secret` sign updates with HMAC-SHA256 TSIG (RFC 8945); without them updates
    go unsigned (a server that requires TSIG then answers REFUSED). `timeout_s` bounds each
    request as a whole, across its retransmissions.
    """

    def __init__(self, host: str, port: int, *, key_name: str | None = None,
                 secret: bytes | None = None, timeout_s: float = 2.0,
                 rng: random.Random | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if (key_name is None) != (secret is None):
            raise ValueError("give both key_name and secret to sign updates, or neither")
        self.host = host
        self.port = port
        self._key_name = canonical_name(key_name) if key_name else None
        self._secret = secret
        self._timeout_s = timeout_s
        self._rng = rng or random.Random()
        self._clock = clock
        self._pending: dict[int, _Pending] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._decoded: dict[bytes, LookupResult] = {}  # answer after the ID -> its decoding

    async def __aenter__(self) -> DNSClient:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        family, _, _, _, sockaddr = socket.getaddrinfo(self.host, self.port,
                                                       type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect(sockaddr)  # a connected socket: the kernel drops others' datagrams
        except OSError:
            sock.close()
            raise
        transport, _ = await loop.create_datagram_endpoint(
            functools.partial(_ClientProtocol, self._pending, sock), sock=sock)
        self._transport = transport

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for entry in self._pending.values():
            if entry.handle is not None:
                entry.handle.cancel()
            if not entry.future.done():
                entry.future.cancel()

    # -- public requests ---------------------------------------------------------------------

    async def query(self, name: str, rtype: str) -> LookupResult:
        """Ask one question (class IN, RD clear, EDNS(0)); decode the answer into the
        engine's `LookupResult` (rcode, answer and authority RRs in canonical form)."""
        question = encode_name(canonical_name(name)) + struct.pack("!HH", type_code(rtype.upper()),
                                                                   CLASS_IN)
        opt = b"\x00" + struct.pack("!HHIH", 41, _EDNS_PAYLOAD, 0, 0)  # RFC 6891 §6.1.2

        def build(msg_id: int) -> bytes:
            return struct.pack("!HHHHHH", msg_id, 0, 1, 0, 0, 1) + question + opt

        answer = await self._exchange(build, question)
        known = self._decoded.get(answer[2:])
        if known is not None:
            return known
        try:
            result = decode_lookup_result(parse_message(answer))
        except WireError as exc:
            raise DNSClientError(f"malformed answer to {name} {rtype}: {exc}") from None
        if len(self._decoded) >= _DECODED_LIMIT:
            self._decoded.clear()
        self._decoded[answer[2:]] = result
        return result

    async def update(self, update: Update) -> UpdateReply:
        """Send one UPDATE, signed when the client has a key; return the server's verdict."""
        now = int(self._clock())
        macs: dict[int, bytes] = {}

        def build(msg_id: int) -> bytes:
            wire = encode_update(msg_id, update)
            if self._key_name is None or self._secret is None:
                return wire
            signed, macs[msg_id] = sign(wire, self._key_name, self._secret, now)
            return signed

        zone = encode_name(update.zone) + struct.pack("!HH", 6, CLASS_IN)
        answer = await self._exchange(build, zone)
        try:
            msg = parse_message(answer)
            tsig = find_tsig(msg)
        except WireError as exc:
            raise DNSClientError(f"malformed answer to an UPDATE of {update.zone}: {exc}") from None
        rcode = Rcode(msg.header.rcode)
        if self._key_name is None or self._secret is None:
            return UpdateReply(rcode)
        if tsig is None:
            if rcode == Rcode.NOERROR:
                raise DNSClientError(f"unsigned NOERROR answer to a signed UPDATE of "
                                     f"{update.zone}: not trusted (RFC 8945 §5.3)")
            return UpdateReply(rcode)
        if tsig.error != TsigError.NOERROR:
            return UpdateReply(rcode, TsigError(tsig.error))
        keys = {self._key_name: self._secret}
        error = verify(msg, tsig, keys, int(self._clock()), request_mac=macs[msg.header.id])
        if error is not TsigError.NOERROR:
            raise DNSClientError(f"answer to an UPDATE of {update.zone} fails TSIG "
                                 f"verification ({error.name})")
        return UpdateReply(rcode)

    # -- transport ---------------------------------------------------------------------------

    def _new_id(self) -> int:
        while True:
            msg_id = self._rng.getrandbits(16)
            if msg_id not in self._pending:
                return msg_id

    async def _exchange(self, build: Callable[[int], bytes], match: bytes) -> bytes:
        if self._transport is None:
            raise RuntimeError("DNSClient used outside `async with` (call start() first)")
        loop = asyncio.get_running_loop()
        msg_id = self._new_id()
        wire = build(msg_id)
        entry = _Pending(loop.create_future(), wire, match)
        self._pending[msg_id] = entry
        self._transport.sendto(wire)
        entry.handle = loop.call_later(self._timeout_s / _ATTEMPTS, self._resend, msg_id)
        try:
            answer = await entry.future
        finally:
            if entry.handle is not None:
                entry.handle.cancel()
            del self._pending[msg_id]
        if answer[2] & 0x02:  # TC: RFC 7766 §5, ask again over TCP
            answer = await self._exchange_tcp(build(self._new_id()))
        return answer

    def _resend(self, msg_id: int) -> None:
        entry = self._pending.get(msg_id)
        if entry is None or entry.future.done():
            return
        if entry.attempts_left == 0:
            entry.future.set_exception(DNSClientError(
                f"no answer from {self.host}:{self.port} within {self._timeout_s} s "
                f"({_ATTEMPTS} attempts)"))
            return
        entry.attempts_left -= 1
        if self._transport is not None:
            self._transport.sendto(entry.wire)
        loop = asyncio.get_running_loop()
        entry.handle = loop.call_later(self._timeout_s / _ATTEMPTS, self._resend, msg_id)

    async def _exchange_tcp(self, wire: bytes) -> bytes:
        try:
            async with asyncio.timeout(self._timeout_s):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                try:
                    writer.write(struct.pack("!H", len(wire)) + wire)
                    await writer.drain()
                    while True:
                        (length,) = struct.unpack("!H", await reader.readexactly(2))
                        answer = await reader.readexactly(length)
                        if answer[:2] == wire[:2]:
                            return answer
                finally:
                    writer.close()
                    await writer.wait_closed()
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            raise DNSClientError(f"TCP exchange with {self.host}:{self.port} failed: "
                                 f"{exc!r}") from None
