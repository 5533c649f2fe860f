"""The server under floods, on real sockets: refused UPDATEs, TCP connection bursts over the
cap and beyond the descriptor limit, pipelining clients, clients that never read, answers too
big for TCP. Every run is bounded; waits poll a condition, none asserts on wall-clock time."""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import resource
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.tsigkeyring
import dns.update
import pytest

from fake_dns import RR, Change, DNSClient, DNSServer, Update, Zone, ZoneStore
from fake_dns._ratelimit import LogLimiter
from fake_dns.testing import ServerProcess

KEY_NAME = "enactor-key."
SECRET = b"0123456789abcdef0123456789abcdef"
ZONE = "example.test."
WAIT_S = 20.0  # the most any condition here is waited for


def _store(big_records: int = 0) -> ZoneStore:
    base = Zone.empty(ZONE)
    records = [RR.make("www.example.test.", "A", 60, "192.0.2.1")]
    records += [RR.make("big.example.test.", "A", 60, f"10.0.{i >> 8}.{i & 255}")
                for i in range(big_records)]
    records += [RR.make("fat.example.test.", "TXT", 60, f'"{i:02d}' + "x" * 200 + '"')
                for i in range(12)]
    return ZoneStore([Zone(ZONE, base.soa, [*base.records()[1:], *records])])


@asynccontextmanager
async def serving(store: ZoneStore | None = None, *, max_tcp_connections: int = 256,
                  tcp_idle_timeout_s: float = 10.0) -> AsyncIterator[DNSServer]:
    async with DNSServer(store or _store(), tsig_keys={KEY_NAME: SECRET},
                         max_tcp_connections=max_tcp_connections,
                         tcp_idle_timeout_s=tcp_idle_timeout_s) as server:
        yield server


def _frame(name: str, rtype: str = "A", msg_id: int = 0) -> bytes:
    wire = dns.message.make_query(name, rtype, id=msg_id).to_wire()
    return struct.pack("!H", len(wire)) + wire


async def _raw_answer(reader: asyncio.StreamReader) -> bytes:
    async with asyncio.timeout(WAIT_S):
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        return await reader.readexactly(length)


async def _answer(reader: asyncio.StreamReader) -> dns.message.Message:
    return dns.message.from_wire(await _raw_answer(reader))


async def _ask(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that has had one answer: the server has accepted and served it."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(_frame("www.example.test."))
    assert (await _answer(reader)).rcode() == dns.rcode.NOERROR
    return reader, writer


# -- the log limiter, pure --------------------------------------------------------------------


def test_a_flood_of_one_kind_writes_its_burst_then_one_count(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limiter = LogLimiter(logging.getLogger("test.limiter"), lambda: now[0], burst=3,
                         window_s=10.0)
    with caplog.at_level(logging.INFO, logger="test.limiter"):
        for n in range(1000):
            limiter.log("refused UPDATEs", logging.INFO, "refused %d", n)
        limiter.log("other things", logging.WARNING, "other")
        limiter.flush()
        limiter.flush()  # nothing left to count
    assert caplog.messages == ["refused 0", "refused 1", "refused 2", "other",
                               "997 more refused UPDATEs not logged (at most 3 lines per 10 s)"]


def test_a_new_window_lets_lines_through_again_and_says_how_many_were_not_written(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limiter = LogLimiter(logging.getLogger("test.limiter"), lambda: now[0], burst=1,
                         window_s=10.0)
    with caplog.at_level(logging.INFO, logger="test.limiter"):
        for _ in range(5):
            limiter.log("pauses", logging.WARNING, "paused")
        now[0] = 10.0
        limiter.log("pauses", logging.WARNING, "paused")
    assert caplog.messages == ["paused", "paused (after 4 more pauses not logged)"]


# -- refused UPDATEs ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_flood_of_refused_updates_writes_a_few_lines_and_a_count(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="fake_dns"):
        async with serving() as server, DNSClient(server.host, server.port) as client:
            replies = await asyncio.gather(*(
                client.update(Update(ZONE, changes=(
                    Change.add(f"n{n}.example.test.", "A", 60, "192.0.2.1"),)))
                for n in range(300)))
    assert {reply.rcode for reply in replies} == {dns.rcode.REFUSED}
    lines = [m for m in caplog.messages if "unsigned UPDATE" in m]
    assert len(lines) <= 6, lines
    assert lines[-1] == "295 more unsigned UPDATEs not logged (at most 5 lines per 10 s)"


# -- answers too big for TCP ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_answer_over_65535_bytes_on_tcp_is_sent_truncated_and_the_connection_goes_on(
        ) -> None:
    async with serving(_store(big_records=6000)) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(_frame("big.example.test.", msg_id=1) + _frame("www.example.test.",
                                                                        msg_id=2))
            big, small = await _answer(reader), await _answer(reader)
        finally:
            writer.close()
    assert (big.id, big.rcode(), bool(big.flags & dns.flags.TC), big.answer) == \
        (1, dns.rcode.NOERROR, True, [])
    assert (small.id, [rr.to_text() for rr in small.answer[0]]) == (2, ["192.0.2.1"])


# -- the TCP connection cap -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_connection_over_the_cap_waits_for_a_slot_instead_of_being_closed() -> None:
    async with serving(max_tcp_connections=3) as server:
        holders = [await _ask(server.host, server.port) for _ in range(3)]
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(_frame("www.example.test.", msg_id=7))
        # Round trips on a held connection: the loop has turned many times since the fourth
        # connection arrived, so a server that accepts over the cap has accepted and closed it.
        for _ in range(3):
            holders[0][1].write(_frame("www.example.test."))
            await _answer(holders[0][0])
        holders[1][1].close()  # a slot frees: the fourth is accepted and answered
        answer = await _answer(reader)
        for _, holder in holders:
            holder.close()
        writer.close()
    assert answer.id == 7 and answer.rcode() == dns.rcode.NOERROR


@pytest.mark.asyncio
async def test_a_burst_of_connections_over_the_cap_writes_one_line_not_one_per_connection(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="fake_dns"):
        async with serving(max_tcp_connections=4) as server:
            held = [await _ask(server.host, server.port) for _ in range(4)]
            waiting = [await asyncio.open_connection(server.host, server.port)
                       for _ in range(40)]
            for _ in range(3):
                held[0][1].write(_frame("www.example.test."))
                await _answer(held[0][0])
            for _, writer in held + waiting:
                writer.close()
    cap_lines = [m for m in caplog.messages if "TCP connections open" in m]
    assert len(cap_lines) == 1, cap_lines


def test_a_burst_beyond_the_descriptor_limit_writes_no_traceback_and_is_served(
        tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    with ServerProcess(["--zone", ZONE], stderr_path=log_path) as server:
        # Far fewer descriptors than the 256 connections the server would otherwise accept.
        resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (64, 64))

        async def burst() -> list[str]:
            async def one() -> str:
                async with asyncio.timeout(WAIT_S):
                    reader, writer = await asyncio.open_connection(server.host, server.port)
                    try:
                        writer.write(_frame("missing.example.test."))
                        return dns.rcode.to_text((await _answer(reader)).rcode())
                    finally:
                        writer.close()

            return await asyncio.gather(*(one() for _ in range(300)))

        outcomes = asyncio.run(burst())
    assert set(outcomes) == {"NXDOMAIN"}
    log = log_path.read_text()
    assert "Traceback" not in log
    assert len([line for line in log.splitlines() if "WARNING" in line]) <= 4, log


# -- fairness and bounded waits ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_pipelined_messages_take_turns_with_the_event_loop() -> None:
    """300 signed UPDATEs written at once on one connection: the server answers a few per
    turn of the event loop and lets everything else (UDP, here a ticker) run in between,
    instead of answering every buffered message in one go."""
    keyring = dns.tsigkeyring.from_text({KEY_NAME: base64.b64encode(SECRET).decode()})
    frames = b""
    for n in range(300):
        update = dns.update.UpdateMessage(ZONE, keyring=keyring, keyalgorithm="hmac-sha256")
        update.add(f"n{n}.example.test.", 60, "A", "192.0.2.1")
        wire = update.to_wire()
        frames += struct.pack("!H", len(wire)) + wire
    async with serving() as server:
        zone = server.store.zones[ZONE]
        serials = [zone.serial]

        async def ticker() -> None:
            while True:
                await asyncio.sleep(0)
                serials.append(zone.serial)

        ticking = asyncio.create_task(ticker())
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(frames)
        for _ in range(300):
            assert (await _raw_answer(reader))[3] & 0xF == dns.rcode.NOERROR  # signed: raw
        writer.close()
        ticking.cancel()
    assert serials[-1] == 301
    most_per_tick = max(b - a for a, b in itertools.pairwise(serials))
    assert most_per_tick <= 16, most_per_tick


@pytest.mark.asyncio
async def test_a_client_that_never_reads_loses_its_slot_after_the_idle_timeout() -> None:
    async with serving(max_tcp_connections=2, tcp_idle_timeout_s=0.5) as server:
        sockets = []
        for _ in range(2):  # they fill both slots, then the server's writes to them block
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
            sockets.append(sock)
        frames = _frame("fat.example.test.", "TXT") * 3000  # 3000 answers of 2.5 KB each
        for sock in sockets:
            sock.send(frames)  # as much as the buffers take; the server stops reading when
            # its writes to this client block
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(_frame("www.example.test.", msg_id=9))
        answer = await _answer(reader)  # once the server has dropped a client that never read
        writer.close()
        for sock in sockets:
            sock.close()
    assert answer.id == 9 and answer.rcode() == dns.rcode.NOERROR
