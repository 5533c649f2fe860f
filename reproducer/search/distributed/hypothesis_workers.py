"""The Hypothesis search on the worker processes of one machine (`--strategy hypothesis
--workers N`).

Theory of operation
-------------------
Rule 1: each worker runs its own Hypothesis (`find_violation`) on its share of the runs,
salted with `worker_salt(seed, worker)` (worker 0 draws what one process draws), without
Hypothesis's shrinking; it reports its count every `COUNT_EVERY` runs, and its shortest
violating run when its share is used up.

Rule 2: the first violating run to reach the parent stops them all (the pool's shared integer),
and is minimised once, in the parent (`reproducer.search.sampling.hypothesis_search`, which
also replays and saves the example database's story). The minimised story has the length of
one process's (the breadth-first minimum), but the first violating run is not the one a single
process finds, and `first_at` counts the runs the workers had reported by then.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from reproducer.running.trace import RunResult
from reproducer.search.distributed.pool import (
    STOP,
    Channel,
    ParentGone,
    SharedInt,
    WorkerPool,
    WorkersLost,
)
from reproducer.search.outcome import PROGRESS_INTERVAL_S, Progress, Ticker
from reproducer.search.sampling.hypothesis_search import Seen, find_violation
from reproducer.search.sampling.loop import Executor, TransportName
from reproducer.world.config import Config

__all__ = ["COUNT_EVERY", "HypothesisJob", "search_in_parallel", "serve_hypothesis",
           "worker_salt"]

COUNT_EVERY = 32  # runs between a worker's reports of its count


@dataclass(frozen=True, slots=True)
class HypothesisJob:
    """One worker's Hypothesis (pickled to it by the "spawn" context)."""

    config: Config
    salt: int
    max_runs: int
    transport: TransportName


@dataclass(frozen=True, slots=True)
class _Count:
    """A worker's report."""

    executions: int
    found: RunResult | None = None
    done: bool = False  # its share is used up


class _Stopped(BaseException):
    """Raised from a worker's condition when the parent stops it: a BaseException, so that
    Hypothesis lets it through instead of taking it for a failure to shrink."""


def worker_salt(seed: int, worker: int) -> int:
    """The salt of worker `worker` (0-based) of a parallel exploration seeded with `seed`:
    worker 0 draws what one process draws, every other its own walks."""
    if worker == 0:
        return seed
    digest = hashlib.sha256(f"reproducer/hypothesis/{seed}/{worker}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def search_in_parallel(config: Config, ticker: Ticker, *, seed: int, max_runs: int,
                       workers: int, transport: TransportName, progress: Progress | None
                       ) -> Seen:
    """The parent of `workers` Hypothesis workers (`serve_hypothesis`): what they saw until
    the first violating run reached it (Rule 2)."""
    n = workers
    jobs = [HypothesisJob(config, worker_salt(seed, w), max_runs // n + (w < max_runs % n),
                          transport) for w in range(n)]
    counts = [0] * n
    seen = Seen()
    running = set(range(n))
    with WorkerPool(serve_hypothesis, jobs, "hypothesis", progress) as pool:
        if progress:
            progress(f"hypothesis: {n} worker processes, each its own Hypothesis")
        while running and seen.shortest is None:
            for w, message in pool.wait(PROGRESS_INTERVAL_S):
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


def serve_hypothesis(channel: Channel, job: HypothesisJob, flag: SharedInt) -> None:
    """A Hypothesis worker (Rule 1); stopped by the parent through `flag`."""

    def each_run(seen: Seen) -> None:
        if flag.value == STOP:
            raise _Stopped
        if seen.executions % COUNT_EVERY == 0 and seen.executions:
            try:
                channel.send(_Count(seen.executions))
            except ParentGone:
                raise _Stopped from None

    try:
        with Executor(job.config, job.transport) as executor:
            seen = find_violation(executor, job.salt, job.max_runs, Ticker(None, "hypothesis"),
                                  None, shrink_phase=False, each_run=each_run)
    except _Stopped:
        return
    channel.send(_Count(seen.executions, seen.shortest, done=True))
