"""Exploring the interleavings: one entry point for every strategy.

Theory of operation
-------------------
Every strategy drives the same runtime through the one source of choices (`ChoiceSource`):
whenever two or more workers are ready, it picks an index into them, 0 being the unsurprising
move. A run is a pure function of its configuration and its choices, so any violating run is
its list of choices, and a replay file is that list.

- random: uniform choices from a seeded generator (the baseline).
- pct: probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS
  2010), as Coyote and Shuttle implement it: the n workers get distinct random priorities,
  d-1 priority change points are drawn in [1, k], and the ready worker with the highest
  priority moves. At a change point the worker that moved last is demoted below every other
  worker, including the ones demoted before it (so a worker stalled earlier can overtake one
  stalled later, which the paper's fixed values 1..d-1 never allow). Steps are counted in
  scheduling decisions (a step with one ready worker offers no choice to change); k is fixed
  per exploration, the most decisions among the all-zeros run and a few uniformly random
  runs (Shuttle grows it run by run, which would make run i depend on the runs before it).
- pos: partial order sampling (Yuan, Yang, Gu, CAV 2018): random priorities, re-drawn only
  for the mover and the pending actions that race with its step (`pos.py`).
- surw: selectively uniform random walk (Zhao et al., ASPLOS 2025): the mover drawn in
  proportion to its interesting events left, so interleavings are uniform (`surw.py`).
- hypothesis: every choice is a Hypothesis draw (`strategies.schedules()`), through
  `hypothesis.find` with a database key made from the configuration, so the example database
  (.hypothesis/ by default) replays a counterexample first on the next run.
- bfs: breadth-first over states, de-duplicated by a hash of the state's identity under the
  reductions asked for (`identity.py`, `por.py`; Spin's hash compaction: a 64-bit hash per
  state, so the chance that two of n states collide is about n²/2⁶⁵). The first violating
  state found is at the least depth: its path is the shortest violating schedule, the judge
  of minimality. With no violation and nothing cut by the bound
  on states, every reachable state within `max_steps` was checked.

The shortest story. Hypothesis shrinks its choice sequence (fewer, smaller draws), which is not
the same as fewer steps. After it, `minimise` works on the run as who moved at each step (a
list of worker names) and, deterministically, until nothing changes: removes chunks of steps
(delta debugging, halves down to single steps), removes a worker's steps from some point on,
and swaps two adjacent steps of different workers when that lets a step be removed. Each
candidate is replayed — a named worker that is not ready at its turn is skipped — and kept only
if it still breaks a watched invariant, in fewer steps. Every strategy's counterexample goes
through it.

All the cores (`workers`, `parallel.py`). The samplers shard their run indices over worker
processes: run i is the same run in any process, and the first violating run is the least index
that breaks an invariant, so the verdict, `first_at`, the first violating run and the minimised
story are those of one process, for any number of workers. Hypothesis gives each worker its own
Hypothesis, salted from (seed, worker): a minimised story as short as one process's (the
breadth-first minimum), not always the same steps, and not the same first run. Breadth-first
search splits its visited set over the workers (`partition.py`, `partitioned.py`): the same
verdict, state count, steps and shortest story as one process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from reproducer.search.distributed.pool import SAMPLERS, sample_in_parallel
from reproducer.search.exhaustive.bfs import DEFAULT_MAX_STATES, explore_bfs
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS
from reproducer.search.outcome import Exploration, Progress
from reproducer.search.sampling.hypothesis_search import explore_hypothesis
from reproducer.search.sampling.loop import TransportName
from reproducer.search.sampling.pct import explore_pct
from reproducer.search.sampling.pos import explore_pos
from reproducer.search.sampling.random_walk import explore_random
from reproducer.search.sampling.surw import explore_surw
from reproducer.world.config import Config

__all__ = ["STRATEGIES", "Strategy", "explore"]

Strategy = Literal["hypothesis", "random", "pct", "pos", "surw", "bfs"]
STRATEGIES: tuple[Strategy, ...] = ("hypothesis", "random", "pct", "pos", "surw", "bfs")


def explore(strategy: Strategy, config: Config, *, max_runs: int = 10_000, seed: int = 0,
            depth: int = 3, transport: TransportName = "memory", progress: Progress | None = None,
            database: Path | str | None = "default",
            max_states: int = DEFAULT_MAX_STATES, shrink: bool = True,
            reductions: tuple[str, ...] = DEFAULT_REDUCTIONS, workers: int = 1) -> Exploration:
    """One entry point for every strategy (what the CLI calls). `workers` processes for the
    samplers and hypothesis; 1 runs in this process and starts none."""
    if workers < 1:
        raise ValueError(f"{workers} workers: need at least 1 (1 runs in this process)")
    if workers > 1 and strategy in SAMPLERS:
        return sample_in_parallel(strategy, config, workers=workers, max_runs=max_runs,
                                  seed=seed, depth=depth, transport=transport,
                                  progress=progress, shrink=shrink)
    sampler = {"random": explore_random, "pos": explore_pos, "surw": explore_surw}.get(strategy)
    if sampler is not None:
        return sampler(config, max_runs=max_runs, seed=seed, transport=transport,
                       progress=progress, shrink=shrink)
    if strategy == "pct":
        return explore_pct(config, max_runs=max_runs, seed=seed, depth=depth,
                           transport=transport, progress=progress, shrink=shrink)
    if strategy == "hypothesis":
        return explore_hypothesis(config, max_runs=max_runs, seed=seed, transport=transport,
                                  progress=progress, database=database, shrink=shrink,
                                  workers=workers)
    if strategy == "bfs":
        if transport != "memory":
            raise ValueError("--strategy bfs copies states: it runs over --transport memory "
                             "only (replay its counterexample with --transport real)")
        return explore_bfs(config, max_states=max_states, progress=progress,
                           reductions=reductions, workers=workers)
    raise ValueError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
