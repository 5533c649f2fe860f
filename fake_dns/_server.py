"""The asyncio adapters: UDP and TCP sockets around the sans-I/O `Responder`.

Lifecycle: `start()` replays the journal, binds UDP (port 0 picks an ephemeral port), then TCP
on the same port; `close()` stops both, ends every open TCP connection and closes the journal.
`async with DNSServer(...)` does both. Nothing here decides anything about DNS.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import socket
import struct
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import cast

from fake_dns._journal import Journal
from fake_dns._records import canonical_name
from fake_dns._responder import DEFAULT_MAX_UDP_PAYLOAD, Responder
from fake_dns._zone import ZoneStore

__all__ = ["DNSServer"]

log = logging.getLogger("fake_dns.server")

_BIND_ATTEMPTS = 8
_DRAIN_BATCH = 64
_MAX_DATAGRAM = 65535


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, responder: Responder, sock: socket.socket) -> None:
        self._responder = responder
        self._sock = sock
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._answer(data, addr)
        # asyncio reads one datagram per readiness event; under load many more are queued.
        # Read those too (a bounded batch, so TCP and timers still get their turn): it saves
        # one event-loop iteration per datagram, the largest cost of a cached answer.
        recvfrom = self._sock.recvfrom
        for _ in range(_DRAIN_BATCH):
            try:
                data, addr = recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.error_received(exc)
                return
            self._answer(data, addr)

    def _answer(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            response = self._responder.respond(data, tcp=False)
        except Exception:  # our bug, not the peer's: log it, keep serving, do not answer
            log.exception("internal error answering a %d-byte UDP request from %s",
                          len(data), addr)
            return
        if response is not None and self.transport is not None:
            self.transport.sendto(response, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)  # e.g. ICMP port unreachable from a departed client


class DNSServer:
    """An authoritative DNS server for `store` on UDP and TCP, same host and port.

    `tsig_keys` maps key names to HMAC-SHA256 secrets; updates must be signed with one of them.
    `journal`, when given, is replayed at start and then writes every update (fsync'd) before
    the update commits (the store's durable log); `journal_repair` sets damaged journal lines
    aside instead of refusing to start.
    """

    def __init__(self, store: ZoneStore, host: str = "127.0.0.1", port: int = 0,
                 tsig_keys: Mapping[str, bytes] | None = None, journal: Path | None = None, *,
                 journal_repair: bool = False, clock: Callable[[], float] = time.time,
                 max_udp_payload: int = DEFAULT_MAX_UDP_PAYLOAD,
                 tcp_idle_timeout_s: float = 10.0, max_tcp_connections: int = 256) -> None:
        self.store = store
        self.host = host
        self.port = port
        self._requested_port = port
        self._keys = {canonical_name(name): secret for name, secret in (tsig_keys or {}).items()}
        self._journal = Journal(journal, repair=journal_repair) if journal is not None else None
        self._clock = clock
        self._max_udp_payload = max_udp_payload
        self._tcp_idle_timeout_s = tcp_idle_timeout_s
        self._max_tcp_connections = max_tcp_connections
        self._responder: Responder | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tcp_tasks: set[asyncio.Task[None]] = set()
        self._durable_log_set = False

    async def __aenter__(self) -> DNSServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        if self._journal is not None:
            self._journal.replay(self.store)
            self._journal.open()
            self.store.set_durable_log(self._journal.append)
            self._durable_log_set = True
        self._responder = Responder(self.store, self._keys, self._clock,
                                    max_udp_payload=self._max_udp_payload)
        try:
            await self._bind()
        except BaseException:
            await self.close()
            raise
        log.info("fake-dns serving %s on %s (udp+tcp)", ", ".join(self.store.zones) or "no zones",
                 self.address)

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._responder is not None
        for attempt in range(_BIND_ATTEMPTS):
            # Our own socket, so the protocol can drain it (see _UDPProtocol).
            family, _, _, _, sockaddr = socket.getaddrinfo(
                self.host, self._requested_port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)  # for bursts
                sock.bind(sockaddr)
            except OSError:
                sock.close()
                raise
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(_UDPProtocol, self._responder, sock), sock=sock)
            port = sock.getsockname()[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port,
                                                       reuse_address=True, backlog=512)
            except OSError as exc:
                transport.close()
                # Another socket holds the TCP side of our ephemeral UDP port: pick another.
                if exc.errno != errno.EADDRINUSE or self._requested_port != 0 or \
                        attempt == _BIND_ATTEMPTS - 1:
                    raise
                continue
            self._udp = transport
            self.port = port
            return

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for task in list(self._tcp_tasks):
                task.cancel()
            await asyncio.gather(*self._tcp_tasks, return_exceptions=True)
            await self._tcp.wait_closed()
            self._tcp = None
        if self._responder is not None:
            self._responder.close()
            self._responder = None
        if self._durable_log_set:
            self.store.set_durable_log(None)
            self._durable_log_set = False
        if self._journal is not None:
            self._journal.close()

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """RFC 7766 §6.2: many messages per connection, 2-byte length framing (RFC 1035
        §4.2.2), answered in order; closed after an idle timeout (§6.2.3) or when over the cap
        of open connections (§6.2.2)."""
        task = asyncio.current_task()
        assert task is not None
        if len(self._tcp_tasks) >= self._max_tcp_connections:
            log.warning("refusing a TCP connection: %d already open", len(self._tcp_tasks))
            writer.close()
            return
        self._tcp_tasks.add(task)
        try:
            while self._responder is not None:
                async with asyncio.timeout(self._tcp_idle_timeout_s):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    request = await reader.readexactly(length)
                try:
                    response = self._responder.respond(request, tcp=True)
                except Exception:
                    log.exception("internal error answering a %d-byte TCP request", length)
                    break
                if response is None:
                    continue
                writer.write(struct.pack("!H", len(response)) + response)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            self._tcp_tasks.discard(task)
            writer.close()
