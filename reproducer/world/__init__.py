"""The world: plain values and synchronous logic, no I/O.

- `values.py`: plans, the plan store, the lock, the DNS layout of a plan, the actions a worker
  takes and the answers it gets;
- `config.py`: `Config`, everything that defines a world apart from the schedule;
- `enactor.py`: the DNS Enactor as a state machine; `variants.py`: the policies that tell the
  outage's design, the tempting fixes and the real fixes apart (a new variant goes here);
- `async_enactor.py`: enactors written as ordinary `async def` code against a `Handle`;
- `planner.py`, `health.py`: the DNS Planner and where it learns backend health;
- `invariants.py`: what a run is judged by (a new invariant goes here);
- `repair.py`: the operators' manual repair, as one UPDATE.
"""
