"""Breadth-first search over states, in this process, de-duplicated by a 64-bit identity of the
state (Spin's hash compaction: the chance that two of n states collide is about n²/2⁶⁵). The
identity holds only what decides the future, under the reductions asked for (`identity`:
scheduler bookkeeping, canonical values, unread records, dead fields, symmetry over
enactors), and a partial-order reduction defers the Planner (`persistent`). Each merges only states
with the same futures or skips only steps that another order of the same length takes, so the
first violating state found is still at the least depth: its path is the shortest violating
schedule, the judge of minimality. With no violation and nothing cut by the bound on states,
every reachable state within `max_steps` was checked.

Memory: the visited set holds one integer per state, the path table two flat arrays (parent
entry, worker), and only the frontier holds states, each a short tuple of small integers (the
integer engine's, `reproducer.running.engine`).

The same search split over processes or machines is `reproducer.search.distributed`'s; which
one runs is `reproducer.search.explore`'s choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reproducer.running.engine import State
from reproducer.running.simulation import Simulation
from reproducer.running.trace import RunResult
from reproducer.search.exhaustive.expansion import Expansion, Paths
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS
from reproducer.search.outcome import Exploration, Progress, Ticker, collector_paused
from reproducer.world.config import Config

__all__ = ["DEFAULT_MAX_STATES", "search_bfs"]

DEFAULT_MAX_STATES = 30_000_000


def search_bfs(config: Config, *, max_states: int = DEFAULT_MAX_STATES,
               progress: Progress | None = None, movers: frozenset[int] | None = None,
               max_depth: int | None = None, reductions: Iterable[str] = DEFAULT_REDUCTIONS,
               start: Sequence[int | str] = (), states: bool = True) -> Exploration:
    """Breadth-first search over states (module docstring), in this process. `movers` (worker
    indices) and `max_depth` narrow it, for `minimise`'s last check; `reductions` names the
    reductions of a state's identity to use (default: those that pay). `start` (who moved, by
    index or name) begins the search where that schedule leads instead of at the beginning:
    the result, if any, is that schedule followed by the shortest way on from there (a guide's
    "from here, in N more moves"); `max_depth` counts from there. `states` False tells async
    enactors by their history, not their state (the differential test's unreduced side)."""
    with collector_paused():
        return _search(config, max_states=max_states, progress=progress, movers=movers,
                       max_depth=max_depth, reductions=reductions, start=start,
                       by_state=states)


def _search(config: Config, *, max_states: int, progress: Progress | None,
            movers: frozenset[int] | None, max_depth: int | None, reductions: Iterable[str],
            start: Sequence[int | str], by_state: bool) -> Exploration:
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
    expansion = Expansion(config, asked, movers, states=by_state)
    root = expansion.engine.follow(before)
    expand = expansion.expand
    fp = expansion.identity.fingerprint(root)
    seen: set[int] = {fp}
    paths = Paths()
    add = paths.add
    states: list[State] = [root]
    fps: list[int] = [fp]
    first = 0  # the entry of the level's first state (a level's entries are consecutive)
    expanded = 0
    depth = 0
    truncated = False

    room = config.max_steps - len(before)
    limit = room if max_depth is None else min(max_depth, room)
    while states and depth < limit:
        next_states: list[State] = []
        next_fps: list[int] = []
        next_first = len(paths)
        for entry, (state, h) in enumerate(zip(states, fps, strict=True), start=first):
            made, new, broke, cut = expand(state, h, seen, max_states)
            expanded += made
            truncated = truncated or cut
            for _, w, child_fp, child in new:
                add(entry, w)
                next_states.append(child)
                next_fps.append(child_fp)
            if broke is not None:
                result = _result_of_workers(config, [*before, *paths.of(entry), broke[1]])
                return Exploration(strategy="bfs", config=config,
                                   seconds=ticker.elapsed(), result=result,
                                   first_seconds=ticker.elapsed(),
                                   found_steps=result.length, states=len(seen),
                                   steps_expanded=expanded, reductions=expansion.used,
                       by_history=tuple(expansion.engine.by_history.items()))
            if ticker.due():
                ticker.say(f"depth {depth}, {len(seen):,} states, {expanded:,} steps")
        states, fps, first = next_states, next_fps, next_first
        depth += 1
    # with nothing cut, every state within max_steps (and max_depth) was checked; a state
    # left at the step bound that can still move means the bound cut the search
    engine = expansion.engine
    steps_cut = depth >= room and any(not engine.finished(s) and engine.ready(s) for s in states)
    return Exploration(strategy="bfs", config=config, seconds=ticker.elapsed(),
                       states=len(seen), exhausted=not truncated, steps_cut=steps_cut,
                       steps_expanded=expanded, reductions=expansion.used,
                       by_history=tuple(expansion.engine.by_history.items()))


def _result_of_workers(config: Config, workers: list[int]) -> RunResult:
    return Simulation(config).follow(workers, strict=True).result()
