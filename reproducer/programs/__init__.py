"""Programs as enactors: any program that speaks DNS, the Route 53 API or the plan store's HTTP,
unchanged, under the scheduler, at the level of the messages it sends.

    reproducer explore --program "python examples/programs/route53_enactor.py" --enactors 2

Each enactor is one OS process running the command, with its own listeners on 127.0.0.1
(`host.py`): DNS over UDP and TCP with its own TSIG key, the Route 53 API, and the plan store.
Its environment says where they are:

    REPRODUCER_ENACTOR          its name (enactor-1, ...)
    REPRODUCER_ZONE             the zone (us-east-1.amazonaws.com.)
    REPRODUCER_DNS              HOST:PORT of its DNS listener (UDP and TCP)
    REPRODUCER_TSIG_KEY         NAME:BASE64SECRET (nsupdate -y hmac-sha256:NAME:BASE64SECRET)
    REPRODUCER_PLANS            the plan store's URL
    AWS_ENDPOINT_URL_ROUTE_53   its Route 53 API (boto3 and the AWS CLI go there)
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION   dummy credentials

Every request is held at its listener as an action (`wire.py`); the scheduling core performs
it on the run's world and the invariants judge the result; the listener answers; the program's
next request is its next action (`worker.py`). The Planner stays in the project, on the same
scheduler.

- `wire.py`: requests to actions and results to answers, no I/O;
- `listeners.py`: a program's listeners (DNS over UDP and TCP, Route 53, the plan store), which
  hold each request as an action;
- `host.py`: the loop thread, the processes and their sessions, the pool;
- `spawner.py` and `forkserver.py`: every program started by a spawner process that ends what
  it started when we are gone, and `python SCRIPT` programs forked from an interpreter with
  their imports loaded (`forkserver.py` is run by the program's own interpreter and imports
  nothing of the reproducer);
- `worker.py`: `ProgramWorker`, a program's process as the scheduler's `Worker` value.
"""

from __future__ import annotations

from reproducer.programs.host import (
    DEFAULT_QUIET_TIMEOUT_S,
    DEFAULT_SHRINK_BUDGET_S,
    ProgramError,
    host,
    settings,
    shutdown,
)
from reproducer.programs.wire import plan_json
from reproducer.programs.worker import ProgramWorker, Request, expecting
from reproducer.world.config import Config, Worker

__all__ = ["DEFAULT_QUIET_TIMEOUT_S", "DEFAULT_SHRINK_BUDGET_S", "ProgramError", "ProgramWorker",
           "Request", "expecting", "host", "plan_json", "program_workers", "settings",
           "shutdown"]


def program_workers(config: Config) -> list[Worker]:
    """The Planner and one `ProgramWorker` per enactor of `config` (which names a program),
    each parked on its first request."""
    assert config.program is not None, "program_workers needs a config with a program"
    return [config.planner(),
            *ProgramWorker.start(config.program, config.worker_names[1:], config.layout)]
