"""Exhaustive search: every reachable state once, breadth-first, so the first violating state
found is at the least depth and its path is the shortest violating schedule.

- `bfs.py`: the search in this process (`search_bfs`), the judge of minimality;
- `bounded.py`: every schedule with at most K preemptions, K = 0, 1, ... (`search_bounded`);
- `expansion.py`: their successor rule (`Expansion`), the one a share of a split search uses
  too, over states of the integer engine (`reproducer.running.engine`);
- `identity.py`: a state's identity under the reductions (`REDUCTIONS`), with `digest.py`
  (digests that are the same in every process); `persistent.py`: the Planner deferred (the
  partial-order reduction `por`); `glue.py`: right movers glued to the next step.

The facts about the enactor the reductions rely on are the enactor's own statements
(`reproducer.world.enactor`: `live_fields`, `deadline_ms`, `just_took_right_mover`); the
canonical values they allow are kept in the states themselves (`reproducer.running.canonical`).

Imports: `outcome` only, of search; the rooms above it import this one.
"""
