"""The asyncio adapters: UDP and TCP sockets around the sans-I/O `Responder`.

Lifecycle: `start()` replays the journal, binds UDP (port 0 picks an ephemeral port), then TCP
on the same port; `close()` stops both, ends every open TCP connection and closes the journal.
`async with DNSServer(...)` does both. Nothing here decides anything about DNS.

Rules
-----
- Rule 1, durability: the journal is the store's durable log (`ZoneStore.set_durable_log`), so
  an update is on disk before it commits, whoever sends it; one the journal cannot write is
  answered SERVFAIL and changes nothing (see `_journal.py` and `_zone.py`).
- Rule 2, the TCP cap (RFC 7766 §6.2.2): at most `max_tcp_connections` connections are open.
  The server runs its own accept loop and accepts only below the cap; at the cap it stops
  accepting, and later clients wait in the kernel's listen backlog until a connection closes
  (they are not accepted only to be closed). Out of descriptors (EMFILE, ENFILE), it likewise
  stops accepting until a connection closes or `_ACCEPT_RETRY_S` passes. No traceback.
- Rule 3, logs: reaching the cap and running out of descriptors are logged through a
  `LogLimiter`, one line per kind per 10 s and then a count (refused UPDATEs get a few lines
  per 10 s the same way): a burst of connections writes a line, not a line per connection.
- Rule 4, fairness: TCP connections take turns (`_Turns`): each answers one message per turn,
  in the order they asked, and a turn of the event loop answers at most `_TCP_PER_TURN`
  messages before the loop polls its sockets again. So clients pipelining many queries share
  the loop with each other, and UDP waits for at most that many TCP answers, however many
  connections are busy.
- Rule 5, every wait on a client is bounded by `tcp_idle_timeout_s`: for its next message
  (RFC 7766 §6.2.3) and for its reading of our answers (a blocked write). A client that lets
  either run out loses its connection, aborted: answers it never read are dropped, so a client
  that never reads holds neither a slot nor a descriptor for longer than the timeout.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
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
from fake_dns._ratelimit import LogLimiter
from fake_dns._records import canonical_name
from fake_dns._responder import DEFAULT_MAX_UDP_PAYLOAD, Responder
from fake_dns._zone import ZoneStore

__all__ = ["DNSServer"]

log = logging.getLogger("fake_dns.server")

_BIND_ATTEMPTS = 8
_DRAIN_BATCH = 64
_MAX_DATAGRAM = 65535
_LISTEN_BACKLOG = 512
_ACCEPT_RETRY_S = 0.5  # out of descriptors and no connection closing: try again after this
_TCP_PER_TURN = 8  # TCP messages answered per turn of the event loop (rule 4)


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


class _Turns:
    """Rule 4: at most `per_turn` TCP messages per turn of the event loop, first come first
    served. A connection calls `take()` before each message; beyond the budget it waits, and
    the budget is renewed by a callback scheduled with `call_soon`, which runs only after the
    loop has polled its sockets (UDP included) once more."""

    def __init__(self, per_turn: int) -> None:
        self._per_turn = per_turn
        self._used = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._renewal: asyncio.Handle | None = None

    async def take(self) -> None:
        if self._renewal is None:
            self._renewal = asyncio.get_running_loop().call_soon(self._renew)
        if self._used < self._per_turn and not self._waiting:
            self._used += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        await turn

    def _renew(self) -> None:
        self._renewal = None
        self._used = 0
        while self._waiting and self._used < self._per_turn:
            turn = self._waiting.popleft()
            if not turn.done():  # not cancelled (the server is closing)
                turn.set_result(None)
                self._used += 1
        if self._used:  # the woken ones run in the next turn: count them there
            self._renewal = asyncio.get_running_loop().call_soon(self._renew)

    def cancel(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None


class DNSServer:
    """An authoritative DNS server for `store` on UDP and TCP, same host and port.

    `tsig_keys` maps key names to HMAC-SHA256 secrets; updates must be signed with one of them.
    `journal`, when given, is replayed at start and then writes every update (fsync'd) before
    the update commits (rule 1); `journal_repair` sets damaged journal lines aside instead of
    refusing to start. `tcp_idle_timeout_s` bounds every wait on a TCP client (rule 5).
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
        self._limited = LogLimiter(log)
        self._limited_tcp = LogLimiter(log, burst=1)  # rule 3: one line per burst
        self._responder: Responder | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._listener: socket.socket | None = None
        self._background: list[asyncio.Task[None]] = []
        self._tcp_tasks: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._turns = _Turns(_TCP_PER_TURN)
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
        self._slot_freed = asyncio.Event()  # anew: a server may be started again, in another
        self._turns = _Turns(_TCP_PER_TURN)  # event loop
        if self._journal is not None:
            self._journal.replay(self.store)
            self._journal.open()
            self.store.set_durable_log(self._journal.append)
            self._durable_log_set = True
        self._responder = Responder(self.store, self._keys, self._clock,
                                    max_udp_payload=self._max_udp_payload,
                                    log_limiter=self._limited)
        try:
            await self._bind()
        except BaseException:
            await self.close()
            raise
        assert self._listener is not None
        self._background = [asyncio.create_task(self._accept(self._listener)),
                            asyncio.create_task(self._flush_logs())]
        log.info("fake-dns serving %s on %s (udp+tcp)", ", ".join(self.store.zones) or "no zones",
                 self.address)

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._responder is not None
        for attempt in range(_BIND_ATTEMPTS):
            # Our own sockets: so the UDP protocol can drain its socket (see _UDPProtocol) and
            # the TCP side can stop accepting at the cap (rule 2).
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
            listener = socket.socket(family, socket.SOCK_STREAM)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((*sockaddr[:1], port, *sockaddr[2:]))
                listener.listen(_LISTEN_BACKLOG)
                listener.setblocking(False)
            except OSError as exc:
                listener.close()
                transport.close()
                # Another socket holds the TCP side of our ephemeral UDP port: pick another.
                if exc.errno != errno.EADDRINUSE or self._requested_port != 0 or \
                        attempt == _BIND_ATTEMPTS - 1:
                    raise
                continue
            self._udp = transport
            self._listener = listener
            self.port = port
            return

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for task in list(self._tcp_tasks):
            task.cancel()
        await asyncio.gather(*self._tcp_tasks, return_exceptions=True)
        self._turns.cancel()
        if self._responder is not None:
            self._responder.close()
            self._responder = None
        if self._durable_log_set:
            self.store.set_durable_log(None)
            self._durable_log_set = False
        if self._journal is not None:
            self._journal.close()
        self._limited.flush()
        self._limited_tcp.flush()

    async def _flush_logs(self) -> None:
        while True:
            await asyncio.sleep(self._limited.window_s)
            self._limited.flush()
            self._limited_tcp.flush()

    # -- TCP ---------------------------------------------------------------------------------

    async def _accept(self, listener: socket.socket) -> None:
        """Rule 2: accept while below the cap; at the cap, or out of descriptors, wait."""
        loop = asyncio.get_running_loop()
        while True:
            if len(self._tcp_tasks) >= self._max_tcp_connections:
                self._limited_tcp.log(
                    "pauses at the TCP connection cap", logging.WARNING,
                    "%d TCP connections open, the most allowed: not accepting more until one "
                    "closes", len(self._tcp_tasks))
                await self._slot_or_timeout(None)
                continue
            try:
                conn, _ = await loop.sock_accept(listener)
            except ConnectionError:
                continue  # ECONNABORTED: the client left before we accepted it
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS, ENOMEM: out of resources
                self._limited_tcp.log(
                    "failures to accept TCP connections", logging.WARNING,
                    "cannot accept TCP connections (%s, %d open): not accepting until one "
                    "closes or %.1f s pass", exc.strerror or exc, len(self._tcp_tasks),
                    _ACCEPT_RETRY_S)
                await self._slot_or_timeout(_ACCEPT_RETRY_S)
                continue
            task = asyncio.create_task(self._serve_tcp(conn))
            self._tcp_tasks.add(task)
            task.add_done_callback(self._connection_closed)

    def _connection_closed(self, task: asyncio.Task[None]) -> None:
        self._tcp_tasks.discard(task)
        self._slot_freed.set()

    async def _slot_or_timeout(self, timeout_s: float | None) -> None:
        self._slot_freed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._slot_freed.wait()

    async def _serve_tcp(self, conn: socket.socket) -> None:
        """RFC 7766 §6.2: many messages per connection, 2-byte length framing (RFC 1035
        §4.2.2), answered in order, one per turn of the loop (rule 4); every wait bounded by
        the idle timeout (rule 5)."""
        try:
            reader, writer = await asyncio.open_connection(sock=conn)
        except OSError:
            conn.close()
            return
        timeout_s = self._tcp_idle_timeout_s
        try:
            while self._responder is not None:
                async with asyncio.timeout(timeout_s):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    request = await reader.readexactly(length)
                await self._turns.take()  # rule 4
                try:
                    response = self._responder.respond(request, tcp=True)
                except Exception:
                    log.exception("internal error answering a %d-byte TCP request", length)
                    break
                if response is not None:
                    writer.write(struct.pack("!H", len(response)) + response)
                    async with asyncio.timeout(timeout_s):  # rule 5: a client that never reads
                        await writer.drain()
        except asyncio.CancelledError:
            writer.transport.abort()
            raise
        except TimeoutError:
            writer.transport.abort()
            return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        # The client is done: send what it has not read yet, for as long as rule 5 allows.
        writer.close()
        try:
            async with asyncio.timeout(timeout_s):
                await writer.wait_closed()
        except (TimeoutError, OSError):
            writer.transport.abort()
