"""The stage the story plays on: its world, its processes, the traffic and what clients see.

The story's world is the outage's (`story_config`); everything the fleet needs to know about it
is passed explicitly: the regional endpoint the load balancers resolve and the backend addresses
the Planner's plans point at (`regional_name`, `story_backends`), so neither side relies on the
other's defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from fake_dns import DNSClient
from fake_dns.testing import ServerProcess
from fake_lb import FleetInfo, IntervalStats, TrafficPlan, run_traffic
from reproducer.running.http_health import HttpHealthSource
from reproducer.running.transport import TsigKey
from reproducer.world.config import Config

__all__ = ["DEADLINE_S", "STORY_KEY", "STORY_LBS", "TRAFFIC_RATE_PER_S", "Report", "Stage",
           "StoryFailed", "Traffic", "dig", "expect", "probe_until_ok", "regional_name",
           "story_backends", "story_config", "zone_file_text"]

Report = Callable[[str], None]

STORY_KEY = TsigKey("story-key.", hashlib.sha256(b"dns-race-reproducer story").digest())
STORY_LBS = 2
TRAFFIC_RATE_PER_S = 40.0
TRAFFIC_INTERVAL_S = 0.5
DEADLINE_S = 60.0


class StoryFailed(Exception):
    """An expectation of the story did not hold: the message says which."""


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise StoryFailed(what)


# -- the world ---------------------------------------------------------------------------------


def story_config() -> Config:
    """Three enactors, one endpoint; the planner writes g2..g5 (g5 arrives after the outage)."""
    return Config(variant="aws-2025", enactors=3, endpoints=1, keep_generations=1, plans=4,
                  invariants=(1,), max_steps=150)


def regional_name(config: Config) -> str:
    """The regional endpoint's name (the first endpoint: the one the outage emptied)."""
    return config.layout.endpoint_name(config.layout.endpoints[0])


def story_backends(config: Config) -> tuple[str, ...]:
    """The backends the Planner knows, by address: the fleet must run exactly these."""
    return tuple(h.address for h in config.health().at(1))


def zone_file_text(config: Config) -> str:
    # SOA MINIMUM 1 s: negative answers are cached for one second (RFC 2308 §5), so clients
    # recover promptly after the repair.
    zone = config.layout.zone
    lines = [f"$ORIGIN {zone}", "$TTL 3",
             f"@ IN SOA ns1.{zone} hostmaster.{zone} 1 3600 600 86400 1", f"@ IN NS ns1.{zone}"]
    lines += [f"{rr.name} {rr.ttl} IN {rr.rtype} {rr.rdata}" for rr in config.initial_records()]
    return "\n".join(lines) + "\n"


# -- the traffic -------------------------------------------------------------------------------


@dataclass
class Traffic:
    """Steady traffic through the load balancers, collected per interval (wall clock since
    `t0`), running in the background until stopped."""

    lb_urls: tuple[str, ...]
    t0: float
    intervals: list[IntervalStats] = field(default_factory=list)
    task: asyncio.Task[object] | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def _record(self, stats: IntervalStats) -> None:
        self.intervals.append(stats)
        self.arrived.set()

    def start(self) -> None:
        plan = TrafficPlan(TRAFFIC_RATE_PER_S, DEADLINE_S + 30, TRAFFIC_INTERVAL_S, 2.0)
        self.task = asyncio.create_task(run_traffic(self.lb_urls, plan,
                                                    on_interval=self._record))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    def since(self, t_s: float) -> tuple[int, int, dict[str, int]]:
        """(sent, failed, failures by reason) in intervals that started at or after t_s."""
        sent = failed = 0
        reasons: dict[str, int] = {}
        for i in self.intervals:
            if i.start_s >= t_s:
                sent += i.sent
                failed += i.failed
                for reason, count in i.failures:
                    reasons[reason] = reasons.get(reason, 0) + count
        return sent, failed, reasons

    def between(self, a_s: float, b_s: float) -> tuple[int, int]:
        sent = failed = 0
        for i in self.intervals:
            if a_s <= i.start_s < b_s:
                sent += i.sent
                failed += i.failed
        return sent, failed

    async def wait_for_interval_after(self, t_s: float, timeout_s: float = 10) -> IntervalStats:
        async with asyncio.timeout(timeout_s):
            while not self.intervals or self.intervals[-1].start_s < t_s:
                self.arrived.clear()
                await self.arrived.wait()
        return self.intervals[-1]


# -- what clients see --------------------------------------------------------------------------


async def dig(port: int, name: str) -> list[str]:
    """dig's view of `name` A (the real tool when installed; our client otherwise)."""
    tool = shutil.which("dig")
    if tool:
        proc = await asyncio.create_subprocess_exec(
            tool, "@127.0.0.1", "-p", str(port), "+norecurse", "+noall", "+comments",
            "+answer", name, "A", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        lines = out.decode().splitlines()
        status = next((ln.split("status: ")[1].split(",")[0] for ln in lines
                       if "status: " in ln), "?")
        answer = [" ".join(ln.split()) for ln in lines if ln and not ln.startswith(";")]
        return [f"$ dig @127.0.0.1 -p {port} {name} A +norecurse", f"  status: {status}"] + [
            f"  {a}" for a in answer] + ([] if any(" A " in a for a in answer)
                                        else ["  (no A record in the answer)"])
    async with DNSClient("127.0.0.1", port) as client:
        result = await client.query(name, "A")
    return ["(dig is not installed: `apt-get install bind9-dnsutils`; asking with our client)",
            f"  status: {result.rcode.name}"] + [f"  {rr.to_text()}" for rr in result.answer] + (
        [] if result.addresses else ["  (no A record in the answer)"])


async def probe_until_ok(lb_url: str, timeout_s: float) -> float:
    """Seconds until a request through the LB succeeds (one every 50 ms)."""
    start = time.monotonic()
    connector = aiohttp.TCPConnector(force_close=True, use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=1)) as session:
        while time.monotonic() - start < timeout_s:
            try:
                async with session.get(f"{lb_url}/items/probe") as reply:
                    if reply.status < 500:
                        return time.monotonic() - start
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)
    raise StoryFailed(f"traffic through {lb_url} did not recover within {timeout_s:.0f} s")


# -- the stage ---------------------------------------------------------------------------------


@dataclass
class Stage:
    """What the sections share once the processes are up."""

    report: Report
    config: Config
    dns: ServerProcess
    fleet: FleetInfo
    traffic: Traffic

    @property
    def regional(self) -> str:
        return regional_name(self.config)

    @property
    def health(self) -> HttpHealthSource:
        return HttpHealthSource(self.fleet.backend_addresses, self.fleet.backend_port)

    def section(self, title: str) -> None:
        self.report("")
        self.report(f"== {title} " + "=" * max(0, 78 - len(title)))

    def now(self) -> float:
        """Seconds since the traffic started (the report's time axis)."""
        return time.monotonic() - self.traffic.t0

    async def dig(self) -> None:
        for line in await dig(self.dns.port, self.regional):
            self.report(line)
