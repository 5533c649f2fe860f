"""Exploring the interleavings: every strategy drives the scheduling core through one source of
choices and reports an `Exploration`.

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
