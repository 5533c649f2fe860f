"""The default strategy: Hypothesis draws the schedules, through `hypothesis.find`, with a
database key made from the configuration, so the example database (.hypothesis/ by default)
replays a counterexample first on the next run.

What Hypothesis draws is a seed, not the decisions (`explorer_schedules`): each example is a
uniform random walk (`SampledSchedule`) whose generator Hypothesis seeds, as the user-facing
`reproducer.strategies.schedules()` does too. Drawing each decision instead starts Hypothesis
in its small-example phase, whose every other example is a random prefix and then no context
switch at all; drawing the seed makes every example a fresh random walk from the first one.
Hypothesis shrinks the seed only; the story is shrunk by `reproducer.search.minimise`, which
ends with an exhaustive check.

The database keeps the minimised story of a world under a key of its own, replayed before
anything else on the next run; Hypothesis's own examples are seeds of walks, so they are not
saved. The same search runs in the worker processes of a parallel exploration
(`reproducer.search.distributed.hypothesis_workers`), which `search_hypothesis` is handed as
`elsewhere`: the replay of a saved story, the minimising and the saving stay here, once.

Hypothesis is imported when a search starts, not with this module: every `reproducer` command
imports search, and most never run Hypothesis.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reproducer.running.choices import ReplayChoices
from reproducer.running.trace import RunResult
from reproducer.search.database import example_database
from reproducer.search.outcome import Exploration, Progress, Ticker, collector_paused
from reproducer.search.sampling.loop import Executor, TransportName, conclude
from reproducer.world.config import Config

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["STORY_SUFFIX", "SampledSchedule", "Seen", "database_key", "explorer_schedules",
           "find_violation", "search_hypothesis"]

STORY_SUFFIX = b".minimised-story"  # the key of a world's minimised story: its key + this
COLLECT_EVERY = 1_000  # runs between two passes of the cyclic garbage collector


class SampledSchedule:
    """The default explorer's schedule: a uniform random walk from a generator that Hypothesis
    seeds (module docstring). Use it for one run only."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.choices: list[int] = []

    def choose(self, ready: Sequence[str]) -> int:
        choice = self._rng.randrange(len(ready))
        self.choices.append(choice)
        return choice

    def __repr__(self) -> str:
        return f"SampledSchedule(choices={self.choices})"


def explorer_schedules(salt: int = 0) -> SearchStrategy[SampledSchedule]:
    """The schedules `reproducer explore` draws by default (`SampledSchedule`). Hypothesis's
    first example is its simplest draw (seed 0); the `salt` makes that, like every other seed,
    a random walk of its own exploration, so no exploration starts with the same walk."""
    from hypothesis import strategies as st  # (module docstring: when a search starts)

    def walk(n: int) -> SampledSchedule:
        return SampledSchedule(random.Random(f"reproducer/{salt}/{n}"))

    return st.integers(min_value=0, max_value=2**64 - 1).map(walk)


def database_key(config: Config) -> bytes:
    """The example-database key of a configuration: one per world, whatever the seed."""
    text = json.dumps({"what": "reproducer.explore/v1", "config": config.to_json()},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).digest()


def _saved_story(db: Any, key: bytes, executor: Executor) -> RunResult | None:
    """The first minimised story saved for this world that still breaks an invariant."""
    if db is None:
        return None
    for entry in db.fetch(key + STORY_SUFFIX):
        try:
            choices = [int(c) for c in json.loads(entry)]
        except (ValueError, TypeError):
            continue  # not ours, or from an older format: Hypothesis's own entries remain
        broke, get = executor.run(ReplayChoices(choices))
        if broke:
            return get()
    return None


@dataclass(slots=True)
class Seen:
    """What one Hypothesis search saw (or, in parallel, all of them together)."""

    executions: int = 0
    first_at: int | None = None
    first_seconds: float | None = None
    found_steps: int | None = None
    shortest: RunResult | None = None  # the shortest violating run (a shrunk seed is a walk)


def find_violation(executor: Executor, salt: int, max_runs: int, ticker: Ticker,
                   progress: Progress | None, *, shrink_phase: bool = True,
                   each_run: Callable[[Seen], None] | None = None) -> Seen:
    """`hypothesis.find` over `explorer_schedules(salt)`, seeded with `salt`. `each_run` is
    called before every run (a worker process reports its count and stops there)."""
    from hypothesis import HealthCheck, Phase, find, settings  # (module docstring)
    from hypothesis.errors import NoSuchExample

    seen = Seen()

    def condition(schedule: SampledSchedule) -> bool:
        if each_run is not None:
            each_run(seen)
        seen.executions += 1
        if seen.executions % COLLECT_EVERY == 0:
            gc.collect(1)  # the young generations: what a run's bookkeeping left
        broke, get = executor.run(schedule)
        if broke:
            result = get()
            if seen.shortest is None or result.length < seen.shortest.length:
                seen.shortest = result
            if seen.first_at is None:
                seen.first_at, seen.first_seconds = seen.executions, ticker.elapsed()
                seen.found_steps = result.length
                if progress and result.violation:
                    progress(f"hypothesis: run {seen.executions} broke invariant "
                             f"{result.violation.invariant} in {result.length} steps; "
                             "shrinking")
        if ticker.due():
            ticker.say(f"{seen.executions:,} executions" + (
                f", shrinking: {seen.shortest.length} steps" if seen.shortest
                else ", no violation yet"))
        return broke

    phases = (Phase.explicit, Phase.generate, *((Phase.shrink,) if shrink_phase else ()))
    hyp_settings = settings(
        max_examples=max_runs, database=None, deadline=None, derandomize=False,
        phases=phases, suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    # The runs make no cyclic garbage, Hypothesis's bookkeeping some (about 60 objects a
    # run): the collector is paused, and collects once every COLLECT_EVERY runs instead of
    # passing over the shared engine's tables many times a second (docs/benchmarks.md).
    with contextlib.suppress(NoSuchExample), collector_paused():
        find(explorer_schedules(salt), condition, settings=hyp_settings,
             random=random.Random(salt))
    return seen


def search_hypothesis(config: Config, *, max_runs: int = 10_000, seed: int = 0,
                      transport: TransportName = "memory", progress: Progress | None = None,
                      database: Path | str | None = "default", shrink: bool = True,
                      elsewhere: Callable[[Ticker], Seen] | None = None,
                      workers: int = 1) -> Exploration:
    """Hypothesis's search (module docstring), seeded with `seed`, in this process, or, given
    `elsewhere`, by that search (on `workers` worker processes) once no saved story of this
    world breaks an invariant any more."""
    db = example_database(database)  # a directory, or a redis:// URL shared by every worker
    key = database_key(config)
    ticker = Ticker(progress, "hypothesis")

    with Executor(config, transport) as executor:
        saved = _saved_story(db, key, executor)
        if saved is None and elsewhere is None:
            # programs: Hypothesis's own shrinking would replay hundreds of runs, each
            # starting processes; `minimise` shrinks the story, within its time budget
            seen = find_violation(executor, seed, max_runs, ticker, progress,
                                  shrink_phase=config.program is None)
    if saved is not None:  # an earlier run's minimised story, replayed first
        return conclude("hypothesis", saved, ticker=ticker, shrink=shrink, executions=1,
                        first_at=1, first_seconds=ticker.elapsed(), shrunk_steps=saved.length,
                        transport=transport)
    if elsewhere is not None:
        seen = elsewhere(ticker)
    shrunk = seen.shortest
    if shrunk is None:
        return Exploration(strategy="hypothesis", config=config, executions=seen.executions,
                           seconds=ticker.elapsed(), transport=transport, workers=workers)

    def save(story: RunResult) -> None:
        # The minimised story's choices, under a key of their own, replayed before Hypothesis
        # starts (`_saved_story`).
        if db is not None:
            db.save(key + STORY_SUFFIX, json.dumps(list(story.choices)).encode())

    return conclude("hypothesis", shrunk, ticker=ticker, shrink=shrink,
                    executions=seen.executions, first_at=seen.first_at,
                    first_seconds=seen.first_seconds, found_steps=seen.found_steps,
                    shrunk_steps=shrunk.length, transport=transport, workers=workers, keep=save)
