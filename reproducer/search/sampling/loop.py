"""Running sampled schedules: the executor (in process, or over real UDP to one fake_dns), the
loop every sampling strategy shares (run until an invariant breaks, then minimise), and the one
ending of every sampled exploration (`conclude`).

Run i (1-based) uses the choice source `sources(i)`, and nothing else: a strategy's sources are
a function of the run index, built once per exploration by the strategy's
`sources(config, seed, depth)` (the registry `reproducer.search.sampling.SAMPLERS`). So a worker
process of a parallel exploration (`reproducer.search.distributed.samples`) builds the same
sources with the same code and runs exactly the run i that one process would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from reproducer.running.choices import ChoiceSource, ReplayChoices
from reproducer.running.engine import Walk, engine_for
from reproducer.running.simulation import Simulation
from reproducer.running.trace import RunResult
from reproducer.running.transport import RealSession, fast_event_loop_factory
from reproducer.search.minimise import minimise
from reproducer.search.outcome import Exploration, Progress, Ticker, collector_paused
from reproducer.world.config import Config

__all__ = ["TRANSPORTS", "Executor", "Sources", "SourcesOf", "TransportName", "conclude",
           "sample"]

TransportName = Literal["memory", "real"]
TRANSPORTS: tuple[TransportName, ...] = ("memory", "real")

Sources = Callable[[int], ChoiceSource]  # run i's choice source
SourcesOf = Callable[[Config, int, int], Sources]  # a sampler's sources(config, seed, depth)


class Executor:
    """Runs schedules over one transport. In memory a run builds no trace unless it is kept."""

    def __init__(self, config: Config, transport: TransportName) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport {transport!r}: choose {' or '.join(TRANSPORTS)}")
        self.config = config
        self.transport = transport
        self._runner: asyncio.Runner | None = None
        self._session: RealSession | None = None

    def __enter__(self) -> Executor:
        if self.transport == "real":
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
        """(broke an invariant?, how to get the full RunResult). In memory a run is a walk
        over the integer engine this process shares for the configuration
        (`reproducer.running.engine`), which keeps only the choices; the full result is the
        `Simulation`'s replay of them (the same run, step for step)."""
        if self._runner is None:
            config = self.config
            walk = Walk(engine_for(config), source, max_steps=config.max_steps)
            return walk.broke, lambda: _replayed(config, walk.choices, walk.broke)
        assert self._session is not None
        # The runner's loop directly: Runner.run would install and remove a SIGINT handler
        # around every execution, which costs more than a short run itself.
        result = self._runner.get_loop().run_until_complete(self._session.run(source))
        return result.violation is not None, lambda: result


def _replayed(config: Config, choices: list[int], broke: bool) -> RunResult:
    sim = Simulation(config)
    sim.advance(ReplayChoices(choices))
    if bool(sim.violations) != broke:
        raise AssertionError("the engine's run and the simulation's differ for the same "
                             f"choices {choices}: a bug in reproducer.running.engine")
    return sim.result()


def sample(strategy: str, config: Config, sources: Sources, max_runs: int,
           transport: TransportName, progress: Progress | None, shrink: bool) -> Exploration:
    """Runs 1..max_runs until one breaks an invariant, then minimises that one (`shrink`)."""
    ticker = Ticker(progress, strategy)
    with Executor(config, transport) as executor, collector_paused():
        for n in range(1, max_runs + 1):
            broke, get = executor.run(sources(n))
            if broke:
                first_seconds = ticker.elapsed()
                return conclude(strategy, get(), ticker=ticker, shrink=shrink, executions=n,
                                first_at=n, first_seconds=first_seconds, transport=transport,
                                progress=progress)
            if ticker.due():
                ticker.say(f"{n:,} executions, {n / ticker.elapsed():,.0f}/s, no violation yet")
    return Exploration(strategy=strategy, config=config, executions=max_runs,
                       seconds=ticker.elapsed(), transport=transport)


def conclude(strategy: str, found: RunResult, *, ticker: Ticker, shrink: bool, executions: int,
             first_at: int | None, first_seconds: float | None, transport: TransportName,
             found_steps: int | None = None, shrunk_steps: int | None = None, workers: int = 1,
             progress: Progress | None = None,
             keep: Callable[[RunResult], None] | None = None) -> Exploration:
    """The ending of every sampled exploration that found a violating run: say so (to
    `progress`, if given), minimise it (`shrink`), hand the story to `keep` (Hypothesis saves
    it), and report. `found_steps` is the first violating run's length (default: `found`'s)."""
    if progress and found.violation:
        progress(f"{strategy}: run {first_at} broke invariant {found.violation.invariant} in "
                 f"{found.length} steps; minimising")
    m = minimise(found) if shrink else None
    final = m.result if m else found
    if keep is not None:
        keep(final)
    return Exploration(strategy=strategy, config=found.config, executions=executions,
                       seconds=ticker.elapsed(), result=final, first_at=first_at,
                       first_seconds=first_seconds,
                       found_steps=found.length if found_steps is None else found_steps,
                       shrunk_steps=shrunk_steps, local_steps=m.local_steps if m else None,
                       minimise_runs=m.runs if m else 0, transport=transport, workers=workers,
                       minimise_cut=bool(m and m.out_of_time))
