"""Running sampled schedules: the executor (in process, or over real UDP to one fake_dns) and
the loop every sampling strategy shares (run until an invariant breaks, then minimise).

Run i (1-based) uses the choice source `sources(i)`, and nothing else: a strategy's sources are
a function of the run index, so that a worker process of a parallel exploration (`parallel.py`)
runs exactly the run i that one process would. In such a worker, `sample` does not loop: it
serves the run indices the parent hands out (`serving`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Literal

from reproducer.running.choices import ChoiceSource
from reproducer.running.simulation import Simulation
from reproducer.running.trace import RunResult
from reproducer.search.minimise import minimise
from reproducer.search.outcome import Exploration, Progress, Ticker
from reproducer.world.config import Config

if TYPE_CHECKING:
    from reproducer.running.transport import RealSession

__all__ = ["TRANSPORTS", "Executor", "Serve", "Sources", "TransportName", "sample", "serving"]

TransportName = Literal["memory", "real"]
TRANSPORTS: tuple[TransportName, ...] = ("memory", "real")


class Executor:
    """Runs schedules over one transport. In memory a run builds no trace unless it is kept."""

    def __init__(self, config: Config, transport: TransportName) -> None:
        if transport not in ("memory", "real"):
            raise ValueError(f"transport {transport!r}: choose memory or real")
        self.config = config
        self.transport = transport
        self._runner: asyncio.Runner | None = None
        self._session: RealSession | None = None

    def __enter__(self) -> Executor:
        if self.transport == "real":
            from reproducer.running.transport import RealSession, fast_event_loop_factory

            self._runner = asyncio.Runner(loop_factory=fast_event_loop_factory())
            self._session = self._runner.run(RealSession(self.config).__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            if self._session is not None:
                self._runner.run(self._session.__aexit__(None, None, None))
                self._session = None
            self._runner.close()
            self._runner = None

    def run(self, source: ChoiceSource) -> tuple[bool, Callable[[], RunResult]]:
        """(broke an invariant?, how to get the full RunResult)."""
        if self._runner is None:
            sim = Simulation(self.config)
            sim.advance(source)
            return bool(sim.violations), sim.result
        assert self._session is not None
        # The runner's loop directly: Runner.run would install and remove a SIGINT handler
        # around every execution, which costs more than a short run itself.
        result = self._runner.get_loop().run_until_complete(self._session.run(source))
        return result.violation is not None, lambda: result


Sources = Callable[[int], ChoiceSource]
# What a worker process does with a strategy's sources instead of the loop below.
Serve = Callable[[str, Config, Sources, TransportName], None]
_SERVE: ContextVar[Serve | None] = ContextVar("reproducer_sampling_serve", default=None)


@contextmanager
def serving(serve: Serve) -> Iterator[None]:
    """Within the block, `sample` hands its sources to `serve` and returns an empty
    `Exploration`. A worker process of `parallel.py` calls a strategy's own `explore_<name>`
    under it, so the strategy builds its sources (its horizon, its profile) with its own code,
    the one that a single process runs, and the worker only decides which indices to run."""
    token = _SERVE.set(serve)
    try:
        yield
    finally:
        _SERVE.reset(token)


def sample(strategy: str, config: Config, sources: Sources, max_runs: int,
           transport: TransportName, progress: Progress | None, shrink: bool) -> Exploration:
    """Runs 1..max_runs until one breaks an invariant, then minimises that one (`shrink`)."""
    serve = _SERVE.get()
    if serve is not None:
        serve(strategy, config, sources, transport)
        return Exploration(strategy, config, 0, 0.0, transport=transport)
    ticker = Ticker(progress, strategy)
    with Executor(config, transport) as executor:
        for n in range(1, max_runs + 1):
            broke, get = executor.run(sources(n))
            if broke:
                first_seconds = ticker.elapsed()
                found = get()
                if progress and found.violation:
                    progress(f"{strategy}: run {n} broke invariant {found.violation.invariant} "
                             f"in {found.length} steps; minimising")
                m = minimise(found) if shrink else None
                return Exploration(strategy, config, n, ticker.elapsed(),
                                   m.result if m else found, n, first_seconds, found.length,
                                   None, m.local_steps if m else None, m.runs if m else 0,
                                   transport=transport)
            if ticker.due():
                ticker.say(f"{n:,} executions, {n / ticker.elapsed():,.0f}/s, no violation yet")
    return Exploration(strategy, config, max_runs, ticker.elapsed(), transport=transport)
