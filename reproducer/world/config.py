"""The world a run starts from: `Config` (everything but the schedule), the workers it
creates, its DNS zone and its plan store.

A new setting of the world goes here, as a field of `Config` with its check in
`__post_init__` (and a flag in `reproducer.cli`).
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import fake_dns
from fake_dns import RR, Zone, ZoneStore
from reproducer.world.async_enactor import CoroutineWorker, is_async_enactor, program_of
from reproducer.world.enactor import StateMachineEnactor
from reproducer.world.health import ScriptedHealth
from reproducer.world.invariants import INVARIANTS
from reproducer.world.planner import Planner, make_plan
from reproducer.world.values import (
    ALIAS_TTL_S,
    DEFAULT_ZONE,
    ENDPOINT_LABELS,
    Action,
    Layout,
    LockValue,
    Plan,
    PlanStore,
    Result,
)
from reproducer.world.variants import VARIANTS, EnactorSettings, Variant

__all__ = ["Config", "ConfigError", "Worker", "load_enactor_class"]


class ConfigError(fake_dns.ConfigError):
    """A configuration that cannot describe a run; the message says which value and why (the
    same rule as fake_dns's configuration errors: a ValueError with one clear sentence)."""


class Worker(Protocol):
    """What the runtime needs of a planner or an enactor (a frozen state machine)."""

    @property
    def name(self) -> str: ...

    @property
    def note(self) -> str: ...

    def next_action(self, now_ms: int) -> Action | None: ...

    def receive(self, result: Result, now_ms: int) -> Worker: ...


@dataclass(frozen=True, slots=True)
class Config:
    """Everything that defines a world, apart from the schedule."""

    variant: str = "aws-2025"
    enactors: int = 3
    endpoints: int = 1
    keep_generations: int = 1
    plans: int = 3  # generations the Planner writes after the initial plan g1
    max_steps: int = 300
    enactor: str | None = None  # "package.module:Name" of a user enactor class
    invariants: tuple[int, ...] = (1, 2, 3, 4)  # the ones that count as violations
    program: str | None = None  # "COMMAND ARGS": each enactor is a process running it

    def __post_init__(self) -> None:
        if self.program is not None:
            _check_program(self.program)
            if self.enactor is not None:
                raise ConfigError(f"--program {self.program!r} and --enactor {self.enactor} "
                                  "both say what the enactors are: give one of them")
        if self.enactor is None and self.variant not in VARIANTS:
            raise ConfigError(f"unknown variant {self.variant!r}: choose one of "
                              f"{', '.join(VARIANTS)} (see `reproducer variants`)")
        if not 1 <= self.enactors <= 9:
            raise ConfigError(f"--enactors {self.enactors}: need between 1 and 9 enactors")
        if not 1 <= self.endpoints <= len(ENDPOINT_LABELS):
            raise ConfigError(f"--endpoints {self.endpoints}: need between 1 and "
                              f"{len(ENDPOINT_LABELS)} endpoints")
        if not 0 <= self.keep_generations <= 50:
            raise ConfigError(f"--keep-generations {self.keep_generations}: need 0..50")
        if not 1 <= self.plans <= 50:
            raise ConfigError(f"--plans {self.plans}: the planner must write 1..50 generations")
        if isinstance(self.invariants, list):
            object.__setattr__(self, "invariants", tuple(self.invariants))
        if not self.invariants or not set(self.invariants) <= set(INVARIANTS):
            raise ConfigError(f"--invariants {self.invariants}: choose among "
                              f"{sorted(INVARIANTS)}")
        if not 1 <= self.max_steps <= 100_000:
            raise ConfigError(f"max_steps {self.max_steps}: need 1..100000")

    @property
    def label(self) -> str:
        """What to call the enactors in messages: the variant, the user's enactor class, or
        the program."""
        if self.program is not None:
            return f"program {self.program!r}"
        return self.enactor if self.enactor else self.variant

    @property
    def layout(self) -> Layout:
        return Layout(DEFAULT_ZONE, ENDPOINT_LABELS[: self.endpoints])

    @property
    def variant_info(self) -> Variant:
        return VARIANTS[self.variant]

    @property
    def newest_generation(self) -> int:
        return 1 + self.plans

    @property
    def worker_names(self) -> tuple[str, ...]:
        return ("planner", *(f"enactor-{i}" for i in range(1, self.enactors + 1)))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.program is None:  # as before programs existed: the same files, the same keys
            del data["program"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Config:
        """A configuration from JSON values, each of its field's type (a count is an integer,
        not 3.0 nor true; invariants a list of integers): `ConfigError` naming the first that
        is not."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown configuration keys {sorted(unknown)}; "
                              f"known keys are {sorted(known)}")
        for key, value in data.items():
            if key == "invariants":
                ok = isinstance(value, list | tuple) and all(_is_int(v) for v in value)
                want = "a list of integers"
            elif key == "variant":
                ok, want = isinstance(value, str), "a string"
            elif key in ("enactor", "program"):
                ok, want = value is None or isinstance(value, str), "a string or null"
            else:
                ok, want = _is_int(value), "an integer"
            if not ok:
                shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
                raise ConfigError(f"{key!r} must be {want}, got {shown}")
        return cls(**data)

    def initial_workers(self) -> list[Worker]:
        """The Planner and the enactors a run starts with. A program's enactors are processes,
        started by the runners (`reproducer.running.core.initial_workers`), not here."""
        if self.program is not None:
            raise ConfigError(f"--program {self.program!r}: its enactors are processes, started "
                              "by the runners (reproducer.running.core.initial_workers)")
        workers: list[Worker] = [self.planner()]
        settings = EnactorSettings(keep_generations=self.keep_generations)
        found = load_enactor_class(self.enactor) if self.enactor else None
        for name in self.worker_names[1:]:
            if found is not None and is_async_enactor(found):
                workers.append(CoroutineWorker.start(name, program_of(found), self.layout,
                                                     self.variant_info_or_none, settings))
            elif found is not None:
                workers.append(found.create(name, self.layout, self.variant_info_or_none,
                                            settings))
            else:
                workers.append(StateMachineEnactor.create(name, self.layout, self.variant_info,
                                                          settings))
        return workers

    def planner(self) -> Planner:
        """The Planner: it writes g2 .. the newest generation, then stops."""
        return Planner("planner", 2, self.newest_generation)

    @property
    def variant_info_or_none(self) -> Variant | None:
        return VARIANTS.get(self.variant)

    def health(self) -> ScriptedHealth:
        return ScriptedHealth()

    def plan(self, generation: int) -> Plan:
        return make_plan(generation, self.health().at(generation), self.layout.endpoints)

    def initial_records(self) -> list[RR]:
        """Plan g1 applied: every endpoint's tree, its alias, and a free lock."""
        lay = self.layout
        plan = self.plan(1)
        records = [RR(lay.lock_name, "TXT", 0, LockValue.free().txt)]
        for ep in lay.endpoints:
            records.extend(lay.tree_records(plan, ep))
            records.append(RR(lay.endpoint_name(ep), "CNAME", ALIAS_TTL_S,
                              lay.tree_name(ep, 1)))
        return records

    def initial_zone(self) -> Zone:
        return Zone.empty(self.layout.zone, records=self.initial_records())

    def initial_dns(self) -> ZoneStore:
        return ZoneStore([self.initial_zone()])

    def initial_store(self) -> PlanStore:
        return PlanStore((self.plan(1),))


def _check_program(command: object) -> None:
    """A command line: words as a POSIX shell splits them, at least one."""
    if not isinstance(command, str):
        raise ConfigError(f"--program {command!r}: expected a command line (a string)")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"--program {command!r}: not a command line ({exc})") from None
    if not words:
        raise ConfigError("--program '': give the command to run, e.g. "
                          "--program 'python examples/programs/route53_enactor.py'")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def load_enactor_class(spec: str) -> Any:
    """Import "package.module:Name": a state-machine class with `create(name, layout,
    variant, settings)` returning a Worker, an `async def enactor(handle)`, or a class with an
    async `run(self, handle)`. Errors say what was wrong and how to fix it."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"--enactor {spec!r}: expected the form package.module:ClassName")
    here = os.getcwd()
    if here not in sys.path:  # as `python -m` would: a module beside the caller is found
        sys.path.append(here)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--enactor {spec!r}: cannot import {module_name!r} ({exc}); is it "
                          "on PYTHONPATH?") from None
    cls = getattr(module, attr, None)
    if cls is None or not (callable(getattr(cls, "create", None)) or is_async_enactor(cls)):
        raise ConfigError(f"--enactor {spec!r}: {module_name} has no {attr!r} that is an "
                          "`async def enactor(handle)`, a class with an async run(self, "
                          "handle), or a class with a create(name, layout, variant, settings) "
                          "classmethod")
    return cls


