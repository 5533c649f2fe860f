"""`reproducer wild`: the race let loose with real timing and no scheduler, caught and replayed.

- `run.py`: the planner and the enactors as free asyncio tasks against a fake_dns server over
  real UDP, in rounds, judged after every committed UPDATE (`run_wild`);
- `faults.py`: latency and stalls injected before an enactor's operations;
- `capture.py`: a round that broke an invariant, turned into a replay file and replayed under
  the scheduler; `values.py`: the settings, progress and result of a wild run.
"""

from reproducer.wild.faults import Faults, parse_stall
from reproducer.wild.run import run_wild
from reproducer.wild.values import WildError, WildProgress, WildResult, WildSettings

__all__ = ["Faults", "WildError", "WildProgress", "WildResult", "WildSettings", "parse_stall",
           "run_wild"]
