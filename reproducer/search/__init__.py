"""Exploring the interleavings: every strategy drives the scheduling core through one source of
choices and reports an `Exploration`.

This module is the package's face: the rest of `reproducer` (the commands, the applications,
the benchmarks) imports search from here only, never from its modules.

- `explore.py`: the one entry point (`explore(strategy, config, ...)`) and the strategies' names;
- one module per strategy: `random_walk.py`, `pct.py`, `pos.py`, `surw.py`,
  `hypothesis_search.py`, `bfs.py` (with `identity.py`, `por.py` and `glue.py`, its
  reductions; `footprint.py`, what each action reads and writes, for POS and SURW);
- `sampling.py`: running sampled schedules in process or over real UDP, the shared search loop;
  `parallel.py`: the same loop sharded over worker processes (`--workers N`);
- breadth-first search split over processes: `partition.py` (one share, no I/O),
  `partitioned.py` (the level loop; local worker processes), `cluster.py` (shares as actors
  on a Dask cluster, `--cluster`), `shipping.py` (states between shares), `digest.py`
  (identities that are the same in every process);
- `database.py`: Hypothesis's example database, in a directory or shared in Redis;
- `minimise.py`: the shortest story; `outcome.py`: what an exploration reports;
  `measure.py`: runs to the first violation over many seeds, with confidence intervals.

A new sampling strategy is a module here with a `ChoiceSource` and an `explore_<name>` built on
`sampling.sample`, plus its name in `explore.STRATEGIES`.
"""

from reproducer.search.database import (
    REDIS_URL_FORM,
    DatabaseUnavailable,
    example_database,
    is_redis_url,
    shared_database,
    shown_url,
)
from reproducer.search.distributed.cluster import ClusterError, explore_bfs_on_cluster
from reproducer.search.distributed.pool import WorkersLost
from reproducer.search.exhaustive.bfs import DEFAULT_MAX_STATES, explore_bfs
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS, REDUCTIONS
from reproducer.search.explore import STRATEGIES, Strategy, explore
from reproducer.search.minimise import Minimised, memory_result, minimise
from reproducer.search.outcome import Exploration, Progress, Ticker
from reproducer.search.sampling.hypothesis_search import explore_hypothesis
from reproducer.search.sampling.loop import TRANSPORTS, TransportName
from reproducer.search.sampling.pct import explore_pct
from reproducer.search.sampling.pos import explore_pos
from reproducer.search.sampling.random_walk import explore_random
from reproducer.search.sampling.surw import explore_surw

__all__ = [
    "DEFAULT_MAX_STATES",
    "DEFAULT_REDUCTIONS",
    "REDIS_URL_FORM",
    "REDUCTIONS",
    "STRATEGIES",
    "TRANSPORTS",
    "ClusterError",
    "DatabaseUnavailable",
    "Exploration",
    "Minimised",
    "Progress",
    "Strategy",
    "Ticker",
    "TransportName",
    "WorkersLost",
    "example_database",
    "explore",
    "explore_bfs",
    "explore_bfs_on_cluster",
    "explore_hypothesis",
    "explore_pct",
    "explore_pos",
    "explore_random",
    "explore_surw",
    "is_redis_url",
    "memory_result",
    "minimise",
    "shared_database",
    "shown_url",
]
