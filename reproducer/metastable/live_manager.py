"""The lease manager as a real process: the same state machine, renewing leases over HTTP.

Theory of operation
-------------------
A thin asyncio adapter around one `LeaseManager` (the logic is all there), against the wall
clock (`time.monotonic`, which on Linux is one clock for every process of the machine, so the
process that runs the outage can line its own moments up with these samples):

- every `Send` the manager hands out becomes one HTTP `PUT /items/lease-<host>` through one of
  the load balancers, in turn; the load balancers resolve the endpoint through fake_dns on every
  request and forward to the backends, whose bounded work is the pool. Any 2xx is a renewal the
  lease table took; anything else (the load balancer's 503 when the name resolves to nothing, a
  busy backend, a broken connection) is an error reply;
- an attempt's HTTP request is never cancelled when the manager gives up on it: the pool does
  the work anyway, and its slot stays taken until the answer comes (`manager.py`, rule 3). A
  transport bound (`transport_timeout_s`) only keeps a lost connection from holding it forever;
- the loop sleeps until the manager's next timer, the next sample or a poke (a reply, an
  operators' command) and then advances the manager: every decision is the state machine's;
- it reports the manager's `Counters` (`on_counters`) as it starts and then every `sample_s`.

The wire between this process and the one that runs the outage is JSON lines: `encode_counters`
out on stdout, `encode_command` in on stdin (`decode_*` read them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import aiohttp

from reproducer.metastable.manager import Counters, LeaseManager, Send
from reproducer.metastable.operators import Command, Restart, Throttle, apply_command
from reproducer.metastable.params import FleetParams
from reproducer.metastable.policies import Policy

__all__ = ["LiveManager", "decode_command", "decode_counters", "encode_command",
           "encode_counters"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]


def encode_counters(counters: Counters) -> str:
    return json.dumps({"event": "counters", **asdict(counters)})


def decode_counters(data: dict[str, Any]) -> Counters:
    return Counters(now=float(data["now"]), **{
        name: int(data[name]) for name in ("established", "wasted", "timed_out", "failed",
                                           "refused", "dropped", "queue", "in_flight",
                                           "leases_held")})


def encode_command(command: Command) -> str:
    if isinstance(command, Restart):
        return json.dumps({"command": "restart"})
    return json.dumps({"command": "throttle", "per_s": command.per_s})


def decode_command(line: str) -> Command:
    """One command line; ValueError says what was wrong with it."""
    try:
        data = json.loads(line)
        verb = data["command"]
        if verb == "restart":
            return Restart()
        if verb == "throttle":
            per_s = data["per_s"]
            if per_s is not None and not (isinstance(per_s, int | float) and per_s > 0):
                raise ValueError(f"per_s must be a positive number or null, got {per_s!r}")
            return Throttle(None if per_s is None else float(per_s))
        raise ValueError(f"unknown command {verb!r}")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"expected a JSON command such as {{\"command\": \"restart\"}} or "
                         f"{{\"command\": \"throttle\", \"per_s\": 40}}, got {line!r}: "
                         f"{exc}") from None


class LiveManager:
    """One manager renewing leases through `lb_urls`. `await run(duration_s)` runs it for that
    long and returns; `command()` hands it an operators' command at any time. `on_start(t0)` is
    called once the manager exists, before its first counters."""

    def __init__(self, params: FleetParams, policy: Policy, lb_urls: Sequence[str], *,
                 seed: int, sample_s: float, on_counters: Callable[[Counters], None],
                 on_start: Callable[[float], None] | None = None,
                 clock: Clock = time.monotonic, transport_timeout_s: float = 10.0) -> None:
        if not lb_urls:
            raise ValueError("the manager needs at least one load balancer URL")
        self.params = params
        self.policy = policy
        self._urls = tuple(url.rstrip("/") for url in lb_urls)
        self._seed = seed
        self._sample_s = sample_s
        self._on_counters = on_counters
        self._on_start = on_start
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=transport_timeout_s)
        self._poke = asyncio.Event()
        self._attempts: set[asyncio.Task[None]] = set()
        self._manager: LeaseManager | None = None
        self._session: aiohttp.ClientSession | None = None
        self.t0 = math.nan

    def command(self, command: Command) -> None:
        manager = self._manager
        if manager is None:
            raise RuntimeError("the manager is not running")
        apply_command(manager, command, self._clock())
        self._start(manager.take_sends())
        self._poke.set()

    async def run(self, duration_s: float) -> None:
        connector = aiohttp.TCPConnector(limit=0, use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector, timeout=self._timeout) as session:
            self._session = session
            try:
                await self._loop(duration_s)
            finally:
                for task in self._attempts:
                    task.cancel()
                await asyncio.gather(*self._attempts, return_exceptions=True)
                self._session = None
                self._manager = None

    async def _loop(self, duration_s: float) -> None:
        clock = self._clock
        self.t0 = clock()
        manager = LeaseManager(self.params, self.policy, now=self.t0,
                               rng=random.Random(self._seed))
        self._manager = manager
        if self._on_start is not None:
            self._on_start(self.t0)
        end = self.t0 + duration_s
        next_sample = self.t0  # the first report, at once, is the baseline of the rates
        while True:
            now = clock()
            manager.advance(now)
            self._start(manager.take_sends())
            if now >= next_sample:
                self._on_counters(manager.counters())
                # A late loop reports once and moves on: samples stay about sample_s apart.
                next_sample = max(next_sample + self._sample_s, now + self._sample_s / 2)
            if now >= end:
                return
            wake = manager.next_wakeup()
            target = min(end, next_sample, math.inf if wake is None else wake)
            self._poke.clear()
            delay = target - clock()
            if delay > 0:
                try:
                    async with asyncio.timeout(delay):
                        await self._poke.wait()
                except TimeoutError:
                    pass

    def _start(self, sends: list[Send]) -> None:
        for send in sends:
            task = asyncio.create_task(self._attempt(send))
            self._attempts.add(task)
            task.add_done_callback(self._attempts.discard)

    async def _attempt(self, send: Send) -> None:
        session, manager = self._session, self._manager
        if session is None or manager is None:
            return
        url = f"{self._urls[send.attempt % len(self._urls)]}/items/lease-{send.host:06d}"
        body = json.dumps({"host": send.host, "attempt": send.attempt}).encode()
        try:
            async with session.put(url, data=body) as reply:
                await reply.read()
                ok = 200 <= reply.status < 300
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("attempt %d for host %d: %s", send.attempt, send.host, exc)
            ok = False
        manager.replied(send.attempt, ok, self._clock())
        self._start(manager.take_sends())
        self._poke.set()
