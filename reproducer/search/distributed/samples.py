"""A sampler's runs sharded over the worker processes of one machine (`--workers N`).

Theory of operation
-------------------
Rule 1: run i is the same run in every process. A sampler's sources are a function of the run
index alone; each worker builds them with the sampler's own `sources(config, seed, depth)`
(the registry `reproducer.search.sampling.SAMPLERS`: PCT's horizon, SURW's profile, computed
by the code one process runs), and then runs only the indices the parent hands it.

Rule 2: "first" is the least run index that breaks an invariant. The parent hands out chunks
of consecutive indices in increasing order, never one at or above the least violating index it
knows (`best`); a worker abandons its chunk at an index above `best` (the pool's shared
integer). When no chunk below `best` is left to run or running, `best` is the least violating
index of all: the run one process stops at. So the verdict, `first_at`, the first violating
run and its minimised story are the same for any number of workers. A run that raised (an
enactor that broke the contract) is ordered like a violation: it is raised only if no run
before it broke an invariant, as one process would.

Rule 3: only the parent speaks and decides. Progress lines (runs/s, workers alive) come from it;
it minimises the first violating run, once; a worker that died is reported in one line naming
it, and its chunk goes back to the others (`WorkersLost` when none is left).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from reproducer.running.trace import RunResult
from reproducer.search.distributed.pool import (
    Channel,
    SharedInt,
    WorkerPool,
    WorkersLost,
    answer_each,
    portable,
    start_method,
)
from reproducer.search.outcome import PROGRESS_INTERVAL_S, Exploration, Progress, Ticker
from reproducer.search.sampling import SAMPLERS
from reproducer.search.sampling.loop import Executor, Sources, TransportName, conclude
from reproducer.world.config import Config

__all__ = ["CHUNK_RUNS", "Ledger", "SampleJob", "serve_samples", "shard_samples"]

CHUNK_RUNS = 64  # most runs handed out at once: a pipe round trip per chunk is a tiny share


@dataclass(frozen=True, slots=True)
class SampleJob:
    """What a sampling worker builds its sources from (pickled to it by the "spawn" context)."""

    strategy: str
    config: Config
    seed: int
    depth: int
    transport: TransportName


@dataclass(frozen=True, slots=True)
class Ledger:
    """Who ran what: the runs each worker made, and every chunk of indices [start, end) that
    was run to its end or to its violation, sorted (a chunk abandoned part-way counts the
    runs it made)."""

    runs_by_worker: tuple[int, ...]
    chunks: tuple[tuple[int, int], ...]
    lost: tuple[int, ...]  # workers (0-based) that died


@dataclass(frozen=True, slots=True)
class _Ran:
    """A worker's answer to a chunk."""

    start: int
    end: int  # runs [start, end) were made
    hit: int | None = None  # the last of them, if it broke an invariant or raised
    result: RunResult | None = None
    error: BaseException | None = None


def serve_samples(channel: Channel, job: SampleJob, flag: SharedInt) -> None:
    """A sampling worker: build the sources (Rule 1), then run each chunk the parent hands
    out."""
    sources = SAMPLERS[job.strategy](job.config, job.seed, job.depth)
    with Executor(job.config, job.transport) as executor:
        answer_each(channel, lambda chunk: _run_chunk(executor, sources, chunk[0], chunk[1],
                                                       flag))


def _run_chunk(executor: Executor, sources: Sources, start: int, stop: int, flag: SharedInt
               ) -> _Ran:
    """Runs start..stop-1 in order, up to the first that breaks an invariant or raises; an
    index above `flag` (the least violating index the parent knows) is not wanted (Rule 2)."""
    for i in range(start, stop):
        if i > flag.value:
            return _Ran(start, i)
        try:
            broke, get = executor.run(sources(i))
        except Exception as exc:
            return _Ran(start, i + 1, i, error=portable(exc))
        if broke:
            return _Ran(start, i + 1, i, result=get())
    return _Ran(start, stop)


class _Chunks:
    """The parent's bookkeeping (Rule 2), no I/O: which runs are still to be handed out, and
    the least index known to break an invariant or raise."""

    def __init__(self, max_runs: int, chunk: int, workers: int) -> None:
        self.chunk = chunk
        self.next = 1
        self.best = max_runs + 1  # nothing at or above it is handed out
        self.hit: _Ran | None = None
        self.returned: deque[tuple[int, int]] = deque()  # chunks of workers that died
        self.runs_by_worker = [0] * workers
        self.chunks: list[tuple[int, int]] = []

    def next_chunk(self) -> tuple[int, int] | None:
        while self.returned:
            start, stop = self.returned.popleft()
            if start < self.best:
                return start, min(stop, self.best)
        if self.next >= self.best:
            return None
        start, self.next = self.next, min(self.next + self.chunk, self.best)
        return start, self.next

    def ran(self, worker: int, ran: _Ran) -> bool:
        """Counts the runs; True when `ran` holds a new least violating index."""
        self.runs_by_worker[worker] += ran.end - ran.start
        if ran.end > ran.start:
            self.chunks.append((ran.start, ran.end))
        if ran.hit is not None and ran.hit < self.best:
            self.best, self.hit = ran.hit, ran
            return True
        return False

    def has_work(self) -> bool:
        return self.next < self.best or any(start < self.best for start, _ in self.returned)

    @property
    def made(self) -> int:
        return sum(self.runs_by_worker)


def shard_samples(strategy: str, config: Config, *, workers: int, max_runs: int, seed: int,
                  depth: int, transport: TransportName, progress: Progress | None,
                  shrink: bool, chunk_runs: int = CHUNK_RUNS) -> tuple[Exploration, Ledger]:
    """`strategy`'s exploration over `workers` processes: the same `Exploration` as one
    process gives (module docstring), but for the seconds; and who ran what (`Ledger`). Runs
    are handed out at most `chunk_runs` at a time (fewer when there are few runs, so every
    worker gets some)."""
    if strategy not in SAMPLERS:
        raise ValueError(f"strategy {strategy!r} is not a sampler: {', '.join(SAMPLERS)}")
    n = min(workers, max_runs)
    plan = _Chunks(max_runs, max(1, min(chunk_runs, max_runs // (4 * n))), n)
    ticker = Ticker(progress, strategy)
    jobs = [SampleJob(strategy, config, seed, depth, transport)] * n
    busy: dict[int, tuple[int, int]] = {}
    first_seconds = 0.0
    with WorkerPool(serve_samples, jobs, strategy, progress, start_method(transport)) as pool:
        announce = progress
        while True:
            for w in sorted(pool.alive - busy.keys()):
                chunk = plan.next_chunk()
                if chunk is None:
                    break
                busy[w] = chunk
                pool.send(w, chunk)
            if announce:  # once every worker holds its first chunk
                announce(f"{strategy}: {n} worker processes, handed runs {plan.chunk} at a time")
                announce = None
            if not busy:
                if plan.has_work():  # and no worker is left to give it to
                    raise WorkersLost(f"{strategy}: every worker process died after "
                                      f"{plan.made:,} runs; nothing was judged")
                break
            for w, message in pool.wait(PROGRESS_INTERVAL_S):
                chunk = busy.pop(w, None)
                if isinstance(message, _Ran):
                    if plan.ran(w, message):
                        pool.flag.value = plan.best
                        first_seconds = ticker.elapsed()
                elif chunk is not None:
                    plan.returned.append(chunk)
                    pool.died(w, f"its runs {chunk[0]:,}-{chunk[1] - 1:,} go to the others")
                else:
                    pool.died(w, "it held no runs")
            if ticker.due():
                known = (f"run {plan.best:,} broke an invariant, finishing the runs before it"
                         if plan.hit else "no violation yet")
                ticker.say(f"{plan.made:,} executions, {plan.made / ticker.elapsed():,.0f}/s, "
                           f"{len(pool.alive)} of {n} workers alive, {known}")
        ledger = Ledger(tuple(plan.runs_by_worker), tuple(sorted(plan.chunks)),
                        tuple(pool.lost))
    hit = plan.hit
    if hit is None:
        return Exploration(strategy=strategy, config=config, executions=max_runs,
                           seconds=ticker.elapsed(), transport=transport, workers=n), ledger
    if hit.error is not None:
        raise hit.error
    assert hit.result is not None and hit.hit is not None
    return conclude(strategy, hit.result, ticker=ticker, shrink=shrink, executions=hit.hit,
                    first_at=hit.hit, first_seconds=first_seconds, transport=transport,
                    workers=n, progress=progress), ledger
