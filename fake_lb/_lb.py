"""The load balancer: an aiohttp server that resolves the endpoint through fake_dns on every
request (answers cached for their TTL), picks one of the addresses and forwards the request.

The logic (which address, what to count) is in `_balance.py`; this module is the adapter.

Following DNS (the property the outage turns on): the LB forwards to
http://<resolved address>:<backend_port>, so aiohttp's keep-alive pools are keyed by the
resolved address, and an address is only ever picked from the current resolution (rule 1 of
`_balance.py`). A pooled connection to an address the record no longer holds stays idle until
its keep-alive expires and is never reused. `force_close=True` turns keep-alive off altogether.

The outage summary: "Every new connection to DynamoDB in the region failed. Clients recovered
only after DNS was repaired and their cached answers expired." An LB whose resolution fails
answers 503 with the reason (`DnsFailure.message`) as its body.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable

import aiohttp
from aiohttp import web

from fake_lb._balance import (
    BACKEND_TIMEOUT,
    BACKEND_UNREACHABLE,
    REASON_HEADER,
    LbAccounts,
    LbStats,
    RoundRobin,
)
from fake_lb._net import bind_tcp
from fake_lb._resolve import DnsFailure, DnsResolver

__all__ = ["DEFAULT_ENDPOINT", "REASON_HEADER", "LoadBalancer"]

log = logging.getLogger("fake_lb.lb")

DEFAULT_ENDPOINT = "dynamodb.us-east-1.amazonaws.com"
_SHUTDOWN_TIMEOUT_S = 1.0
# RFC 9110 §7.6.1: hop-by-hop fields are not forwarded.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                         "te", "trailer", "transfer-encoding", "upgrade", "host",
                         "content-length"})


class LoadBalancer:
    """One LB on (host, port) in front of the backends that `endpoint` resolves to.

    - `dns_server`: (host, port) of fake_dns; `endpoint`: the name resolved on each request;
      `backend_port`: the port every backend listens on.
    - `clock`: monotonic seconds for the TTL cache (inject a fake one to move time in tests).
    - `dns_timeout_s`, `forward_timeout_s`: bounds on one DNS query and one forwarded request.
    - `force_close`: no keep-alive to backends at all (default: keep-alive, pools per address).

    Use `async with LoadBalancer(...) as lb:`; `lb.url`, `lb.stats()`.
    """

    def __init__(
        self,
        dns_server: tuple[str, int],
        backend_port: int,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
        clock: Callable[[], float] = time.monotonic,
        dns_timeout_s: float = 0.5,
        forward_timeout_s: float = 2.0,
        force_close: bool = False,
    ) -> None:
        if not 0 < backend_port < 65536:
            raise ValueError(f"backend_port must be a TCP port (1..65535), got {backend_port}")
        self.endpoint = endpoint
        self.backend_port = backend_port
        self.resolver = DnsResolver(dns_server, clock=clock, timeout_s=dns_timeout_s)
        self.address = host if sock is None else sock.getsockname()[0]
        self.port = port if sock is None else sock.getsockname()[1]
        self._bind = (host, port)
        self._sock = sock
        self._forward_timeout = aiohttp.ClientTimeout(total=forward_timeout_s)
        self._force_close = force_close
        self._picker = RoundRobin()
        self._accounts = LbAccounts(f"{host}:{port}")
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def stats(self) -> LbStats:
        return self._accounts.snapshot()

    async def wait_answered(self, count: int) -> None:
        """Return once this load balancer has answered `count` requests in all (forwarded or
        failed): what a test waits for instead of polling. Bound it with `asyncio.wait_for`."""
        if self._answered_so_far() >= count:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((count, waiter))
        await waiter

    def _answered_so_far(self) -> int:
        stats = self._accounts.snapshot()
        return stats.forwarded + sum(n for _, n in stats.failures)

    def _answered(self) -> None:
        if not self._waiters:
            return
        done = self._answered_so_far()
        for count, waiter in self._waiters:
            if done >= count and not waiter.done():
                waiter.set_result(None)
        self._waiters = [(c, w) for c, w in self._waiters if not w.done()]

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError(f"load balancer {self.url} is already started")
        # The resolver is passed explicitly: if aiodns is installed it would otherwise become
        # aiohttp's default, with a c-ares cache that ignores our TTL handling.
        connector = aiohttp.TCPConnector(resolver=self.resolver, use_dns_cache=False,
                                         force_close=self._force_close, limit=256)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._forward_timeout,
                                              auto_decompress=False)
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_get("/stats", self._get_stats)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
                               handle_signals=False)
        self._runner = runner
        try:
            await runner.setup()
            sock = self._sock if self._sock is not None else bind_tcp(*self._bind)
            self.address, self.port = sock.getsockname()[:2]
            self._accounts.name = f"{self.address}:{self.port}"
            await web.SockSite(runner, sock).start()
        except BaseException:
            await self.close()
            raise
        log.info("load balancer listening on %s for %s (backends on port %d)",
                 self.url, self.endpoint, self.backend_port)

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        session, self._session = self._session, None
        try:
            if runner is not None:
                await runner.cleanup()
        finally:
            if session is not None:
                await session.close()
            await self.resolver.close()

    async def __aenter__(self) -> LoadBalancer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- handlers ----------------------------------------------------------------------------

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats().to_json())

    def _fail(self, status: int, reason: str, message: str, *, dns: bool = False) -> web.Response:
        self._accounts.failed(reason, message, resolution_failed=dns)
        self._answered()
        response = web.Response(status=status, text=message + "\n")
        response.headers[REASON_HEADER] = reason
        return response

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        self._accounts.request()
        outcome = await self.resolver.lookup(self.endpoint)
        if isinstance(outcome, DnsFailure):
            return self._fail(503, outcome.kind.value, outcome.message, dns=True)
        self._accounts.resolved(outcome.addresses)
        address = self._picker.pick(outcome.addresses)
        session = self._session
        if session is None:  # closing: the runner is shutting down under us
            return self._fail(503, BACKEND_UNREACHABLE, f"load balancer {self.url} is closing")
        target = f"http://{address}:{self.backend_port}{request.rel_url}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        try:
            async with session.request(request.method, target, headers=headers, data=body,
                                       allow_redirects=False) as upstream:
                payload = await upstream.read()
                status = upstream.status
                upstream_headers = {k: v for k, v in upstream.headers.items()
                                    if k.lower() not in _HOP_BY_HOP}
        except TimeoutError:
            return self._fail(504, BACKEND_TIMEOUT,
                              f"backend {address}:{self.backend_port} did not answer within "
                              f"{self._forward_timeout.total:g} s")
        except aiohttp.ClientError as exc:
            return self._fail(502, BACKEND_UNREACHABLE,
                              f"backend {address}:{self.backend_port} unreachable: "
                              f"{type(exc).__name__}: {exc}")
        self._accounts.forwarded(address)
        self._answered()
        return web.Response(status=status, body=payload, headers=upstream_headers)
