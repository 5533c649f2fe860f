"""The worlds behind the play page: one per learner, each its own fake_dns server on
127.0.0.1:0, a TSIG-signed `DnsTransport` and an `AsyncRun` moved by hand.

Rules
  1. A world changes only by a move that `refusal` allows, or by going to a whole position
     that was checked first, move by move, in the in-process simulation (the same core: a
     differential test keeps the two identical). A bad move or position changes nothing.
  2. Going back (undo, reset, another position) rebuilds: one UPDATE resets the zone
     (`reset_update`, signed by the "reset" key the server knows), a fresh `AsyncRun` starts,
     and the position's moves are made again over real DNS.
  3. At most `max_worlds` worlds; one idle for `idle_s` is closed (its DNS server too). When
     all are taken, the least recently used one is closed if it has been idle for
     `evict_idle_s`; otherwise the new learner is refused (try again later).
  4. One request at a time per world (its lock): a move checks the position it was made at.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

from fake_dns import DNSServer, LookupResult
from reproducer.play.view import refusal
from reproducer.running.runtime import AsyncRun
from reproducer.running.simulation import Simulation
from reproducer.running.trace import Step
from reproducer.running.transport import DnsTransport, TsigKey, reset_update
from reproducer.search import Exploration, explore_bfs
from reproducer.world.config import Config

__all__ = ["Guide", "PlayError", "World", "Worlds"]

log = logging.getLogger(__name__)


class PlayError(Exception):
    """A request the page (or a learner's link) got wrong; `status` is the HTTP status to
    answer with, the message says what happened and what to do. Nothing was changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_position(config: Config, position: Sequence[str]) -> None:
    """Rule 1: every move of `position` must be possible where it is made (PlayError 400)."""
    if len(position) > config.max_steps:
        raise PlayError(400, f"the position has {len(position)} moves, more than this world's "
                             f"bound of {config.max_steps} steps")
    # No memos shared with the guide's search, which runs in another thread at the same time.
    sim = Simulation(config, stop_at_violation=False, cache="none")
    for n, worker in enumerate(position, start=1):
        why = refusal(sim, worker) if isinstance(worker, str) else f"{worker!r} is not a name"
        if why is not None:
            raise PlayError(400, f"move {n} of the position ({worker}) cannot be made: {why}. "
                                 "Was the link made for another world? Nothing was changed.")
        sim.move(worker)


class World:
    """One learner's world (module docstring). Create with `await World.open(...)`."""

    def __init__(self, world_id: str, challenge: str, config: Config, server: DNSServer,
                 transport: DnsTransport, run: AsyncRun, now_s: float) -> None:
        self.id = world_id
        self.challenge = challenge
        self.config = config
        self.run = run
        self.last_used_s = now_s
        self.lock = asyncio.Lock()
        self._server = server
        self._transport = transport

    @classmethod
    async def open(cls, world_id: str, challenge: str, config: Config,
                   position: Sequence[str], now_s: float) -> World:
        check_position(config, position)
        keys = {w: TsigKey.for_worker(w) for w in (*config.worker_names, "reset")}
        server = DNSServer(config.initial_dns(), "127.0.0.1", 0,
                           {k.name: k.secret for k in keys.values()})
        await server.start()
        transport = DnsTransport(server.host, server.port, keys)
        try:
            await transport.__aenter__()
            run = await AsyncRun.start(config, transport, stop_at_violation=False)
            for worker in position:
                await run.move(worker)
        except BaseException:
            await transport.close()
            await server.close()
            raise
        log.info("world %s (%s) serves DNS on %s", world_id, challenge, server.address)
        return cls(world_id, challenge, config, server, transport, run, now_s)

    @property
    def dns_address(self) -> str:
        return self._server.address

    async def move(self, worker: str, at: int) -> Step:
        """Rule 4: `at` is the number of moves the page had seen; another is a stale page."""
        if at != self.run.length:
            raise PlayError(409, f"stale position: this world is at move {self.run.length}, "
                                 f"your page was at move {at} (another tab?). Reload the "
                                 "page; nothing was changed.")
        why = refusal(self.run, worker)
        if why is not None:
            raise PlayError(400, f"{why}. Nothing was changed.")
        return await self.run.move(worker)

    async def goto(self, position: Sequence[str]) -> None:
        """Rules 1 and 2: this world at `position` (moves on when it extends the current one)."""
        check_position(self.config, position)
        now = self.run.schedule()
        if tuple(position[: len(now)]) != now:
            rcode = await self._transport.update(reset_update(self.config), "reset")
            if rcode != "NOERROR":
                raise RuntimeError(f"fake_dns refused the reset of {self.config.layout.zone}: "
                                   f"{rcode}")
            self.run = await AsyncRun.start(self.config, self._transport,
                                            stop_at_violation=False)
        for worker in position[self.run.length:]:
            await self.run.move(worker)

    async def lock_record(self) -> LookupResult:
        """The TXT lock record, as DNS answers it now."""
        return await self._transport.query(self.config.layout.lock_name, "TXT")

    async def close(self) -> None:
        await self._transport.close()
        await self._server.close()


class Worlds:
    """Every learner's world, bounded and expiring (module docstring, rule 3). `configs` maps a
    challenge id to its world's configuration; `clock` is injected (tests move it by hand)."""

    def __init__(self, configs: Mapping[str, Config], *, max_worlds: int = 32,
                 idle_s: float = 900.0, evict_idle_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.configs = dict(configs)
        self.max_worlds = max_worlds
        self.idle_s = idle_s
        self.evict_idle_s = evict_idle_s
        self.clock = clock
        self._worlds: OrderedDict[str, World] = OrderedDict()  # least recently used first
        self._opening = 0  # worlds being opened: their slots are taken already

    def __len__(self) -> int:
        return len(self._worlds)

    def config_of(self, challenge: str) -> Config:
        config = self.configs.get(challenge)
        if config is None:
            raise PlayError(404, f"no challenge {challenge!r}; the challenges are "
                                 f"{', '.join(self.configs)}")
        return config

    async def create(self, challenge: str, position: Sequence[str]) -> World:
        config = self.config_of(challenge)
        check_position(config, position)  # before anything is closed to make room
        await self.expire()
        # Rule 3, atomically: the slot is counted and taken with no await in between, so that
        # many learners arriving at once never open more than max_worlds worlds.
        evicted: World | None = None
        if len(self._worlds) + self._opening >= self.max_worlds:
            oldest = next(iter(self._worlds.values()), None)
            if oldest is None or self.clock() - oldest.last_used_s < self.evict_idle_s:
                raise PlayError(503, f"{len(self._worlds) + self._opening} worlds are in play, "
                                     "the most this server allows (--max-worlds); try again "
                                     "in a minute")
            evicted = self._worlds.pop(oldest.id)
        self._opening += 1
        try:
            if evicted is not None:
                await self._close_world(evicted, "to make room")
            world_id = secrets.token_urlsafe(9)
            world = await World.open(world_id, challenge, config, position, self.clock())
        finally:
            self._opening -= 1
        self._worlds[world_id] = world
        return world

    def get(self, world_id: str) -> World:
        world = self._worlds.get(world_id)
        if world is None:
            raise PlayError(404, f"no world {world_id!r}: it was closed after "
                                 f"{self.idle_s / 60:.0f} minutes idle, or the server "
                                 "restarted. Reload the page: your moves are in its link.")
        world.last_used_s = self.clock()
        self._worlds.move_to_end(world_id)
        return world

    async def expire(self) -> int:
        """Close the worlds idle for `idle_s` or more; how many were closed."""
        now = self.clock()
        idle = [w.id for w in self._worlds.values() if now - w.last_used_s >= self.idle_s]
        for world_id in idle:
            await self._close(world_id, "idle")
        return len(idle)

    async def close(self, world_id: str) -> None:
        if world_id in self._worlds:
            await self._close(world_id, "by its page")

    async def close_all(self) -> None:
        for world_id in list(self._worlds):
            await self._close(world_id, "at shutdown")

    async def _close(self, world_id: str, why: str) -> None:
        world = self._worlds.pop(world_id, None)  # (another request may have closed it)
        if world is not None:
            await self._close_world(world, why)

    @staticmethod
    async def _close_world(world: World, why: str) -> None:
        async with world.lock:  # not in the middle of a request
            await world.close()
        log.info("world %s closed (%s)", world.id, why)


class _Stopped(Exception):
    """A guide's search given up: nobody waits for it any more, or the server is stopping."""


class Guide:
    """Breadth-first search from a position, off the event loop, one at a time, remembered:
    a position's answer never changes.

    Bounded: at most `max_waiting` searches wait their turn (more are refused with a 503 at
    once), a search whose asker has gone (`abandoned()`) is given up, waiting or running, and
    `close()` (the server stopping) gives up every one within about a second, so Ctrl-C does
    not wait for searches nobody will read."""

    STOP_CHECK_S = 0.25  # how often a waiting search looks whether its asker is still there

    def __init__(self, max_states: int = 200_000, remembered: int = 512,
                 max_waiting: int = 4) -> None:
        self.max_states = max_states
        self.max_waiting = max_waiting
        self._remembered = remembered
        self._answers: OrderedDict[tuple[Config, tuple[str, ...]], Exploration] = OrderedDict()
        self._one_at_a_time = asyncio.Semaphore(1)
        self._waiting = 0
        self._closing = False

    @property
    def waiting(self) -> int:
        """Searches waiting for their turn."""
        return self._waiting

    def close(self) -> None:
        """Give up every search, waiting or running; refuse new ones."""
        self._closing = True

    async def search(self, config: Config, position: Sequence[str], *,
                     max_states: int | None = None,
                     abandoned: Callable[[], bool] = lambda: False) -> Exploration:
        """From `position`; `max_states` (default: the guide's) bounds the search. PlayError
        503 when too many wait, or when the search was given up."""
        key = (config, tuple(position))
        if key in self._answers:
            self._answers.move_to_end(key)
            return self._answers[key]
        if self._closing:
            raise PlayError(503, "the play server is stopping")
        if self._waiting >= self.max_waiting:
            raise PlayError(503, f"the guide is busy with {self._waiting} searches; ask again "
                                 "in a moment")
        self._waiting += 1
        try:
            await self._turn(abandoned)
        finally:
            self._waiting -= 1
        try:
            if key not in self._answers:
                def stop_if_unwanted(_: str) -> None:  # called about once a second
                    if self._closing or abandoned():
                        raise _Stopped

                try:
                    self._answers[key] = await asyncio.to_thread(
                        explore_bfs, config, start=key[1],
                        max_states=max_states or self.max_states, progress=stop_if_unwanted)
                except _Stopped:
                    raise PlayError(503, "the guide's search was given up (its page left, or "
                                         "the server is stopping)") from None
                while len(self._answers) > self._remembered:
                    self._answers.popitem(last=False)
        finally:
            self._one_at_a_time.release()
        return self._answers[key]

    async def _turn(self, abandoned: Callable[[], bool]) -> None:
        """Wait for the one search slot, giving up if the asker leaves or the server stops."""
        while True:
            if self._closing or abandoned():
                raise PlayError(503, "the guide's search was given up (its page left, or the "
                                     "server is stopping)")
            try:
                await asyncio.wait_for(self._one_at_a_time.acquire(), self.STOP_CHECK_S)
                return
            except TimeoutError:
                continue
