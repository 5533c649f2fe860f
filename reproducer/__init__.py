"""reproducer: the October 2025 DynamoDB DNS race, as racing enactors over real DNS.

Public API:
- the world: `Config`, `ConfigError`, `VARIANTS`, `Variant`, `INVARIANTS`
- running it: `Simulation` (in-process, synchronous), `run_memory`, `run_async` with a
  `Transport` (`MemoryTransport`, or real DNS), choice sources `ReplayChoices`, `RandomChoices`
- what a run leaves: `RunResult`, `Step`, `Violation`
- health: `BackendHealth`, `HealthSource`, `ScriptedHealth`
- searching: `explore`, `Exploration`, `minimise` (and `reproducer.strategies.schedules`)
- reporting: `write_report`, `TrafficPoint`, `Marker`
"""

from reproducer._enactor import VARIANTS, EnactorSettings, StateMachineEnactor, Variant
from reproducer._explore import Exploration, explore, minimise
from reproducer._health import BackendHealth, HealthSource, ScriptedHealth
from reproducer._report import Marker, TrafficPoint, write_report
from reproducer._runtime import (
    ChoiceSource,
    FollowWorkers,
    MemoryTransport,
    RandomChoices,
    ReplayChoices,
    ReplayDiverged,
    RunResult,
    Transport,
    run_async,
)
from reproducer._simulation import Simulation, run_memory
from reproducer._world import INVARIANTS, Config, ConfigError, Step, Violation

__all__ = [
    "INVARIANTS",
    "VARIANTS",
    "BackendHealth",
    "ChoiceSource",
    "Config",
    "ConfigError",
    "EnactorSettings",
    "Exploration",
    "FollowWorkers",
    "HealthSource",
    "Marker",
    "MemoryTransport",
    "RandomChoices",
    "ReplayChoices",
    "ReplayDiverged",
    "RunResult",
    "ScriptedHealth",
    "Simulation",
    "StateMachineEnactor",
    "Step",
    "TrafficPoint",
    "Transport",
    "Variant",
    "Violation",
    "explore",
    "minimise",
    "run_async",
    "run_memory",
    "write_report",
]
