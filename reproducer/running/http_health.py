"""The Planner's real health source: each backend's `/healthz`, read over HTTP.

The AWS summary: the Planner watches the health and capacity of the service's load balancers
(in this model the A records carry backend addresses, so the backends are what it
watches). A backend that does not answer within the timeout, refuses the connection or answers
garbage is reported unhealthy with capacity 0, so a plan is made of live addresses only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp

from reproducer.world.health import BackendHealth

__all__ = ["HttpHealthSource", "health_from_reply"]

log = logging.getLogger(__name__)


def health_from_reply(address: str, status: int, payload: Any) -> BackendHealth:
    """The health a `/healthz` reply stands for (pure): healthy only with status 200, a JSON
    object saying healthy, and a positive integer capacity."""
    if status != 200 or not isinstance(payload, dict) or payload.get("healthy") is not True:
        return BackendHealth(address, False, 0)
    capacity = payload.get("capacity")
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity <= 0:
        return BackendHealth(address, False, 0)
    return BackendHealth(address, True, capacity)


class HttpHealthSource:
    """Conforms to `reproducer.HealthSource`: `await source.read()` checks every backend at
    http://<address>:<port>/healthz concurrently, each bounded by `timeout_s`, and returns
    their health sorted by address. No state is kept between reads."""

    def __init__(self, addresses: Sequence[str], port: int, *, timeout_s: float = 0.5) -> None:
        if not addresses:
            raise ValueError("HttpHealthSource needs at least one backend address")
        self.addresses = tuple(sorted(set(addresses)))
        self.port = port
        self.timeout_s = timeout_s

    async def read(self) -> tuple[BackendHealth, ...]:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        connector = aiohttp.TCPConnector(force_close=True, use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            return tuple(await asyncio.gather(*(self._check(session, a) for a in self.addresses)))

    async def _check(self, session: aiohttp.ClientSession, address: str) -> BackendHealth:
        url = f"http://{address}:{self.port}/healthz"
        try:
            async with session.get(url) as reply:
                payload = await reply.json(content_type=None)
                status = reply.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("backend %s unhealthy: %s: %s", url, type(exc).__name__, exc)
            return BackendHealth(address, False, 0)
        health = health_from_reply(address, status, payload)
        if not health.healthy:
            log.info("backend %s unhealthy: status %d, %r", url, status, payload)
        return health
