"""Breadth-first search with its visited set split across processes or machines: the level
loop, and the shares in worker processes of one machine.

Theory of operation
-------------------
Rule 1: the shares (`partition`) hold the states; the driver holds none. Each level it asks
every share to `expand` (which first ends the level before), then hands each share the
messages the others wrote for it (`receive`), or calls `settle` when a child broke an
invariant: two round trips a level. Messages pass through the driver as bytes it never opens.

Rule 2: the result is the one process's (`partition`, Rule 2): same verdict, same state count,
same steps, same shortest story. The bound on states cuts the same states: when a level brings
more new states than there is room for, the driver merges the shares' sorted keys and keeps the
least ones, as the one process would have added them.

Rule 3: a share that is lost (its process died, its machine left the cluster) takes its part of
the visited set and of the frontier with it. What was found without it proves nothing, so the
search starts again from the beginning on the shares that are left, at most
`RESTARTS` times; after that `WorkersLost` is raised, and no exhaustion is ever claimed.

`Shares` is all the driver needs of a transport: `call(method, args per share)` returns every
share's answer, or raises `ShareLost`. `LocalShares` runs them in worker processes of this
machine (`pool.WorkerPool`, each running `serve_share`); `cluster` runs them as actors on a
Dask cluster.
"""

from __future__ import annotations

import gc
import heapq
import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from reproducer.running.simulation import Simulation
from reproducer.search.distributed.partition import Partition
from reproducer.search.distributed.pool import (
    Channel,
    SharedInt,
    WorkerPool,
    WorkersLost,
    answer_each,
    start_method,
)
from reproducer.search.outcome import PROGRESS_INTERVAL_S, Exploration, Progress, Ticker
from reproducer.world.config import Config

__all__ = ["RESTARTS", "SHARE_METHODS", "InProcessShares", "LocalShares", "ShareJob",
           "ShareLost", "Shares", "answer", "search_levels", "search_partitioned", "serve_share"]

RESTARTS = 3


class ShareLost(RuntimeError):
    """A share's process or machine is gone, and its states with it; `alive`: the shares
    (processes, cluster workers) still there to start again on."""

    def __init__(self, message: str, alive: int) -> None:
        super().__init__(message)
        self.alive = alive


class Shares(Protocol):
    """The transport the level loop drives (module docstring)."""

    count: int

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]: ...

    def alive(self) -> int: ...


def search_partitioned(config: Config, open_shares: Callable[[int], AbstractContextManager[
        Shares]], workers: int, *, max_states: int, reductions: tuple[str, ...],
        progress: Progress | None = None) -> Exploration:
    """The search over `workers` shares opened by `open_shares(count)`, started again on the
    shares left whenever one is lost (Rule 3)."""
    ticker = Ticker(progress, "bfs")
    count = workers
    for attempt in range(RESTARTS + 1):
        try:
            with open_shares(count) as shares:
                return search_levels(shares, config, max_states=max_states,
                                     reductions=reductions, ticker=ticker)
        except ShareLost as lost:
            count = max(1, lost.alive)
            if attempt == RESTARTS:
                raise WorkersLost(f"bfs: {lost}; lost shares {RESTARTS + 1} times, so "
                                  f"nothing was proved") from None
            ticker.say(f"{lost}: what was found without it proves nothing; starting "
                       f"again from the beginning on {count} workers")
    raise AssertionError("unreachable")


def search_levels(shares: Shares, config: Config, *, max_states: int,
                  reductions: tuple[str, ...], ticker: Ticker) -> Exploration:
    """The level loop (Rules 1 and 2) over open shares."""
    n = shares.count
    every: list[tuple[Any, ...]] = [()] * n
    frontier = sum(shares.call("frontier", every))
    total = frontier  # the root, counted once by its owner
    steps = 0
    depth = 0
    truncated = False
    used = tuple(shares.call("used", [()])[0]) if n else ()
    ending: tuple[bytes | None, bool] = (None, False)  # how the next `expand` ends the level
    while frontier and depth < config.max_steps:
        expanded = shares.call("expand", [ending] * n)
        arrived = shares.call("receive", [([e[0][j] for e in expanded],) for j in range(n)])
        found = [e[1] for e in expanded if e[1] is not None]
        if found:
            key, path = min(found)
            settled = shares.call("settle", [(key,)] * n)
            below = sum(b for b, _ in settled)
            states = total + min(below, max(0, max_states - total))
            steps += sum(s for _, s in settled)
            result = Simulation(config).follow(list(path), strict=True).result()
            return Exploration(strategy="bfs", config=config, seconds=ticker.elapsed(),
                               result=result, first_seconds=ticker.elapsed(),
                               found_steps=result.length, states=states, steps_expanded=steps,
                               reductions=used, workers=n)
        steps += sum(e[2] for e in expanded)
        new = sum(arrived)
        room = max(0, max_states - total)
        if new > room:  # keep the `room` least keys, as the one process adds them
            truncated = True
            ending = (_least_keys(shares.call("arrival_keys", every), room), room == 0)
            frontier = room
        else:
            ending = (None, False)
            frontier = new
        total += frontier
        depth += 1
        if ticker.due():
            ticker.say(f"depth {depth}, {total:,} states, {total / ticker.elapsed():,.0f} "
                       f"states/s, frontier {frontier:,}, {shares.alive()} of {n} workers "
                       f"alive")
    steps_cut = bool(frontier) and depth >= config.max_steps and sum(
        shares.call("movable", [ending] * n)) > 0
    return Exploration(strategy="bfs", config=config, seconds=ticker.elapsed(), states=total,
                       exhausted=not truncated, steps_cut=steps_cut, steps_expanded=steps,
                       reductions=used, workers=n)


def _least_keys(sorted_keys: list[list[bytes]], room: int) -> bytes | None:
    """The `room`-th least key over every share's sorted keys (None: no room at all)."""
    if room <= 0:
        return None
    merged: Iterator[bytes] = heapq.merge(*sorted_keys)
    return list(itertools.islice(merged, room))[-1]


class InProcessShares:
    """Shares in this process, one after another: no speed-up, the same answers; for reading
    and testing the level loop without processes."""

    def __init__(self, config: Config, count: int, reductions: tuple[str, ...]) -> None:
        self.count = count
        self.shares = [Partition(config, i, count, list(reductions)) for i in range(count)]

    def __enter__(self) -> InProcessShares:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def alive(self) -> int:
        return self.count

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        return [answer(share, method, a) for share, a in zip(self.shares, args, strict=False)]


@dataclass(frozen=True, slots=True)
class ShareJob:
    """Which share a worker process holds (pickled to it by the "spawn" context)."""

    config: Config
    index: int
    count: int
    reductions: tuple[str, ...]


class LocalShares:
    """Shares in worker processes of this machine (`pool.WorkerPool`, `serve_share`)."""

    def __init__(self, config: Config, count: int, reductions: tuple[str, ...],
                 progress: Progress | None) -> None:
        self.count = count
        jobs = [ShareJob(config, w, count, reductions) for w in range(count)]
        self._pool = WorkerPool(serve_share, jobs, "bfs", progress, start_method())

    def __enter__(self) -> LocalShares:
        self._pool.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.__exit__()

    def alive(self) -> int:
        return len(self._pool.alive)

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        pool = self._pool
        targets = range(self.count) if len(args) == self.count else range(len(args))
        for w, a in zip(targets, args, strict=True):
            pool.send(w, (method, a))
        answers: dict[int, Any] = {}
        while len(answers) < len(args):
            for w, message in pool.wait(PROGRESS_INTERVAL_S):
                if message is None:
                    pool.died(w, "its share of the states is lost")
                    raise ShareLost(f"worker {w + 1} of {self.count} died", len(pool.alive))
                answers[w] = message
        return [answers[w] for w in sorted(answers)]


def serve_share(channel: Channel, job: ShareJob, flag: SharedInt) -> None:
    """A worker process holding share `job.index`: build it, then answer the driver's calls
    until told to stop."""
    gc.disable()  # this process serves one share of a search (`outcome.collector_paused`)
    share = Partition(job.config, job.index, job.count, list(job.reductions))
    answer_each(channel, lambda request: answer(share, *request))


SHARE_METHODS = ("used", "frontier", "expand", "receive", "settle", "arrival_keys", "commit",
                 "movable")


def answer(share: Any, method: str, args: tuple[Any, ...]) -> Any:
    """A share's answer to the driver's call `method(*args)`: the one dispatch every transport
    uses (`used` is an attribute; any other name is refused)."""
    if method == "used":
        return share.used
    if method not in SHARE_METHODS:
        raise ValueError(f"no share method {method!r}")
    return getattr(share, method)(*args)
