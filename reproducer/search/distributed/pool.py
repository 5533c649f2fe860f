"""All the cores of one machine for the sampling strategies (issue 14, its first part).

Theory of operation
-------------------
Rule 1: run i is the same run in every process. A sampling strategy's sources are a function of
the run index alone (`sampling.py`); each worker process calls the strategy's own
`explore_<name>` under `sampling.serving`, so it builds its sources (PCT's horizon, SURW's
profile) with the code one process runs, and then runs only the indices the parent hands it.

Rule 2: "first" is the least run index that breaks an invariant. The parent hands out chunks
of consecutive indices in increasing order, never one at or above the least violating index it
knows (`best`); a worker abandons its chunk at an index above `best` (one shared integer, which
only the parent writes). When no chunk below `best` is left to run or running, `best` is the
least violating index of all: the run one process stops at. So the verdict, `first_at`, the
first violating run and its minimised story are the same for any number of workers. A run that
raised (an enactor that broke the contract) is ordered like a violation: it is raised only if
no run before it broke an invariant, as one process would.

Rule 3: only the parent speaks and decides. Progress lines (runs/s, workers alive) come from it;
it minimises the first violating run, once; a worker that died is reported in one line naming
it, and its chunk goes back to the others (`WorkersLost` when none is left).

Workers are forked where that is safe (`start_method`: Linux, in memory, one thread), else
started with the "spawn" context: a fresh interpreter each, so no event loop, uvloop policy or
socket of the parent leaks into them. They ignore SIGINT (Ctrl-C reaches the
whole process group); the parent stops every one of them when it leaves `WorkerPool`, on a
result, an error or Ctrl-C alike. Hypothesis shards differently (`hypothesis_search.py`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from reproducer.running.choices import ChoiceSource
from reproducer.running.trace import RunResult
from reproducer.search.minimise import minimise
from reproducer.search.outcome import PROGRESS_INTERVAL_S, Exploration, Progress, Ticker
from reproducer.search.sampling.loop import Executor, Sources, TransportName, serving
from reproducer.world.config import Config

__all__ = ["CHUNK_RUNS", "SAMPLERS", "Failed", "Job", "Ledger", "WorkerPool", "WorkersLost",
           "portable", "sample_in_parallel", "shard_samples", "start_method"]

log = logging.getLogger(__name__)

SAMPLERS = ("random", "pct", "pos", "surw")  # the strategies built on `sampling.sample`
CHUNK_RUNS = 64  # most runs handed out at once: a pipe round trip per chunk is ~0.1% of them
_STOP = 0  # the shared integer's value that stops every worker (no run index is 0)


class WorkersLost(RuntimeError):
    """Every worker process died before the exploration was done: nothing was judged."""


@dataclass(frozen=True, slots=True)
class Job:
    """What one worker process is asked to do (pickled to it by the "spawn" context)."""

    strategy: str
    config: Config
    seed: int
    depth: int
    max_runs: int
    transport: TransportName
    worker: int  # 0-based
    workers: int
    reductions: tuple[str, ...] = ()  # bfs only


@dataclass(frozen=True, slots=True)
class Ledger:
    """Who ran what: the runs each worker made, and every chunk of indices [start, end) that
    was run to its end or to its violation, sorted (a chunk abandoned part-way counts the
    runs it made)."""

    runs_by_worker: tuple[int, ...]
    chunks: tuple[tuple[int, int], ...]
    lost: tuple[int, ...]  # workers (0-based) that died


# Messages from a worker to the parent.
@dataclass(frozen=True, slots=True)
class _Ran:
    start: int
    end: int  # runs [start, end) were made
    hit: int | None = None  # the last of them, if it broke an invariant or raised
    result: RunResult | None = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """A worker's message: it raised outside any run (building a strategy's sources, starting
    its transport, its Hypothesis); the parent raises `error`."""

    error: BaseException


def portable(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling to the parent, else a RuntimeError that names it."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        stand_in = RuntimeError(f"{type(exc).__name__}: {exc}")
        stand_in.add_note("".join(traceback.format_exception(exc)))
        return stand_in


class WorkerPool:
    """N worker processes (forked or spawned, `start_method`), one pipe each. Lifecycle:
    `with` starts them; leaving it tells every worker to stop, then terminates (and last kills)
    any that does not. A worker exits only when told, so a pipe that closes before is a worker
    that died."""

    def __init__(self, jobs: Sequence[Job], label: str, progress: Progress | None,
                 start_method: str = "spawn") -> None:
        self._ctx: Any = multiprocessing.get_context(start_method)
        self.jobs = list(jobs)
        self.label = label
        self.progress = progress
        self.flag = self._ctx.RawValue(ctypes.c_longlong, 1 << 62)  # see `_run_chunk`
        self.processes: list[BaseProcess] = []
        self.conns: list[multiprocessing.connection.Connection] = []
        self.alive: set[int] = set()
        self.lost: list[int] = []

    def __enter__(self) -> WorkerPool:
        try:
            for job in self.jobs:
                ours, theirs = self._ctx.Pipe()
                process = self._ctx.Process(
                    target=worker_main, args=(theirs, job, self.flag), daemon=True,
                    name=f"reproducer {self.label} worker {job.worker + 1}/{job.workers}")
                self.conns.append(ours)
                try:
                    process.start()
                finally:
                    theirs.close()
                self.processes.append(process)  # started: `__exit__` joins it
                self.alive.add(job.worker)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.flag.value = _STOP
        for w in sorted(self.alive):
            self.send(w, None)
        for process in self.processes:
            process.join(timeout=2.0)
            if process.is_alive():
                process.terminate()
                process.join(timeout=2.0)
            if process.is_alive():
                process.kill()
                process.join()
        for conn in self.conns:
            conn.close()
        self.alive.clear()

    def send(self, worker: int, message: object) -> None:
        with contextlib.suppress(OSError):  # it died: its pipe reports that to `wait`
            self.conns[worker].send(message)

    def wait(self, timeout: float) -> Iterator[tuple[int, object]]:
        """(worker, message) for each message that arrives within `timeout`; (worker, None)
        for a worker that died, after the one line that says so."""
        conns = {id(self.conns[w]): w for w in self.alive}
        ready = multiprocessing.connection.wait([self.conns[w] for w in self.alive], timeout)
        for conn in ready:
            assert isinstance(conn, multiprocessing.connection.Connection)
            w = conns[id(conn)]
            try:
                yield w, conn.recv()
            except (EOFError, OSError):
                self.alive.discard(w)
                self.lost.append(w)
                yield w, None

    def died(self, worker: int, doing: str) -> None:
        """Say that `worker` died, and what becomes of its work."""
        process = self.processes[worker]
        process.join(timeout=1.0)
        line = (f"{self.label}: worker {worker + 1} of {len(self.jobs)} (pid {process.pid}) "
                f"died with exit code {process.exitcode}; {doing}")
        if self.progress is not None:
            self.progress(line)
        else:
            log.warning(line)


def start_method(transport: str = "memory") -> str:
    """"fork" where it is safe: on Linux, in memory, from a process with no other thread (a
    thread could hold a lock the child would inherit locked; a real transport's event loop and
    sockets stay the parent's). A forked worker starts at once with every module imported; a
    spawned one imports them first (about 0.4 s here)."""
    if sys.platform == "linux" and transport == "memory" and threading.active_count() == 1:
        return "fork"
    return "spawn"


def worker_main(conn: multiprocessing.connection.Connection, job: Job, flag: Any) -> None:
    """A worker process: serve the parent's requests until told to stop (None) or the parent
    has gone."""
    # Forked, this process holds every object of its parent: out of the collector's sight
    # (never freed here, and never scanned, which would copy their pages and cost seconds).
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        if job.strategy == "bfs":
            from reproducer.search.distributed.levels import serve_partition

            serve_partition(conn, job)
        elif job.strategy == "hypothesis":
            from reproducer.search.sampling.hypothesis_search import serve_hypothesis

            serve_hypothesis(conn, job, flag)
        else:
            _serve_samples(conn, job, flag)
    except (EOFError, OSError):
        pass  # the parent has gone: there is no one left to tell
    conn.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Done, and nothing is left to close: skip the interpreter's teardown, which frees the
    # simulation's memos (about a million objects after 10,000 runs) for a second or more
    # while the parent waits in `WorkerPool.__exit__`. (An exception other than the pipe's
    # still ends the process the usual way, with its traceback and exit code 1.)
    os._exit(0)


def _serve_samples(conn: multiprocessing.connection.Connection, job: Job, flag: Any) -> None:
    from reproducer.search.explore import explore

    def serve(strategy: str, config: Config, sources: Sources, transport: TransportName
              ) -> None:
        with Executor(config, transport) as executor:
            while (chunk := conn.recv()) is not None:
                conn.send(_run_chunk(executor, sources, chunk[0], chunk[1], flag))

    try:
        with serving(serve):
            explore(job.strategy, job.config, max_runs=job.max_runs,  # type: ignore[arg-type]
                    seed=job.seed, depth=job.depth, transport=job.transport, database=None,
                    shrink=False)
    except (EOFError, OSError):
        raise
    except Exception as exc:  # building the sources failed (an enactor in PCT's profile)
        conn.send(Failed(portable(exc)))
        while conn.recv() is not None:
            pass


def _run_chunk(executor: Executor, sources: Sources, start: int, stop: int, flag: Any) -> _Ran:
    """Runs start..stop-1 in order, up to the first that breaks an invariant or raises; an
    index above `flag` (the least violating index the parent knows) is not wanted (rule 2)."""
    for i in range(start, stop):
        if i > flag.value:
            return _Ran(start, i)
        source: ChoiceSource = sources(i)
        try:
            broke, get = executor.run(source)
        except Exception as exc:
            return _Ran(start, i + 1, i, error=portable(exc))
        if broke:
            return _Ran(start, i + 1, i, result=get())
    return _Ran(start, stop)


class _Plan:
    """The parent's bookkeeping (rule 2), no I/O: which runs are still to be handed out, and
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


def sample_in_parallel(strategy: str, config: Config, *, workers: int, max_runs: int,
                       seed: int = 0, depth: int = 3, transport: TransportName = "memory",
                       progress: Progress | None = None, shrink: bool = True) -> Exploration:
    """`strategy`'s exploration over `workers` processes; the same `Exploration` as one
    process gives (module docstring), but for the seconds."""
    return shard_samples(strategy, config, workers=workers, max_runs=max_runs, seed=seed,
                         depth=depth, transport=transport, progress=progress,
                         shrink=shrink)[0]


def shard_samples(strategy: str, config: Config, *, workers: int, max_runs: int, seed: int,
                  depth: int, transport: TransportName, progress: Progress | None,
                  shrink: bool, chunk_runs: int = CHUNK_RUNS) -> tuple[Exploration, Ledger]:
    """`sample_in_parallel`, and who ran what (`Ledger`). Runs are handed out at most
    `chunk_runs` at a time (fewer when there are few runs, so every worker gets some)."""
    if strategy not in SAMPLERS:
        raise ValueError(f"strategy {strategy!r} is not a sampler: {', '.join(SAMPLERS)}")
    if workers < 1:
        raise ValueError(f"{workers} workers: need at least 1 worker process")
    n = min(workers, max_runs)
    plan = _Plan(max_runs, max(1, min(chunk_runs, max_runs // (4 * n))), n)
    ticker = Ticker(progress, strategy)
    jobs = [Job(strategy, config, seed, depth, max_runs, transport, w, n) for w in range(n)]
    busy: dict[int, tuple[int, int]] = {}
    first_seconds = 0.0
    with WorkerPool(jobs, strategy, progress, start_method(transport)) as pool:
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
                if isinstance(message, Failed):
                    raise message.error
                chunk = busy.pop(w, None)
                if isinstance(message, _Ran):
                    if plan.ran(w, message):
                        pool.flag.value = plan.best
                        first_seconds = ticker.elapsed()
                elif message is None and chunk is not None:
                    plan.returned.append(chunk)
                    pool.died(w, f"its runs {chunk[0]:,}-{chunk[1] - 1:,} go to the others")
                elif message is None:
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
        return Exploration(strategy, config, max_runs, ticker.elapsed(),
                           transport=transport, workers=n), ledger
    if hit.error is not None:
        raise hit.error
    found = hit.result
    assert found is not None and hit.hit is not None
    first = hit.hit
    if progress and found.violation:
        progress(f"{strategy}: run {first} broke invariant {found.violation.invariant} in "
                 f"{found.length} steps; minimising")
    m = minimise(found) if shrink else None
    return Exploration(strategy, config, first, ticker.elapsed(), m.result if m else found,
                       first, first_seconds, found.length, None,
                       m.local_steps if m else None, m.runs if m else 0,
                       transport=transport, workers=n), ledger
