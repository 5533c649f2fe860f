"""reproducer: the October 2025 DynamoDB DNS race, as racing enactors over real DNS.

The public API is this module's `__all__`, plus `reproducer.strategies` (Hypothesis) and the
pytest fixtures of `reproducer.pytest_plugin`. Everything else is the implementation and may
change: the layers `world` (the model, no I/O) < `running` (the scheduling core and its
runners) < `search` (strategies, proofs) < `telling` (narration, the HTML report) < the
applications `story` (`make reproduce`), `play` and `wild` < `cli` (one module per command).

- writing an enactor as ordinary asyncio code: an `async def enactor(h: Handle)` that awaits
  the `Handle` for DNS queries and UPDATEs, the plan store and sleeps (see `examples/`)
- writing an enactor as a state machine: the actions a worker takes (`Query`, `SendUpdate`,
  `ReadNewestPlan`, `ListPlans`, `DeletePlans`, `PublishPlan`, `Sleep`; `Action`), the
  answers it receives (`fake_dns.LookupResult`, `UpdateOutcome`, `PlanRead`, `PlanList`,
  `Done`; `Result`), the world's values (`Layout`, `Plan`, `Target`, `LockValue`, `PlanStore`,
  `EndpointState`), the `Worker` protocol, `EnactorSettings`, `Variant`, and the built-in
  `StateMachineEnactor`
- the world: `Config`, `ConfigError`, `VARIANTS`, `INVARIANTS`
- running it: `Simulation` (in process, synchronous; `move`, `advance`, `follow`),
  `run_memory`, `AsyncRun` and `run_async` with a `Transport` (`MemoryTransport`, or
  `run_real` over UDP to a fake_dns server it starts), choice sources (`ChoiceSource`,
  `ReplayChoices`, `RandomChoices`, `ReplayDiverged`), replay files (`load_replay`,
  `save_replay`, `Replay`, `ReplayFileError`)
- what a run leaves: `RunResult`, `Step`, `Violation`
- health: `BackendHealth`, `HealthSource`, `ScriptedHealth`, `HttpHealthSource`
- searching: `explore`, `STRATEGIES`, `Exploration`, and `shared_database(url)` (Hypothesis's
  example database in Redis, for a settings profile)
- reporting: `write_report`
"""

from fake_dns import LookupResult
from reproducer.running.choices import ChoiceSource, RandomChoices, ReplayChoices, ReplayDiverged
from reproducer.running.http_health import HttpHealthSource
from reproducer.running.replay import Replay, ReplayFileError, load_replay, save_replay
from reproducer.running.runtime import AsyncRun, MemoryTransport, Transport, run_async
from reproducer.running.simulation import Simulation, run_memory
from reproducer.running.trace import RunResult, Step
from reproducer.running.transport import run_real
from reproducer.search import STRATEGIES, Exploration, explore, shared_database
from reproducer.telling.report import write_report
from reproducer.world.async_enactor import Handle
from reproducer.world.config import Config, ConfigError, Worker
from reproducer.world.enactor import StateMachineEnactor
from reproducer.world.health import BackendHealth, HealthSource, ScriptedHealth
from reproducer.world.invariants import INVARIANTS, Violation
from reproducer.world.values import (
    Action,
    DeletePlans,
    Done,
    EndpointState,
    Layout,
    ListPlans,
    LockValue,
    Plan,
    PlanList,
    PlanRead,
    PlanStore,
    PublishPlan,
    Query,
    ReadNewestPlan,
    Result,
    SendUpdate,
    Sleep,
    Target,
    UpdateOutcome,
)
from reproducer.world.variants import VARIANTS, EnactorSettings, Variant

__all__ = [
    "INVARIANTS",
    "STRATEGIES",
    "VARIANTS",
    "Action",
    "AsyncRun",
    "BackendHealth",
    "ChoiceSource",
    "Config",
    "ConfigError",
    "DeletePlans",
    "Done",
    "EnactorSettings",
    "EndpointState",
    "Exploration",
    "Handle",
    "HealthSource",
    "HttpHealthSource",
    "Layout",
    "ListPlans",
    "LockValue",
    "LookupResult",
    "MemoryTransport",
    "Plan",
    "PlanList",
    "PlanRead",
    "PlanStore",
    "PublishPlan",
    "Query",
    "RandomChoices",
    "ReadNewestPlan",
    "Replay",
    "ReplayChoices",
    "ReplayDiverged",
    "ReplayFileError",
    "Result",
    "RunResult",
    "ScriptedHealth",
    "SendUpdate",
    "Simulation",
    "Sleep",
    "StateMachineEnactor",
    "Step",
    "Target",
    "Transport",
    "UpdateOutcome",
    "Variant",
    "Violation",
    "Worker",
    "explore",
    "load_replay",
    "run_async",
    "run_memory",
    "run_real",
    "save_replay",
    "shared_database",
    "write_report",
]
