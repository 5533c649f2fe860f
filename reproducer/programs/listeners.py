"""A program's listeners: DNS over UDP and TCP, the Route 53 API and the plan store, on 127.0.0.1
ports the system picks, on the host's loop. They turn each message into an action and hold it;
they apply nothing.

Rules
-----
- Rule 1 (the port says who): a `Slot` serves one process at a time, with that process's TSIG
  key. Each request becomes an action (`reproducer.programs.wire`) put, as a `Held` request
  with the way to answer it, on the slot's queue, which the scheduler's thread reads; the
  answer comes back on the loop. What needs no world (a malformed message, a bad signature, a
  path the plan store does not serve) is answered at once.
- Rule 2 (epochs): a slot is reused from process to process; each process gets a new epoch,
  and whatever an older one left is dropped.
- Rule 3 (retransmissions): a datagram with the id and content of a request that is held is
  the same request (only the address to answer is updated); one with those of a request
  answered lately gets that answer again.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import logging
import queue
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fake_dns import DnsRequest, read_request
from reproducer.programs.spawner import Process
from reproducer.programs.wire import (
    HttpAnswer,
    dns_action,
    dns_answer,
    plan_store_action,
    plan_store_answer,
)
from reproducer.world.values import (
    Action,
    Layout,
    Result,
    Route53Answer,
    Route53Call,
    describe_action,
    request_digest,
)

__all__ = ["Event", "Exited", "Held", "Slot"]

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class Held:
    """A request a program sent, held at its listener until it is answered."""

    action: Action
    text: str  # the request in words
    epoch: int
    respond: Callable[[Result], None]  # called on the loop's thread


@dataclass(frozen=True, slots=True)
class Exited:
    """The program's process ended: its status (negative: killed by that signal)."""

    returncode: int
    stderr: str
    epoch: int


Event = Held | Exited


class _DnsUdp(asyncio.DatagramProtocol):
    def __init__(self, slot: Slot) -> None:
        self.slot = slot

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.slot.udp = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            self.slot.datagram(data, addr)
        except Exception:  # our bug, not the program's: log it, keep serving
            log.exception("%s: internal error on a %d-byte datagram", self.slot, len(data))


@dataclass(eq=False)
class Slot:
    """One program's listeners, on the host's loop (Rules 1 and 2)."""

    index: int
    events: queue.SimpleQueue[Event] = field(default_factory=queue.SimpleQueue)
    epoch: int = 0
    name: str = ""
    layout: Layout = field(default_factory=Layout)
    keys: dict[str, bytes] = field(default_factory=dict)
    udp: asyncio.DatagramTransport | None = None
    dns_port: int = 0
    route53_port: int = 0
    plans_port: int = 0
    process: Process | None = None
    _held_udp: dict[tuple[int, str], tuple[str | Any, int]] = field(default_factory=dict)
    _answered_udp: collections.OrderedDict[tuple[int, str], bytes] = field(
        default_factory=collections.OrderedDict)
    _closers: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    _waiting: set[asyncio.Future[Result]] = field(default_factory=set)  # held over TCP, HTTP

    def __str__(self) -> str:
        return f"slot {self.index} ({self.name or 'idle'})"

    def arm(self, name: str, layout: Layout) -> str:
        """Ready for a new process playing `name`: a new epoch, a new key, nothing held.
        Returns the key as NAME:BASE64SECRET."""
        self.epoch += 1
        self.name = name
        self.layout = layout
        secret = secrets.token_bytes(32)
        self.keys = {f"{name}.": secret}
        self._held_udp.clear()
        self._answered_udp.clear()
        return f"{name}:{base64.b64encode(secret).decode()}"

    def hold(self, action: Action, text: str, respond: Callable[[Result], None]) -> None:
        self.events.put(Held(action, text, self.epoch, respond))

    # -- DNS --------------------------------------------------------------------------------

    def datagram(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        request = read_request(data, tcp=False, keys=self.keys, now=int(time.time()))
        if request is None:
            return
        udp = self.udp
        assert udp is not None
        if isinstance(request, bytes):
            udp.sendto(request, addr)
            return
        action = dns_action(request)
        key = (request.id, request_digest(action))
        if key in self._held_udp:  # Rule 3: a retransmission of a held request
            self._held_udp[key] = addr
            return
        answered = self._answered_udp.get(key)
        if answered is not None:  # Rule 3: a retransmission of one already answered
            udp.sendto(answered, addr)
            return
        self._held_udp[key] = addr
        epoch = self.epoch

        def respond(result: Result) -> None:
            if epoch != self.epoch or key not in self._held_udp:
                return
            wire = dns_answer(request, result, self.keys, int(time.time()))
            to = self._held_udp.pop(key)
            self._answered_udp[key] = wire
            while len(self._answered_udp) > 16:
                self._answered_udp.popitem(last=False)
            udp.sendto(wire, to)

        self.hold(action, request.describe(), respond)

    async def dns_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """RFC 7766: length-framed messages, answered in order on the connection."""
        try:
            while True:
                length = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(length)
                request = read_request(data, tcp=True, keys=self.keys, now=int(time.time()))
                if request is None:
                    continue
                if not isinstance(request, DnsRequest):
                    answer = request
                else:
                    result = await self._held(dns_action(request), request.describe())
                    answer = dns_answer(request, result, self.keys, int(time.time()))
                writer.write(len(answer).to_bytes(2, "big") + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def release(self) -> None:
        """Its process has ended: what it left held will never be answered (the handlers
        waiting on a connection are cancelled), and a new epoch starts (Rule 2)."""
        self.epoch += 1
        for future in self._waiting:
            future.cancel()
        self._waiting.clear()
        self._held_udp.clear()

    async def _held(self, action: Action, text: str) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.add(future)
        future.add_done_callback(self._waiting.discard)

        def respond(result: Result) -> None:
            if not future.done():
                future.set_result(result)

        self.hold(action, text, respond)
        return await future

    # -- HTTP -------------------------------------------------------------------------------

    async def route53(self, http: Any) -> Any:
        from aiohttp import web

        from fake_dns.route53 import parse_request

        body = await http.read()
        request = parse_request(http.method, http.path, http.query.items(), http.headers, body)
        call = Route53Call(request, self.name)
        result = await self._held(call, request.describe())
        assert isinstance(result, Route53Answer), result
        response = result.response
        return web.Response(status=response.status, headers=dict(response.headers),
                            body=response.body)

    async def plans(self, http: Any) -> Any:
        from aiohttp import web

        got = plan_store_action(http.method, http.path, http.query)
        answer = got if isinstance(got, HttpAnswer) else plan_store_answer(
            await self._held(got, describe_action(got)), self.layout)
        return web.Response(status=answer.status, headers=dict(answer.headers),
                            body=answer.body or None)

    # -- lifecycle ----------------------------------------------------------------------------

    async def listen(self) -> None:
        """Bind the three listeners on 127.0.0.1, ports chosen by the system."""
        from aiohttp import web

        loop = asyncio.get_running_loop()
        for attempt in range(8):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _DnsUdp(self), local_addr=("127.0.0.1", 0))
            port = transport.get_extra_info("sockname")[1]
            try:
                tcp = await asyncio.start_server(self.dns_tcp, "127.0.0.1", port,
                                                 reuse_address=True)
            except OSError:
                transport.close()  # another socket has the TCP side of this port: again
                if attempt == 7:
                    raise
                continue
            break
        self.dns_port = port

        async def close_dns() -> None:
            transport.close()
            tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(tcp.wait_closed(), 1.0)

        self._closers.append(close_dns)
        for handler, attr in ((self.route53, "route53_port"), (self.plans, "plans_port")):
            app = web.Application(client_max_size=(1 << 20) + 1)
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                   shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            setattr(self, attr, runner.addresses[0][1])
            self._closers.append(runner.cleanup)

    async def close(self) -> None:
        for close in self._closers:
            with contextlib.suppress(Exception):
                await close()
        self._closers.clear()
