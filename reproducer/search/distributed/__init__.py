"""The searches on more processes or machines, with the results of one process.

- `pool.py`: worker processes of one machine, each running a module-level target function
  with its own payload; the pool knows no strategy;
- `samples.py`: a sampler's runs sharded over the pool (`--workers N`), the first violating
  run the same as one process's;
- `hypothesis_workers.py`: one Hypothesis per worker process;
- breadth-first search with its visited set split into shares: `partition.py` (one share, no
  I/O), `levels.py` (the level loop; shares in local worker processes), `shipping.py` (states
  between shares, by reference), `cluster.py` (shares as actors on a Dask cluster,
  `--cluster`; Dask is loaded only then).

Imports: `sampling`, `exhaustive`, `outcome`; only `reproducer.search.explore` imports this
room.
"""
