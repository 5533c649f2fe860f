"""The shortest story: a violating run minimised by who moves when.

Hypothesis shrinks its choice sequence (fewer, smaller draws), which is not the same as fewer
steps. `minimise` works on the run as who moved at each step (a list of worker names) and,
deterministically, until nothing changes: removes chunks of steps (delta debugging, halves down
to single steps), removes a worker's steps from some point on, and moves a segment of one
worker's steps earlier when that lets a step be removed. Each candidate is replayed — a named
worker that is not ready at its turn is skipped — and kept only if it still breaks a watched
invariant, in fewer steps. Last, breadth-first search among the workers the story uses, to one
step less than the story, proves it shortest or finds the shorter one. Every strategy's
counterexample goes through it (`reproducer.search.sampling.loop.conclude`).

With programs (`Config.program`) every replay starts processes, so the local passes stop at a
time budget (`reproducer.programs.settings.shrink_budget_s`, `--shrink-budget`) and the last
check is not made: it would re-execute a program at nearly every state it expands. The story
is then locally minimal, not proved shortest (`Minimised.checked`, `Minimised.out_of_time`).

Imports: the exhaustive search, for that last check; nothing of sampling or distribution.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from reproducer.programs import settings as program_settings
from reproducer.running.choices import ReplayChoices
from reproducer.running.simulation import Simulation
from reproducer.running.trace import RunResult
from reproducer.search.exhaustive.bfs import search_bfs
from reproducer.world.config import Config

__all__ = ["Minimised", "memory_result", "minimise"]


def memory_result(config: Config, choices: Sequence[int]) -> RunResult:
    """The run of `choices`, in process, with its trace."""
    sim = Simulation(config)
    sim.advance(ReplayChoices(choices))
    return sim.result()


def _replay_schedule(config: Config, names: Sequence[str], limit: int
                     ) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """Replay who-moves-when (a worker not ready at its turn is skipped). Returns the schedule
    actually taken and its choices if it breaks a watched invariant within `limit` steps."""
    sim = Simulation(config).follow(names, limit=limit)
    if sim.violations and sim.length <= limit:
        return sim.schedule(), tuple(sim.choices)
    return None


def _segments(schedule: Sequence[str]) -> list[tuple[int, int]]:
    """Maximal runs of one worker: [(start, end), ...] with end exclusive."""
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(schedule) + 1):
        if i == len(schedule) or schedule[i] != schedule[start]:
            out.append((start, i))
            start = i
    return out


@dataclass(frozen=True, slots=True)
class Minimised:
    """What `minimise` did: the shortest run, the length the local passes reached (longer
    than `result` when the last, exhaustive check found a shorter run), the replays made, and
    the states that check visited; whether that check was made, and whether the local passes
    ran out of their time budget."""

    result: RunResult
    local_steps: int
    runs: int
    states: int
    checked: bool = True
    out_of_time: bool = False


class _OutOfTime(Exception):
    pass


def minimise(result: RunResult, *, budget_runs: int = 20_000,
             max_states: int = 400_000, budget_s: float | None = None) -> Minimised:
    """The deterministic schedule-aware minimisation (module docstring). In memory, same
    configuration; returns the shortest violating run it reaches. `budget_s` bounds the
    local passes in time (default: none, or the programs' `shrink_budget_s` for programs)."""
    config = result.config
    programs = config.program is not None
    if budget_s is None and programs:
        budget_s = program_settings.shrink_budget_s
    deadline = None if budget_s is None else time.monotonic() + budget_s
    if result.violation is None:
        raise ValueError("minimise() needs a run that broke an invariant")
    best = memory_result(config, result.choices)
    if best.violation is None:
        raise ValueError("the run does not break an invariant when replayed in memory")
    schedule = tuple(s.worker for s in best.steps)
    runs = 0

    def attempt(candidate: Sequence[str]) -> tuple[str, ...] | None:
        nonlocal runs
        if deadline is not None and time.monotonic() > deadline:
            raise _OutOfTime
        runs += 1
        got = _replay_schedule(config, candidate, len(schedule) - 1)
        return got[0] if got else None

    def deletions(base: tuple[str, ...]) -> tuple[str, ...] | None:
        n = len(base)
        size = max(1, n // 2)
        while size >= 1:  # delta debugging: chunks, halves down to single steps, last first
            for start in range(n - size, -1, -size):
                got = attempt(base[:start] + base[start + size:])
                if got is not None:
                    return got
            if size == 1:
                break
            size //= 2
        for name in sorted(set(base)):  # a worker's steps from some point on
            for start in (i for i, w in enumerate(base) if w == name):
                got = attempt(tuple(w for i, w in enumerate(base) if i < start or w != name))
                if got is not None:
                    return got
        return None

    def moves() -> tuple[str, ...] | None:
        # a segment (a run of one worker's steps) moved earlier, before another segment, then
        # deletions: a writer that comes sooner makes the steps that waited for it go away
        segs = _segments(schedule)
        for k, (start, end) in enumerate(segs):
            for target, _ in segs[:k]:
                moved = (schedule[:target] + schedule[start:end] + schedule[target:start]
                         + schedule[end:])
                got = deletions(moved)
                if got is not None:
                    return got
        return None

    out_of_time = False
    while runs < budget_runs:
        try:
            shorter = deletions(schedule) or moves()
        except _OutOfTime:
            out_of_time = True
            break
        if shorter is None:
            break
        schedule = shorter
    local_steps = len(schedule)
    if programs:  # no last check (module docstring)
        got = _replay_schedule(config, schedule, len(schedule))
        assert got is not None
        return Minimised(memory_result(config, got[1]), local_steps, runs, 0, checked=False,
                         out_of_time=out_of_time)
    # Last, exhaustive: is there a shorter violating schedule among the workers this story
    # uses? Breadth-first to one step less than the story (Spin's iterative shortening).
    movers = frozenset(i for i, n in enumerate(config.worker_names) if n in set(schedule))
    check = search_bfs(config, max_states=max_states, movers=movers,
                       max_depth=len(schedule) - 1)
    if check.found and check.result is not None:
        return Minimised(check.result, local_steps, runs, check.states or 0)
    got = _replay_schedule(config, schedule, len(schedule))
    assert got is not None
    return Minimised(memory_result(config, got[1]), local_steps, runs, check.states or 0)
