"""Sampling: one schedule at a time, until a run breaks an invariant.

- `loop.py`: the executor (in process, or over real UDP), the loop every sampler shares
  (`sample`) and their one ending (`conclude`: minimise, report);
- one module per sampler, each with `sources(config, seed, depth)` (run i's choice source, a
  function of (seed, i) alone) and `explore_<name>` (its exploration in this process):
  `random_walk.py`, `pct.py`, `pos.py`, `surw.py`; `footprint.py`, what an action reads and
  writes, for POS and SURW;
- `hypothesis_search.py`: the default strategy, Hypothesis seeding random walks, with the
  example database.

`SAMPLERS` is the registry of the samplers built on `sample`: what a worker process looks up
to build the same sources as one process (`reproducer.search.distributed.samples`). A new
sampler is a module here with a `ChoiceSource`, its `sources` and its `explore_<name>`, plus
its entry below and its name in `reproducer.search.explore.STRATEGIES`.

Imports: the exhaustive search (through `minimise`) and `outcome`; nothing distributed.
"""

from reproducer.search.sampling import pct, pos, random_walk, surw
from reproducer.search.sampling.loop import SourcesOf

__all__ = ["SAMPLERS"]

SAMPLERS: dict[str, SourcesOf] = {
    "random": random_walk.sources,
    "pct": pct.sources,
    "pos": pos.sources,
    "surw": surw.sources,
}
