"""Exploring the interleavings: every strategy drives the scheduling core through one source of
choices and reports an `Exploration`.

This module is the package's face: the rest of `reproducer` (the commands, the applications,
the benchmarks) imports search from here only, never from its modules.

Three rooms, each with one job, and four modules at the top:

- `sampling/`: one schedule at a time, until a run breaks an invariant: the shared loop and
  executor (`loop.py`), one module per sampler (`random_walk.py`, `pct.py`, `pos.py`,
  `surw.py`, with `footprint.py`), and Hypothesis seeding random walks
  (`hypothesis_search.py`); `SAMPLERS`, the registry a worker process builds its sources from;
- `exhaustive/`: every state once: breadth-first search (`bfs.py`) and the bounded proofs
  (`bounded.py`: every schedule with at most K preemptions), their successor rule
  (`expansion.py`) and reductions (`identity.py` with `digest.py`, `persistent.py`, `glue.py`),
  over the integer engine of `reproducer.running.engine`;
- `distributed/`: the same searches on more processes or machines: a worker pool that runs any
  module-level target (`pool.py`), the samplers' runs sharded (`samples.py`), one Hypothesis
  per worker (`hypothesis_workers.py`), breadth-first search split into shares
  (`partition.py`, one share; `levels.py`, the level loop and local shares; `shipping.py`,
  states between shares; `cluster.py`, shares as actors on a Dask cluster);
- `explore.py`: the dispatch (strategy × workers × cluster), the only module that sees every
  room; `outcome.py`: what an exploration reports; `minimise.py`: the shortest story;
  `database.py`: Hypothesis's example database, in a directory or shared in Redis.

Imports go one way: `outcome` and `database` ← `exhaustive` ← `minimise` ← `sampling` ←
`distributed` ← `explore` (`tests/test_package_boundaries.py` checks that no import, not even
one inside a function, closes a cycle).
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
from reproducer.search.exhaustive.bfs import DEFAULT_MAX_STATES
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS, REDUCTIONS
from reproducer.search.explore import (
    STRATEGIES,
    Strategy,
    check_preemptions,
    check_transport,
    check_workers,
    explore,
    explore_bfs,
    explore_bounded,
    explore_hypothesis,
)
from reproducer.search.minimise import Minimised, memory_result, minimise
from reproducer.search.outcome import Exploration, Progress, Ticker
from reproducer.search.sampling import SAMPLERS
from reproducer.search.sampling.loop import TRANSPORTS, TransportName
from reproducer.search.sampling.pct import check_depth, explore_pct
from reproducer.search.sampling.pos import explore_pos
from reproducer.search.sampling.random_walk import explore_random
from reproducer.search.sampling.surw import explore_surw

__all__ = [
    "DEFAULT_MAX_STATES",
    "DEFAULT_REDUCTIONS",
    "REDIS_URL_FORM",
    "REDUCTIONS",
    "SAMPLERS",
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
    "check_depth",
    "check_preemptions",
    "check_transport",
    "check_workers",
    "example_database",
    "explore",
    "explore_bfs",
    "explore_bfs_on_cluster",
    "explore_bounded",
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
