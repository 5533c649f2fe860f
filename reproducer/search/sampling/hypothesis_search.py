"""Hypothesis draws the schedules (`reproducer.strategies.explorer_schedules()`: a uniform
random walk whose generator Hypothesis seeds, the best sampler measured on every world), through
`hypothesis.find` with a database key made from the configuration, so the example database
(.hypothesis/ by default) replays a counterexample first on the next run."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reproducer.running.trace import RunResult
from reproducer.search.minimise import minimise
from reproducer.search.outcome import PROGRESS_INTERVAL_S, Exploration, Progress, Ticker
from reproducer.search.sampling.loop import Executor, TransportName
from reproducer.world.config import Config

if TYPE_CHECKING:
    from reproducer.search.distributed.pool import Job

__all__ = ["database_key", "explore_hypothesis", "serve_hypothesis", "worker_salt"]


def database_key(config: Config) -> bytes:
    """The example-database key of a configuration: one per world, whatever the seed."""
    text = json.dumps({"what": "reproducer.explore/v1", "config": config.to_json()},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).digest()


def _database(path: Path | str | None) -> Any:
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


@dataclass(slots=True)
class _Search:
    """What one Hypothesis search saw."""

    executions: int = 0
    first_at: int | None = None
    first_seconds: float | None = None
    found_steps: int | None = None
    shortest: RunResult | None = None  # the shortest violating run (a shrunk seed is a walk)


class _Stopped(BaseException):
    """Raised from a worker's condition when the parent stops it: a BaseException, so that
    Hypothesis lets it through instead of taking it for a failure to shrink."""


def _search(executor: Executor, salt: int, max_runs: int, ticker: Ticker,
            progress: Progress | None, *, shrink_phase: bool = True,
            each_run: Callable[[_Search], None] | None = None) -> _Search:
    """`hypothesis.find` over `explorer_schedules(salt)`, seeded with `salt`."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    from reproducer.strategies import HypothesisSchedule, explorer_schedules

    seen = _Search()

    def condition(schedule: HypothesisSchedule) -> bool:
        if each_run is not None:
            each_run(seen)
        seen.executions += 1
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
    with contextlib.suppress(NoSuchExample):
        find(explorer_schedules(salt), condition, settings=hyp_settings,
             random=random.Random(salt))
    return seen


def worker_salt(seed: int, worker: int) -> int:
    """The salt of worker `worker` (0-based) of a parallel exploration seeded with `seed`:
    worker 0 draws what one process draws, every other its own walks."""
    if worker == 0:
        return seed
    digest = hashlib.sha256(f"reproducer/hypothesis/{seed}/{worker}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def explore_hypothesis(config: Config, *, max_runs: int = 10_000, seed: int = 0,
                       transport: TransportName = "memory", progress: Progress | None = None,
                       database: Path | str | None = "default",
                       shrink: bool = True, workers: int = 1) -> Exploration:
    """Hypothesis draws the schedules (`strategies.explorer_schedules()`), through
    `hypothesis.find`, seeded with `seed` (which also salts the walks: `explorer_schedules`).
    The database (`database_key(config)`) keeps the minimised story of a world, replayed
    before anything else on the next run; Hypothesis's own examples are seeds of walks, so
    they are not saved.

    With `workers` > 1, each worker process runs its own Hypothesis (`worker_salt`) on its
    share of `max_runs`, without Hypothesis's shrinking; the first violating run to reach
    this process is minimised here, once. The minimised story has the length of one
    process's (the breadth-first minimum; on the worlds of the tests, 4 of 6 seeds gave the
    very same steps), but the first violating run is not the one a single process finds, and
    `first_at` counts the runs the workers had reported by then."""
    if workers < 1:
        raise ValueError(f"{workers} workers: need at least 1 worker process")
    db = _database(database)
    key = database_key(config)
    ticker = Ticker(progress, "hypothesis")

    with Executor(config, transport) as executor:
        saved = _saved_story(db, key, executor)
        if saved is None and workers == 1:
            seen = _search(executor, seed, max_runs, ticker, progress)
    if saved is not None:  # an earlier run's minimised story, replayed first
        m = minimise(saved) if shrink else None
        final = m.result if m else saved
        return Exploration("hypothesis", config, 1, ticker.elapsed(), final, 1,
                           ticker.elapsed(), saved.length, saved.length,
                           m.local_steps if m else None, m.runs if m else 0,
                           transport=transport)
    if workers > 1:
        seen = _in_parallel(config, seed, max_runs, min(workers, max_runs), transport,
                            ticker, progress)
    shrunk = seen.shortest
    if shrunk is None:
        return Exploration("hypothesis", config, seen.executions, ticker.elapsed(),
                           transport=transport, workers=workers)
    m = minimise(shrunk) if shrink else None
    final = m.result if m else shrunk
    if db is not None:
        # The minimised story's choices, under a key of their own, replayed before Hypothesis
        # starts (`_saved_story`).
        db.save(key + _STORY, json.dumps(list(final.choices)).encode())
    return Exploration("hypothesis", config, seen.executions, ticker.elapsed(), final,
                       seen.first_at, seen.first_seconds, seen.found_steps, shrunk.length,
                       m.local_steps if m else None, m.runs if m else 0, transport=transport,
                       workers=workers)


# Parallel Hypothesis: messages from a worker to the parent.
@dataclass(frozen=True, slots=True)
class _Count:
    executions: int
    found: RunResult | None = None
    done: bool = False  # its share is used up


COUNT_EVERY = 32  # runs between a worker's reports of its count


def _in_parallel(config: Config, seed: int, max_runs: int, n: int, transport: TransportName,
                 ticker: Ticker, progress: Progress | None) -> _Search:
    """The parent of `n` Hypothesis workers (`serve_hypothesis`): stops them all at the first
    violating run that reaches it."""
    from reproducer.search.distributed.pool import Failed, Job, WorkerPool, WorkersLost

    jobs = [Job("hypothesis", config, seed, 0, max_runs // n + (w < max_runs % n), transport,
                w, n) for w in range(n)]
    counts = [0] * n
    seen = _Search()
    running = set(range(n))
    with WorkerPool(jobs, "hypothesis", progress) as pool:
        if progress:
            progress(f"hypothesis: {n} worker processes, each its own Hypothesis")
        while running and seen.shortest is None:
            for w, message in pool.wait(PROGRESS_INTERVAL_S):
                if isinstance(message, Failed):
                    raise message.error
                if message is None:
                    running.discard(w)
                    pool.died(w, f"the runs left of its {jobs[w].max_runs:,} are not made")
                    continue
                assert isinstance(message, _Count)
                counts[w] = message.executions
                if message.done:
                    running.discard(w)
                if message.found is not None and seen.shortest is None:
                    seen.shortest, seen.found_steps = message.found, message.found.length
                    seen.first_at, seen.first_seconds = sum(counts), ticker.elapsed()
            if not pool.alive and seen.shortest is None and running:
                raise WorkersLost(f"hypothesis: every worker process died after "
                                  f"{sum(counts):,} runs; nothing was judged")
            if ticker.due():
                ticker.say(f"{sum(counts):,} executions, {sum(counts) / ticker.elapsed():,.0f}"
                           f"/s, {len(pool.alive)} of {n} workers alive, no violation yet")
    seen.executions = sum(counts)
    found = seen.shortest
    if progress and found is not None and found.violation:
        progress(f"hypothesis: run {seen.first_at} (across the workers) broke invariant "
                 f"{found.violation.invariant} in {found.length} steps; minimising")
    return seen


def serve_hypothesis(conn: Connection, job: Job, flag: Any) -> None:
    """A Hypothesis worker process: its share of the runs, its own salt, no shrinking; it
    reports its count every `COUNT_EVERY` runs and its first violating run, then waits to be
    told to stop (`parallel.worker_main`)."""
    from reproducer.search.distributed.pool import Failed, portable

    def each_run(seen: _Search) -> None:
        if flag.value == 0:
            raise _Stopped
        if seen.executions % COUNT_EVERY == 0 and seen.executions:
            try:
                conn.send(_Count(seen.executions))
            except OSError:
                raise _Stopped from None  # the parent has gone

    try:
        with Executor(job.config, job.transport) as executor:
            seen = _search(executor, worker_salt(job.seed, job.worker), job.max_runs,
                           Ticker(None, "hypothesis"), None, shrink_phase=False,
                           each_run=each_run)
        conn.send(_Count(seen.executions, seen.shortest, done=True))
    except _Stopped:
        pass
    except Exception as exc:
        conn.send(Failed(portable(exc)))
    while conn.recv() is not None:
        pass
