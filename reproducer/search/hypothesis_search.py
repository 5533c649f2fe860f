"""Hypothesis draws the schedules (`reproducer.strategies.explorer_schedules()`: a uniform
random walk whose generator Hypothesis seeds, the best sampler measured on every world), through
`hypothesis.find` with a database key made from the configuration, so the example database
(.hypothesis/ by default) replays a counterexample first on the next run."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any, Literal

from reproducer.running.trace import RunResult
from reproducer.search.minimise import minimise
from reproducer.search.outcome import Exploration, Progress, Ticker
from reproducer.search.sampling import Executor, TransportName
from reproducer.world.config import Config

__all__ = ["database_key", "explore_hypothesis"]


def database_key(config: Config) -> bytes:
    """The example-database key of a configuration: one per world, whatever the seed."""
    text = json.dumps({"what": "reproducer.explore/v1", "config": config.to_json()},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).digest()


def _database(path: Path | Literal["default"] | None) -> Any:
    from reproducer.search.database import example_database

    return example_database(path)  # a directory, or a redis:// URL shared by every worker


_STORY = b".minimised-story"


def _saved_story(db: Any, key: bytes, executor: Executor) -> RunResult | None:
    """The first minimised story saved for this world that still breaks an invariant."""
    from reproducer.running.choices import ReplayChoices

    if db is None:
        return None
    for entry in db.fetch(key + _STORY):
        try:
            choices = [int(c) for c in json.loads(entry)]
        except (ValueError, TypeError):
            continue  # not ours, or from an older format: Hypothesis's own entries remain
        broke, get = executor.run(ReplayChoices(choices))
        if broke:
            return get()
    return None


def explore_hypothesis(config: Config, *, max_runs: int = 10_000, seed: int = 0,
                       transport: TransportName = "memory", progress: Progress | None = None,
                       database: Path | Literal["default"] | None = "default",
                       shrink: bool = True) -> Exploration:
    """Hypothesis draws the schedules (`strategies.explorer_schedules()`), through
    `hypothesis.find`, seeded with `seed` (which also salts the walks: `explorer_schedules`).
    The database (`database_key(config)`) keeps the minimised story of a world, replayed
    before anything else on the next run; Hypothesis's own examples are seeds of walks, so
    they are not saved."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    from reproducer.strategies import HypothesisSchedule, explorer_schedules

    db = _database(database)
    key = database_key(config)
    ticker = Ticker(progress, "hypothesis")
    executions = 0
    first_at: int | None = None
    first_seconds: float | None = None
    found_steps: int | None = None
    last: list[RunResult] = []

    with Executor(config, transport) as executor:
        saved = _saved_story(db, key, executor)
        if saved is not None:  # an earlier run's minimised story, replayed first
            m = minimise(saved) if shrink else None
            final = m.result if m else saved
            return Exploration("hypothesis", config, 1, ticker.elapsed(), final, 1,
                               ticker.elapsed(), saved.length, saved.length,
                               m.local_steps if m else None, m.runs if m else 0,
                               transport=transport)

        def condition(schedule: HypothesisSchedule) -> bool:
            nonlocal executions, first_at, first_seconds, found_steps
            executions += 1
            broke, get = executor.run(schedule)
            if broke:
                result = get()
                if not last or result.length < last[0].length:
                    last[:] = [result]  # the shortest so far (a shrunk seed is another walk)
                if first_at is None:
                    first_at, first_seconds = executions, ticker.elapsed()
                    found_steps = result.length
                    if progress and result.violation:
                        progress(f"hypothesis: run {executions} broke invariant "
                                 f"{result.violation.invariant} in {result.length} steps; "
                                 "shrinking")
            if ticker.due():
                ticker.say(f"{executions:,} executions" + (
                    f", shrinking: {last[0].length} steps" if last else ", no violation yet"))
            return broke

        hyp_settings = settings(
            max_examples=max_runs, database=None, deadline=None, derandomize=False,
            phases=(Phase.explicit, Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        try:
            find(explorer_schedules(seed), condition, settings=hyp_settings,
                 random=random.Random(seed))
        except NoSuchExample:
            return Exploration("hypothesis", config, executions, ticker.elapsed(),
                               transport=transport)
    shrunk = last[0]
    m = minimise(shrunk) if shrink else None
    final = m.result if m else shrunk
    if db is not None:
        # The minimised story's choices, under a key of their own, replayed before Hypothesis
        # starts (`_saved_story`).
        db.save(key + _STORY, json.dumps(list(final.choices)).encode())
    return Exploration("hypothesis", config, executions, ticker.elapsed(), final, first_at,
                       first_seconds, found_steps, shrunk.length,
                       m.local_steps if m else None, m.runs if m else 0, transport=transport)
