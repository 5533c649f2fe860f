"""The fleet: N backends and M load balancers on loopback addresses, with one lifecycle.

- `Fleet` runs every node in the current event loop (tests, and the `python -m fake_lb` CLI).
- `FleetProcess` starts `python -m fake_lb --json --stdin-control` as a child process and reads
  where everything listens from its ready lines; it is how another program gets a real fleet.
  The child watches its stdin: when the parent goes away (even killed with SIGKILL) the pipe
  closes and the fleet shuts down, so no process is left behind.

Addresses: backends from 127.0.0.11 up (the Planner's default script uses .11-.13), LBs from
127.0.0.101 up. Backends share one port (A records carry only addresses); LBs share another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fake_lb._backend import Backend
from fake_lb._lb import DEFAULT_ENDPOINT, LoadBalancer
from fake_lb._net import bind_shared_port, close_all, loopback_addresses
from fake_lb._work import UNBOUNDED, WorkLimit

__all__ = ["Fleet", "FleetInfo", "FleetProcess", "NodeInfo"]

log = logging.getLogger("fake_lb.fleet")

FIRST_BACKEND = "127.0.0.11"
FIRST_LB = "127.0.0.101"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """Where one node listens. `role` is "backend" or "lb"."""

    role: str
    address: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "address": self.address, "port": self.port,
                "url": self.url, "pid": self.pid}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeInfo:
        return cls(str(data["role"]), str(data["address"]), int(data["port"]), int(data["pid"]))


@dataclass(frozen=True, slots=True)
class FleetInfo:
    """The whole fleet: what a controlling program needs to send traffic and check health."""

    dns_server: tuple[str, int]
    endpoint: str
    backend_port: int
    backends: tuple[NodeInfo, ...]
    lbs: tuple[NodeInfo, ...]

    @property
    def backend_addresses(self) -> tuple[str, ...]:
        return tuple(node.address for node in self.backends)

    @property
    def lb_urls(self) -> tuple[str, ...]:
        return tuple(node.url for node in self.lbs)

    def to_json(self) -> dict[str, Any]:
        return {"dns": f"{self.dns_server[0]}:{self.dns_server[1]}", "endpoint": self.endpoint,
                "backend_port": self.backend_port,
                "backends": [n.to_json() for n in self.backends],
                "lbs": [n.to_json() for n in self.lbs]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FleetInfo:
        host, _, port = str(data["dns"]).rpartition(":")
        return cls((host, int(port)), str(data["endpoint"]), int(data["backend_port"]),
                   tuple(NodeInfo.from_json(n) for n in data["backends"]),
                   tuple(NodeInfo.from_json(n) for n in data["lbs"]))


class Fleet:
    """N backends and M LBs in this event loop. `async with Fleet(...) as fleet: fleet.info`.

    Ports 0 mean "choose a free one" (one port shared by all backends, one by all LBs).
    `clock` is handed to every LB's TTL cache. `work` bounds each backend's `/items` work
    (see `Backend`; the default: no bound).
    """

    def __init__(
        self,
        dns_server: tuple[str, int],
        *,
        backends: int = 3,
        lbs: int = 1,
        endpoint: str = DEFAULT_ENDPOINT,
        backend_port: int = 0,
        lb_port: int = 0,
        first_backend: str = FIRST_BACKEND,
        first_lb: str = FIRST_LB,
        clock: Callable[[], float] = time.monotonic,
        force_close: bool = False,
        work: WorkLimit = UNBOUNDED,
    ) -> None:
        if backends < 0 or lbs < 0:
            raise ValueError(f"backends and lbs must be >= 0, got {backends} and {lbs}")
        if lbs and not backends and not backend_port:
            raise ValueError("LBs without backends need an explicit backend_port to forward to")
        self.dns_server = dns_server
        self.endpoint = endpoint
        self._backend_addresses = loopback_addresses(first_backend, backends)
        self._lb_addresses = loopback_addresses(first_lb, lbs)
        self._ports = (backend_port, lb_port)
        self._clock = clock
        self._force_close = force_close
        self._work = work
        self.backends: list[Backend] = []
        self.lbs: list[LoadBalancer] = []
        self.backend_port = backend_port
        self._stopped: list[str] = []

    @property
    def info(self) -> FleetInfo:
        pid = os.getpid()
        return FleetInfo(
            self.dns_server, self.endpoint, self.backend_port,
            tuple(NodeInfo("backend", b.address, b.port, pid) for b in self.backends),
            tuple(NodeInfo("lb", lb.address, lb.port, pid) for lb in self.lbs))

    def backend(self, address: str) -> Backend:
        for node in self.backends:
            if node.address == address:
                return node
        raise KeyError(f"no backend at {address!r}; backends are "
                       f"{[b.address for b in self.backends]}")

    async def stop_backend(self, address: str) -> None:
        """Stop the backend at `address`: its socket closes, so connections are refused."""
        node = self.backend(address)
        self.backends.remove(node)
        self._stopped.append(address)
        await node.close()

    async def start_backend(self, address: str) -> Backend:
        """Start a stopped backend again, on its address and the fleet's backend port."""
        if address not in self._stopped:
            raise KeyError(f"no stopped backend at {address!r}; stopped: {self._stopped}")
        node = Backend(address, self.backend_port, work=self._work)
        await node.start()
        self._stopped.remove(address)
        self.backends.append(node)
        self.backends.sort(key=lambda b: tuple(int(x) for x in b.address.split(".")))
        return node

    async def start(self) -> None:
        backend_socks = bind_shared_port(self._backend_addresses, self._ports[0],
                                         role="the backends")
        try:
            lb_socks = bind_shared_port(self._lb_addresses, self._ports[1],
                                        role="the load balancers")
        except BaseException:
            close_all(backend_socks)
            raise
        if backend_socks:
            self.backend_port = backend_socks[0].getsockname()[1]
        try:
            for sock in backend_socks:
                node = Backend(sock=sock, work=self._work)
                self.backends.append(node)
                await node.start()
            for sock in lb_socks:
                lb = LoadBalancer(self.dns_server, self.backend_port, endpoint=self.endpoint,
                                  sock=sock, clock=self._clock, force_close=self._force_close)
                self.lbs.append(lb)
                await lb.start()
        except BaseException:
            await self.close()
            close_all(backend_socks + lb_socks)
            raise

    async def close(self) -> None:
        """Stop every node, LBs first; each is stopped even if another fails or we are
        cancelled half-way (the remaining closes still run)."""
        nodes: list[LoadBalancer | Backend] = [*self.lbs, *self.backends]
        self.lbs, self.backends = [], []
        results = await asyncio.gather(*(n.close() for n in nodes), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.warning("error while stopping a node: %r", result)

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class FleetProcess:
    """The fleet as a real child process: `python -m fake_lb --json --stdin-control ...`.

    `async with FleetProcess(("127.0.0.1", dns_port), backends=3, lbs=2) as fleet:`
    then `fleet.info` (a `FleetInfo`), `await fleet.stop_backend(address)`,
    `await fleet.start_backend(address)`. The parameters are `Fleet`'s: `backends` addresses
    from `first_backend` up, `lbs` from `first_lb`, all resolving `endpoint`. Leaving the block
    closes the child's stdin (its signal to stop), waits up to `stop_timeout_s`, then kills it.
    """

    def __init__(
        self,
        dns_server: tuple[str, int],
        *,
        backends: int = 3,
        lbs: int = 1,
        endpoint: str = DEFAULT_ENDPOINT,
        backend_port: int = 0,
        lb_port: int = 0,
        first_backend: str = FIRST_BACKEND,
        first_lb: str = FIRST_LB,
        extra_args: Sequence[str] = (),
        start_timeout_s: float = 10.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.args = [
            sys.executable, "-m", "fake_lb", "--json", "--stdin-control",
            "--dns", f"{dns_server[0]}:{dns_server[1]}", "--backends", str(backends),
            "--lbs", str(lbs), "--name", endpoint, "--backend-port", str(backend_port),
            "--lb-port", str(lb_port), "--first-backend", first_backend,
            "--first-lb", first_lb, *extra_args]
        self._start_timeout_s = start_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._proc: asyncio.subprocess.Process | None = None
        self._info: FleetInfo | None = None

    @property
    def info(self) -> FleetInfo:
        if self._info is None:
            raise RuntimeError("the fleet is not running: use `async with FleetProcess(...)`")
        return self._info

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the fleet is not running")
        return self._proc.pid

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self.args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        try:
            async with asyncio.timeout(self._start_timeout_s):
                self._info = await self._read_ready()
        except BaseException as exc:
            stderr = await self._stop()
            if isinstance(exc, Exception):
                exc.add_note(f"fleet command: {' '.join(self.args)}\nits stderr: {stderr}")
            raise

    async def _read_ready(self) -> FleetInfo:
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            line = await self._proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the fleet exited (code {await self._proc.wait()}) before "
                                   "it was ready")
            data = json.loads(line)
            if data.get("event") == "ready":
                return FleetInfo.from_json(data["fleet"])

    async def _command(self, command: str) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise RuntimeError("the fleet is not running")
        proc.stdin.write(command.encode() + b"\n")
        await proc.stdin.drain()
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the fleet exited while running {command!r}")
            data: dict[str, Any] = json.loads(line)
            if data.get("command") == command:
                if "error" in data:
                    raise RuntimeError(f"fleet command {command!r} failed: {data['error']}")
                return data

    async def stop_backend(self, address: str) -> None:
        """Stop the backend at `address` (its socket closes: connections are refused)."""
        await self._command(f"stop {address}")

    async def start_backend(self, address: str) -> None:
        """Start a stopped backend again on the same address and port."""
        await self._command(f"start {address}")

    async def _stop(self) -> str:
        proc, self._proc = self._proc, None
        if proc is None:
            return ""
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            async with asyncio.timeout(self._stop_timeout_s):
                _, stderr = await proc.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
            _, stderr = await proc.communicate()
        return stderr.decode(errors="replace") if stderr else ""

    async def close(self) -> None:
        await asyncio.shield(self._stop())

    async def __aenter__(self) -> FleetProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
