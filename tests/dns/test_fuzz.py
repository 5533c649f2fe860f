"""Bad input over real sockets: Hypothesis-generated and mutated packets, UDP and TCP.

The server may answer garbage (with the request's ID, QR set; FORMERR for what it cannot
parse) or drop it; it never crashes, never logs an internal error, and answers a good query
right after. One server for the module (loop_scope="module"); each example uses fresh sockets.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncIterator

import dns.message
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fake_dns import RR, DNSServer, Zone, ZoneStore

ZONE = "example.test."
KEY = "k."
SECRET = b"0123456789abcdef0123456789abcdef"


def _seeds() -> list[bytes]:
    keyring = dns.tsigkeyring.from_text({KEY: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="})
    update = dns.update.UpdateMessage(ZONE, keyring=keyring, keyalgorithm=dns.tsig.HMAC_SHA256)
    update.present("www", "A")
    update.absent("new")
    update.replace("www", 60, "A", "192.0.2.8")
    update.delete("old", "TXT", '"x"')
    return [
        dns.message.make_query("www.example.test.", "A").to_wire(),
        dns.message.make_query("www.example.test.", "TXT", use_edns=0, payload=4096).to_wire(),
        dns.message.make_query("alias.example.test.", "A", want_dnssec=True).to_wire(),
        update.to_wire(),
    ]


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid packet with a few bytes flipped, cut, inserted or counts inflated."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "count"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif len(data) >= 12:
            struct.pack_into("!H", data, draw(st.sampled_from([4, 6, 8, 10])),
                             draw(st.integers(0, 0xFFFF)))
    return bytes(data)


packets = st.one_of(mutated(), st.binary(min_size=12, max_size=200))


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[DNSServer]:
    zone = Zone.empty(ZONE, records=[RR.make("www.example.test.", "A", 60, "192.0.2.1")])
    errors = _Errors()
    logging.getLogger("fake_dns").addHandler(errors)
    try:
        async with DNSServer(ZoneStore([zone]), tsig_keys={KEY: SECRET}) as s:
            yield s
    finally:
        logging.getLogger("fake_dns").removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]


class _Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.received.put_nowait(data)


def _good_query(msg_id: int = 0xBEEF) -> bytes:
    return dns.message.make_query("www.example.test.", "A", id=msg_id).to_wire()


def _check_answer_to_garbage(packet: bytes, answer: bytes) -> None:
    assert answer[:2] == packet[:2] and answer[2] & 0x80, "an answer must echo the ID, QR set"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(packet=packets)
@pytest.mark.asyncio(loop_scope="module")
async def test_garbage_over_udp_never_stops_the_server_answering(server: DNSServer,
                                                                  packet: bytes) -> None:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        _Collect, remote_addr=(server.host, server.port))
    try:
        good_id = (int.from_bytes(packet[:2].ljust(2, b"\0")) + 1) & 0xFFFF  # not the garbage's
        transport.sendto(packet)
        transport.sendto(_good_query(good_id))  # loopback UDP keeps order: garbage goes first
        while True:
            answer = await asyncio.wait_for(proto.received.get(), 5)
            if answer[:2] == struct.pack("!H", good_id):
                break
            _check_answer_to_garbage(packet, answer)
    finally:
        transport.close()
    assert dns.message.from_wire(answer).rcode() == dns.rcode.NOERROR


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(packet=packets)
@pytest.mark.asyncio(loop_scope="module")
async def test_garbage_over_tcp_never_stops_the_server_answering(server: DNSServer,
                                                                  packet: bytes) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(struct.pack("!H", len(packet)) + packet)
        await writer.drain()
        writer.write_eof()  # the server reads to the end of our stream and closes
        rest = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    if rest:
        (length,) = struct.unpack("!H", rest[:2])
        _check_answer_to_garbage(packet, rest[2:2 + length])
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        good = _good_query()
        writer.write(struct.pack("!H", len(good)) + good)
        await writer.drain()
        (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 5))
        answer = dns.message.from_wire(await reader.readexactly(length))
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer.rcode() == dns.rcode.NOERROR and answer.answer


@pytest.mark.asyncio(loop_scope="module")
async def test_a_truncated_tcp_frame_is_dropped_when_the_peer_goes_away(
        server: DNSServer) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(struct.pack("!H", 100) + b"\x00" * 10)  # promises 100 bytes, sends 10
    await writer.drain()
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await writer.wait_closed()


@pytest.mark.asyncio(loop_scope="module")
async def test_a_query_with_two_questions_is_formerr(server: DNSServer) -> None:
    wire = bytearray(_good_query())
    question = bytes(wire[12:])
    struct.pack_into("!H", wire, 4, 2)
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        _Collect, remote_addr=(server.host, server.port))
    try:
        transport.sendto(bytes(wire) + question)
        answer = await asyncio.wait_for(proto.received.get(), 5)
    finally:
        transport.close()
    assert answer[3] & 0xF == dns.rcode.FORMERR
