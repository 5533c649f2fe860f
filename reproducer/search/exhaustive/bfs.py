"""Breadth-first search over states, de-duplicated by a 64-bit identity of the state (Spin's
hash compaction: the chance that two of n states collide is about n²/2⁶⁵). The identity holds
only what decides the future, under the reductions asked for (`identity`:
scheduler bookkeeping, canonical values, unread records, dead fields, symmetry over
enactors), and a partial-order reduction defers the Planner (`por`). Each
merges only states with the same futures or skips only steps that another order of the same
length takes, so the first violating state found is still at the least depth: its path is the
shortest violating schedule, the judge of minimality. With no violation and nothing cut by
the bound on states, every reachable state within `max_steps` was checked.

Memory: the visited set holds one integer per state, the path table two flat arrays (parent
entry, worker), and only the frontier holds states.
"""

from __future__ import annotations

import contextlib
import gc
from array import array
from collections.abc import Iterable, Iterator, Sequence

from reproducer.running.core import State
from reproducer.running.simulation import Simulation
from reproducer.running.trace import RunResult
from reproducer.search.distributed.partition import expansion_of
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS
from reproducer.search.outcome import Exploration, Progress, Ticker
from reproducer.world.config import Config

__all__ = ["DEFAULT_MAX_STATES", "explore_bfs"]

DEFAULT_MAX_STATES = 3_000_000


def explore_bfs(config: Config, *, max_states: int = DEFAULT_MAX_STATES,
                progress: Progress | None = None, movers: frozenset[int] | None = None,
                max_depth: int | None = None,
                reductions: Iterable[str] = DEFAULT_REDUCTIONS,
                start: Sequence[int | str] = (), workers: int = 1) -> Exploration:
    """Breadth-first search over states (module docstring), in memory. `movers` (worker
    indices) and `max_depth` narrow it, for `minimise`'s last check; `reductions` names the
    reductions of a state's identity to use (default: those that pay). `start` (who moved, by
    index or name) begins the search where that schedule leads instead of at the beginning:
    the result, if any, is that schedule followed by the shortest way on from there (a guide's
    "from here, in N more moves"); `max_depth` counts from there. `workers` > 1 splits the
    visited set over that many processes (`partitioned`), with the same result."""
    with collector_paused():
        return _explore_bfs(config, max_states=max_states, progress=progress, movers=movers,
                            max_depth=max_depth, reductions=reductions, start=start,
                            workers=workers)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a search: a search makes no cyclic garbage
    (the same peak memory either way), and the collector's full passes over its millions of
    live objects cost a fifth of its time (cas-flip 2/2/3: 5.4-6.3 s with it, 4.4-4.9 s
    without)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _explore_bfs(config: Config, *, max_states: int = DEFAULT_MAX_STATES,
                progress: Progress | None = None, movers: frozenset[int] | None = None,
                max_depth: int | None = None,
                reductions: Iterable[str] = DEFAULT_REDUCTIONS,
                start: Sequence[int | str] = (), workers: int = 1) -> Exploration:
    ticker = Ticker(progress, "bfs")
    names = Simulation(config, stop_at_violation=False).follow(start, strict=True).names
    before = [names.index(w) if isinstance(w, str) else w for w in start]
    asked = set(reductions)
    if movers is not None and not set(range(1, config.enactors + 1)) <= movers:
        asked.discard("symmetry")  # the enactors that may move are no longer interchangeable
    if movers is not None:
        asked.discard("por")  # its rule counts every unfinished enactor as a possible mover
    if before:
        asked.discard("glue")  # the schedule may have moved others after a glued step
    universe, identity, used, ready_of = expansion_of(config, asked)
    if workers > 1 and identity.stable and not before and movers is None and max_depth is None:
        return _partitioned(config, workers, max_states, tuple(sorted(asked)), progress)
    if workers > 1:
        ticker.say("one process: the states of async enactors are not the same values in "
                   "other processes" if not identity.stable else
                   "one process: a narrowed search (start, movers, depth) is not split")
    root = universe.root
    for w in before:
        root = universe.step(root, w).child
    fingerprint = identity.fingerprint
    seen: set[int] = {fingerprint(root)}
    # the path table: entry i was reached from entry parent[i] by worker mover[i]; 0 is the root
    parent = array("q", [-1])
    mover = array("b", [-1])
    states: list[State] = [root]
    entries: list[int] = [0]
    expanded = 0
    depth = 0
    truncated = False

    def path_of(entry: int) -> list[int]:
        who: list[int] = []
        while entry > 0:
            who.append(mover[entry])
            entry = parent[entry]
        return who[::-1]

    room = config.max_steps - len(before)
    limit = room if max_depth is None else min(max_depth, room)
    step = universe.step
    while states and depth < limit:
        next_states: list[State] = []
        next_entries: list[int] = []
        for state, entry in zip(states, entries, strict=True):
            if state.finished:
                continue
            for w in ready_of(state):
                if movers is not None and w not in movers:
                    continue
                child = step(state, w).child
                expanded += 1
                if child.verdict or (child.finished and child.end_violations):
                    result = _result_of_workers(config, [*before, *path_of(entry), w])
                    return Exploration("bfs", config, 0, ticker.elapsed(), result, None,
                                       ticker.elapsed(), result.length, states=len(seen),
                                       steps_expanded=expanded, reductions=used)
                h = fingerprint(child)
                if h in seen:
                    continue
                if len(seen) >= max_states:
                    truncated = True
                    continue
                seen.add(h)
                parent.append(entry)
                mover.append(w)
                next_states.append(child)
                next_entries.append(len(parent) - 1)
            if ticker.due():
                ticker.say(f"depth {depth}, {len(seen):,} states, {expanded:,} steps")
        states, entries = next_states, next_entries
        depth += 1
    exhausted = not truncated  # every state within max_steps (and max_depth) was checked
    return Exploration("bfs", config, 0, ticker.elapsed(), None, states=len(seen),
                       exhausted=exhausted, steps_expanded=expanded, reductions=used)


def _partitioned(config: Config, workers: int, max_states: int, reductions: tuple[str, ...],
                 progress: Progress | None) -> Exploration:
    from reproducer.search.distributed.levels import LocalShares, search_partitioned

    return search_partitioned(
        config, lambda n: LocalShares(config, n, reductions, progress), workers,
        max_states=max_states, reductions=reductions, progress=progress)


def _result_of_workers(config: Config, workers: list[int]) -> RunResult:
    return Simulation(config).follow(workers, strict=True).result()
