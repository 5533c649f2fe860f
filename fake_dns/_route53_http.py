"""The aiohttp adapter around the sans-I/O Route 53 API. Nothing here decides anything.

Each HTTP request is read, parsed (`parse_request`), passed to the `hold` hook when there is
one (a scheduler awaits there until it grants the request), handed to `Route53Api.handle`
(which applies a change batch in one synchronous step), passed with its response to
`answered` when there is one, and answered. Many apps may share one `Route53Api`, and so one
store: one listener per program, the port saying who sent what.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from aiohttp import web

from fake_dns._route53_api import Route53Api
from fake_dns._route53_values import Route53Request, Route53Response
from fake_dns._route53_wire import MAX_BODY_BYTES, parse_request
from fake_dns._zone import ZoneStore

__all__ = ["Route53Server", "route53_app"]

log = logging.getLogger("fake_dns.route53")

Hold = Callable[[Route53Request], Awaitable[None]]
Answered = Callable[[Route53Request, Route53Response], None]


async def _read_body(http: web.Request) -> bytes:
    """The body, or its first MAX_BODY_BYTES + 1 bytes: enough for parse_request to see that
    it is too large, without holding more of it."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BODY_BYTES:
        chunk = await http.content.read(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def route53_app(api: Route53Api, *, hold: Hold | None = None, answered: Answered | None = None,
                principal: str | None = None) -> web.Application:
    """An aiohttp application serving `api` at every path.

    `hold(request)` is awaited before each request is applied; `answered(request, response)`
    is called after, before the response is sent. `principal` names who made the changes that
    come in through this app (default: each request's access key id).
    """

    async def serve(http: web.Request) -> web.Response:
        body = await _read_body(http)
        request = parse_request(http.method, http.path, http.query.items(), http.headers, body)
        if hold is not None:
            await hold(request)
        response = api.handle(request, principal=principal)
        if answered is not None:
            answered(request, response)
        log.debug("%s -> %s", request.describe(), response.describe())
        return web.Response(status=response.status, headers=dict(response.headers),
                            body=response.body)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", serve)
    return app


class Route53Server:
    """The Route 53 API for `store` (or a shared `api`) on HOST:PORT; port 0 = any free port.

    `async with Route53Server(store, "127.0.0.1", 0) as server:` then `server.port`.
    """

    def __init__(self, store: ZoneStore | None = None, host: str = "127.0.0.1", port: int = 0,
                 *, api: Route53Api | None = None, hold: Hold | None = None,
                 answered: Answered | None = None, principal: str | None = None) -> None:
        if api is None:
            if store is None:
                raise ValueError("Route53Server needs a store or an api")
            api = Route53Api(store)
        self.api = api
        self.host = host
        self.port = port
        self._app = route53_app(api, hold=hold, answered=answered, principal=principal)
        self._runner: web.AppRunner | None = None

    @property
    def endpoint_url(self) -> str:
        """What AWS_ENDPOINT_URL_ROUTE_53 should be set to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> Route53Server:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def start(self) -> None:
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("Route 53 API for %s on %s", ", ".join(self.api.store.zones) or "no zones",
                 self.endpoint_url)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
