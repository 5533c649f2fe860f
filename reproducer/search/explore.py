"""The one entry point for every strategy: which room runs an exploration, on how many
processes or machines. The only module of `reproducer.search` that sees every room.

Every strategy drives the scheduling core through one source of choices (`ChoiceSource`); a
run is a function of its configuration and its choices, so a violating run is its list of
choices, and a replay file is that list. How each strategy picks them is its module's
docstring: `sampling/random_walk.py`, `sampling/pct.py`, `sampling/pos.py`, `sampling/surw.py`,
`sampling/hypothesis_search.py`, `exhaustive/bfs.py`; the shortest story, `minimise.py`; the
same searches over worker processes or a Dask cluster, `distributed/`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Literal

from reproducer.search.distributed.cluster import explore_bfs_on_cluster
from reproducer.search.distributed.hypothesis_workers import search_in_parallel
from reproducer.search.distributed.levels import LocalShares, search_partitioned
from reproducer.search.distributed.samples import shard_samples
from reproducer.search.exhaustive.bfs import DEFAULT_MAX_STATES, search_bfs
from reproducer.search.exhaustive.bounded import search_bounded
from reproducer.search.exhaustive.expansion import stable_identity
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS
from reproducer.search.minimise import minimise
from reproducer.search.outcome import Exploration, Progress, Ticker, collector_paused
from reproducer.search.sampling import SAMPLERS
from reproducer.search.sampling.hypothesis_search import search_hypothesis
from reproducer.search.sampling.loop import TransportName, sample
from reproducer.world.config import Config

__all__ = ["STRATEGIES", "Strategy", "check_preemptions", "check_transport", "check_workers",
           "explore", "explore_bfs", "explore_bounded", "explore_hypothesis"]

Strategy = Literal["hypothesis", "random", "pct", "pos", "surw", "bfs"]
STRATEGIES: tuple[Strategy, ...] = ("hypothesis", "random", "pct", "pos", "surw", "bfs")


def check_workers(workers: int, name: str = "workers") -> None:
    """The one check of a count of worker processes (`name`: what the caller calls it)."""
    if workers < 1:
        raise ValueError(f"{name} {workers}: need at least 1 worker process (1 runs in this "
                         "process, without starting any)")


def check_transport(strategy: str, transport: str) -> None:
    """The one check that a strategy can run over a transport."""
    if strategy == "bfs" and transport != "memory":
        raise ValueError("--strategy bfs copies states, so it runs over --transport memory "
                         "only; replay the counterexample it finds with --transport real")


def explore(strategy: Strategy, config: Config, *, max_runs: int = 10_000, seed: int = 0,
            depth: int = 3, transport: TransportName = "memory", progress: Progress | None = None,
            database: Path | str | None = "default", max_states: int = DEFAULT_MAX_STATES,
            shrink: bool = True, reductions: tuple[str, ...] = DEFAULT_REDUCTIONS,
            workers: int = 1, cluster: str | None = None,
            preemptions: int | None = None) -> Exploration:
    """Explore `config` with `strategy` (what the CLI calls). `workers` processes for every
    strategy (1 runs in this process and starts none); `cluster`, the address of a Dask
    scheduler (`tcp://HOST:PORT`), splits breadth-first search over that cluster's workers
    instead. `preemptions` (bfs only) bounds the schedules checked to those with at most that
    many preemptions (`exhaustive/bounded.py`)."""
    check_workers(workers)
    if cluster is not None and strategy != "bfs":
        raise ValueError(f"a cluster runs the strategy bfs only, not {strategy}; the samplers "
                         "and hypothesis use the cores of one machine (workers)")
    check_preemptions(strategy, preemptions, cluster)
    if strategy in SAMPLERS:
        if workers > 1:
            return shard_samples(strategy, config, workers=workers, max_runs=max_runs, seed=seed,
                                 depth=depth, transport=transport, progress=progress,
                                 shrink=shrink)[0]
        sources = SAMPLERS[strategy](config, seed, depth)
        return sample(strategy, config, sources, max_runs, transport, progress, shrink)
    if strategy == "hypothesis":
        return explore_hypothesis(config, max_runs=max_runs, seed=seed, transport=transport,
                                  progress=progress, database=database, shrink=shrink,
                                  workers=workers)
    if strategy == "bfs":
        check_transport(strategy, transport)
        if preemptions is not None:
            return explore_bounded(config, preemptions, max_states=max_states,
                                   progress=progress, reductions=reductions, workers=workers,
                                   shrink=shrink)
        return explore_bfs(config, max_states=max_states, progress=progress,
                           reductions=reductions, workers=workers, cluster=cluster)
    raise ValueError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")


def check_preemptions(strategy: str, preemptions: int | None, cluster: str | None = None,
                      name: str = "preemptions") -> None:
    """The one check of a preemption bound (`name`: what the caller calls it)."""
    if preemptions is None:
        return
    if strategy != "bfs":
        raise ValueError(f"{name} bounds a breadth-first search: use it with the strategy bfs, "
                         f"not {strategy}")
    if preemptions < 0:
        raise ValueError(f"{name} {preemptions}: need 0 or more (0: only the schedules that "
                         "never switch away from a worker that could go on)")
    if cluster is not None:
        raise ValueError(f"{name} runs in one process, not on a cluster")


def explore_bounded(config: Config, preemptions: int, *, max_states: int = DEFAULT_MAX_STATES,
                    progress: Progress | None = None,
                    reductions: Iterable[str] = DEFAULT_REDUCTIONS, workers: int = 1,
                    shrink: bool = True) -> Exploration:
    """Every schedule with at most `preemptions` preemptions (`exhaustive/bounded.py`), in
    this process; a counterexample (the fewest preemptions that break an invariant) is
    minimised to the shortest story (`shrink`)."""
    if workers > 1:
        Ticker(progress, "bfs").say("one process: a preemption-bounded search is not split")
    bounded = search_bounded(config, preemptions, max_states=max_states, progress=progress,
                             reductions=reductions)
    if bounded.result is None or not shrink:
        return bounded
    started = time.perf_counter()
    shortest = minimise(bounded.result)
    return dataclasses.replace(bounded, result=shortest.result,
                               seconds=bounded.seconds + time.perf_counter() - started,
                               local_steps=shortest.local_steps, minimise_runs=shortest.runs)


def explore_hypothesis(config: Config, *, max_runs: int = 10_000, seed: int = 0,
                       transport: TransportName = "memory", progress: Progress | None = None,
                       database: Path | str | None = "default", shrink: bool = True,
                       workers: int = 1) -> Exploration:
    """Hypothesis's search (`sampling/hypothesis_search.py`), seeded with `seed`; with
    `workers` > 1, each worker process runs its own Hypothesis on its share of `max_runs`
    (`distributed/hypothesis_workers.py`)."""
    check_workers(workers)
    elsewhere = None
    if workers > 1:
        elsewhere = partial(search_in_parallel, config, seed=seed, max_runs=max_runs,
                            workers=min(workers, max_runs), transport=transport,
                            progress=progress)
    return search_hypothesis(config, max_runs=max_runs, seed=seed, transport=transport,
                             progress=progress, database=database, shrink=shrink,
                             elsewhere=elsewhere, workers=workers)


def explore_bfs(config: Config, *, max_states: int = DEFAULT_MAX_STATES,
                progress: Progress | None = None, movers: frozenset[int] | None = None,
                max_depth: int | None = None, reductions: Iterable[str] = DEFAULT_REDUCTIONS,
                start: Sequence[int | str] = (), workers: int = 1,
                cluster: str | None = None) -> Exploration:
    """Breadth-first search (`exhaustive/bfs.py`, where `movers`, `max_depth` and `start`
    narrow it). `workers` > 1 splits its visited set over that many processes, and `cluster`
    over the workers of a Dask cluster (`distributed/`), with the same result; a narrowed
    search, or one whose states are of one process only (async enactors), runs here."""
    check_workers(workers)
    narrowed = bool(start) or movers is not None or max_depth is not None
    if cluster is not None:
        if workers > 1 or narrowed:
            raise ValueError("a search on a cluster puts one share on each of its workers, "
                             "from the beginning: no workers, start, movers or max_depth")
        return explore_bfs_on_cluster(config, cluster, max_states=max_states,
                                      reductions=reductions, progress=progress)
    if workers > 1:
        asked = tuple(sorted(set(reductions)))
        stable = stable_identity(config, asked)
        if stable and not narrowed:
            with collector_paused():
                return search_partitioned(
                    config, lambda n: LocalShares(config, n, asked, progress), workers,
                    max_states=max_states, reductions=asked, progress=progress)
        Ticker(progress, "bfs").say(
            "one process: the states of async enactors are not the same values in other "
            "processes" if not stable else
            "one process: a narrowed search (start, movers, depth) is not split")
    return search_bfs(config, max_states=max_states, progress=progress, movers=movers,
                      max_depth=max_depth, reductions=reductions, start=start)
