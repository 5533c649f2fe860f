"""A backend node: a small aiohttp service standing for one DynamoDB front end.

Routes (all JSON unless said otherwise):
- `GET /healthz` -> {"address", "healthy", "capacity", "served"}; status 200 when healthy,
  503 when not (the body is the same, so a checker can read the capacity either way).
- `PUT /healthz` with {"healthy"?, "capacity"?} changes them (how a run makes the routine
  capacity changes that give the Planner new generations to write).
- `PUT /items/{key}` stores the request body; `GET /items/{key}` returns it, or 404.
Every response carries `X-Backend: <address>` so callers can see who served it; `served` and
`connections` count requests and the connections that carried them.

Bounded work (a `WorkLimit`, off unless its `slots` > 0; the rules are `_work.py`'s): an
`/items` request takes one of the slots for `service_s` seconds before it is answered; beyond
that it waits in line, first come first served, and beyond `max_waiting` waiters it is refused
at once with 503 and `X-Fake-LB-Reason: backend-busy`. `/healthz` then reports the slots under
"work".
The backend does not know what the items mean: a lease table, a cache, anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import weakref
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from fake_lb._balance import BACKEND_BUSY, REASON_HEADER
from fake_lb._net import bind_tcp
from fake_lb._work import UNBOUNDED, Admit, WorkGate, WorkLimit

__all__ = ["Backend"]

log = logging.getLogger("fake_lb.backend")

_SHUTDOWN_TIMEOUT_S = 1.0
_MAX_ITEM_BYTES = 64 * 1024


class Backend:
    """One backend node on (host, port). Use `async with Backend(...) as node:`.

    `sock` is an already listening socket to serve on (the fleet binds one port across many
    addresses first); otherwise one is bound on (host, port), port 0 meaning "choose".
    `capacity` is what `/healthz` advertises (the Planner's weights); `work` bounds the
    `/items` work the backend really does (the default: no bound).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, capacity: int = 1,
                 sock: socket.socket | None = None, work: WorkLimit = UNBOUNDED) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.work = WorkGate(work)
        self.service_s = work.service_s
        self._sock = sock
        self._bind = (host, port)
        self.address = host if sock is None else sock.getsockname()[0]
        self.port = port if sock is None else sock.getsockname()[1]
        self.healthy = True
        self.capacity = capacity
        self.served = 0
        # Connections that brought at least one request: lets a test see keep-alive at work.
        self.connections = 0
        self._seen: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()
        self.items: dict[str, bytes] = {}
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def health(self) -> dict[str, Any]:
        health = {"address": self.address, "healthy": self.healthy,
                  "capacity": self.capacity if self.healthy else 0, "served": self.served}
        if self.work.limited:
            health["work"] = {**self.work.stats().to_json(), "service_s": self.service_s}
        return health

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError(f"backend {self.url} is already started")
        app = web.Application(client_max_size=_MAX_ITEM_BYTES)
        app.router.add_get("/healthz", self._get_health)
        app.router.add_put("/healthz", self._put_health)
        app.router.add_get("/items/{key}", self._get_item)
        app.router.add_put("/items/{key}", self._put_item)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
                               handle_signals=False)
        await runner.setup()
        self._runner = runner
        try:
            sock = self._sock if self._sock is not None else bind_tcp(*self._bind)
            self.address, self.port = sock.getsockname()[:2]
            await web.SockSite(runner, sock).start()
        except BaseException:
            await self.close()
            raise
        log.info("backend listening on %s", self.url)

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            log.info("backend %s stopped", self.url)

    async def __aenter__(self) -> Backend:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- handlers: thin adapters ----------------------------------------------------------------

    def _reply(self, request: web.Request, response: web.Response) -> web.Response:
        self.served += 1
        transport = request.transport
        if transport is not None and transport not in self._seen:
            self._seen.add(transport)
            self.connections += 1
        response.headers["X-Backend"] = self.address
        return response

    async def _get_health(self, request: web.Request) -> web.Response:
        status = 200 if self.healthy else 503
        return self._reply(request, web.json_response(self.health(), status=status))

    async def _put_health(self, request: web.Request) -> web.Response:
        try:
            change = await request.json()
            healthy = bool(change.get("healthy", self.healthy))
            capacity = int(change.get("capacity", self.capacity))
            if capacity < 0:
                raise ValueError(f"capacity must be >= 0, got {capacity}")
        except (ValueError, TypeError, AttributeError) as exc:
            return self._reply(request, web.json_response(
                {"error": f"expected JSON {{'healthy': bool, 'capacity': int >= 0}}: {exc}"},
                status=400))
        self.healthy, self.capacity = healthy, capacity
        return await self._get_health(request)

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[bool]:
        """Hold one work slot for the service time (yields False when refused: rule 3)."""
        gate = self.work
        if not gate.limited:
            yield True
            return
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        admit = gate.arrive(ticket)
        if admit is Admit.REFUSE:
            yield False
            return
        if admit is Admit.WAIT:
            try:
                await ticket
            except asyncio.CancelledError:
                if ticket.done() and not ticket.cancelled():
                    self._pass_slot_on()  # handed a slot just as we were cancelled
                elif not gate.leave(ticket):
                    self._pass_slot_on()  # popped while cancelled: the slot was ours
                raise
        try:
            if self.service_s:
                await asyncio.sleep(self.service_s)
            yield True
        finally:
            self._pass_slot_on()

    def _pass_slot_on(self) -> None:
        """Free a slot: the longest waiter still waiting gets it (`_work.py` rules 2 and 4)."""
        while True:
            ticket = self.work.release()
            if not isinstance(ticket, asyncio.Future):
                return
            if not ticket.done():
                ticket.set_result(None)
                return

    def _busy(self, request: web.Request) -> web.Response:
        stats = self.work.stats()
        response = web.Response(status=503, text=f"backend {self.address} busy: all "
                                f"{stats.slots} slots taken and {stats.waiting} requests "
                                "waiting\n")
        response.headers[REASON_HEADER] = BACKEND_BUSY
        return self._reply(request, response)

    async def _get_item(self, request: web.Request) -> web.Response:
        async with self._slot() as admitted:
            if not admitted:
                return self._busy(request)
            value = self.items.get(request.match_info["key"])
        if value is None:
            return self._reply(request, web.Response(status=404, text="no such item\n"))
        return self._reply(request, web.Response(body=value,
                                                 content_type="application/octet-stream"))

    async def _put_item(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with self._slot() as admitted:
            if not admitted:
                return self._busy(request)
            self.items[request.match_info["key"]] = body
        return self._reply(request, web.Response(status=204))
