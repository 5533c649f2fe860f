"""Exploring the interleavings: every strategy drives the scheduling core through one source of
choices and reports an `Exploration`.

- `explore.py`: the one entry point (`explore(strategy, config, ...)`) and the strategies' names;
- one module per strategy: `random_walk.py`, `pct.py`, `hypothesis_search.py`, `bfs.py`;
- `sampling.py`: running sampled schedules in process or over real UDP, the shared search loop;
- `minimise.py`: the shortest story; `outcome.py`: what an exploration reports.

A new sampling strategy is a module here with a `ChoiceSource` and an `explore_<name>` built on
`sampling.sample`, plus its name in `explore.STRATEGIES`.
"""
