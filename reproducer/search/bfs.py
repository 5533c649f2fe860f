"""Breadth-first search over states, de-duplicated by a hash of the state (Spin's hash
compaction: a 64-bit hash per state, so the chance that two of n states collide is about
n²/2⁶⁵). The first violating state found is at the least depth: its path is the shortest
violating schedule, the judge of minimality. With no violation and nothing cut by the bound on
states, every reachable state within `max_steps` was checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from reproducer.running.core import State
from reproducer.running.simulation import Simulation, Universe, state_key
from reproducer.running.trace import RunResult
from reproducer.search.outcome import Exploration, Progress, Ticker
from reproducer.world.config import Config

__all__ = ["DEFAULT_MAX_STATES", "explore_bfs"]

DEFAULT_MAX_STATES = 3_000_000


@dataclass(slots=True)
class _Frontier:
    states: list[State] = field(default_factory=list)
    paths: list[int] = field(default_factory=list)  # index into the path table


def explore_bfs(config: Config, *, max_states: int = DEFAULT_MAX_STATES,
                progress: Progress | None = None, movers: frozenset[int] | None = None,
                max_depth: int | None = None, start: Sequence[int | str] = ()) -> Exploration:
    """Breadth-first search over states (module docstring), in memory. `movers` (worker
    indices) and `max_depth` narrow it, for `minimise`'s last check. `start` (who moved, by
    index or name) begins the search where that schedule leads instead of at the beginning:
    the result, if any, is that schedule followed by the shortest way on from there (a guide's
    "from here, in N more moves"); `max_depth` counts from there."""
    ticker = Ticker(progress, "bfs")
    universe = Universe(config, "moves")
    universe.bounded = False  # state identities must stay valid for the whole search
    prefix = Simulation(config, stop_at_violation=False).follow(start, strict=True)
    names = prefix.names
    before = [names.index(w) if isinstance(w, str) else w for w in start]
    root = universe.root
    for w in before:
        root = universe.step(root, w).child
    seen: set[int] = {hash(state_key(root))}
    # path table: (parent entry, worker index); entry 0 is the root
    parents: list[tuple[int, int]] = [(-1, -1)]
    frontier = _Frontier([root], [0])
    expanded = 0
    depth = 0
    truncated = False

    def path_of(entry: int) -> list[int]:
        workers: list[int] = []
        while entry > 0:
            entry, w = parents[entry]
            workers.append(w)
        return workers[::-1]

    room = config.max_steps - len(before)
    limit = room if max_depth is None else min(max_depth, room)
    while frontier.states and depth < limit:
        nxt = _Frontier()
        for state, entry in zip(frontier.states, frontier.paths, strict=True):
            if state.finished:
                continue
            for w in state.ready():
                if movers is not None and w not in movers:
                    continue
                edge = universe.step(state, w)
                expanded += 1
                child = edge.child
                if child.verdict or (child.finished and child.end_violations):
                    workers = [*before, *path_of(entry), w]
                    result = _result_of_workers(config, workers)
                    return Exploration("bfs", config, expanded, ticker.elapsed(), result,
                                       expanded, ticker.elapsed(), result.length,
                                       states=len(seen))
                h = hash(state_key(child))
                if h in seen:
                    continue
                if len(seen) >= max_states:
                    truncated = True
                    continue
                seen.add(h)
                parents.append((entry, w))
                nxt.states.append(child)
                nxt.paths.append(len(parents) - 1)
            if ticker.due():
                ticker.say(f"depth {depth}, {len(seen):,} states, {expanded:,} steps")
        frontier = nxt
        depth += 1
    exhausted = not truncated  # every state within max_steps (and max_depth) was checked
    return Exploration("bfs", config, expanded, ticker.elapsed(), None, states=len(seen),
                       exhausted=exhausted)


def _result_of_workers(config: Config, workers: list[int]) -> RunResult:
    return Simulation(config).follow(workers, strict=True).result()
