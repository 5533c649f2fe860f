"""The values of a wild run (`reproducer.wild.run`): its settings, the progress line, the
result, and its error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reproducer.wild.capture import ReplayCheck, RoundCapture
from reproducer.wild.faults import Faults
from reproducer.world.config import Config
from reproducer.world.invariants import Violation
from reproducer.world.values import EnactorError

__all__ = ["WildError", "WildProgress", "WildResult", "WildSettings"]


class WildError(Exception):
    """A wild run could not go on: a worker raised, or the server stopped answering.
    `enactor_error` is the worker's own failure (its message names the worker and carries its
    traceback), with the step and round it happened in, for the CLI to print as `run` does."""

    def __init__(self, message: str, *, enactor_error: EnactorError | None = None,
                 step: int | None = None, round_number: int | None = None) -> None:
        super().__init__(message)
        self.enactor_error = enactor_error
        self.step = step
        self.round_number = round_number


@dataclass(frozen=True, slots=True)
class WildSettings:
    duration_s: float = 30.0
    until_violation: bool = False
    plan_interval_s: float = 0.05
    faults: Faults = field(default_factory=Faults)
    progress_interval_s: float = 1.0
    traffic_rate_per_s: float = 0.0  # 0: no load balancers, no traffic
    probe_interval_s: float = 0.02
    replay_path: Path | None = None
    round_end_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.duration_s <= 86_400:
            raise ValueError(f"--duration {self.duration_s}: need 0 < SECONDS <= 86400")
        if not 0.001 <= self.plan_interval_s <= 60:
            raise ValueError(f"--plan-interval {self.plan_interval_s}: need 0.001..60 s")
        if not 0.05 <= self.progress_interval_s <= 3600:
            raise ValueError(f"--interval {self.progress_interval_s}: need 0.05..3600 s")
        if not 0 <= self.traffic_rate_per_s <= 2000:
            raise ValueError(f"--traffic {self.traffic_rate_per_s}: need 0..2000 requests/s")


@dataclass(frozen=True, slots=True)
class WildProgress:
    """The numbers so far, for the line printed every interval."""

    t_s: float
    rounds: int
    plans_published: int
    applied_by: tuple[tuple[str, int], ...]
    violations: int
    clients_saw: int
    requests_sent: int
    requests_failed: int

    def line(self) -> str:
        applied = " ".join(f"{name}={n}" for name, n in self.applied_by)
        return (f"t={self.t_s:6.1f}s round {self.rounds:3d}  plans {self.plans_published:5d}  "
                f"applied {applied}  violations {self.violations}  clients saw "
                f"{self.clients_saw}  requests {self.requests_sent} failed "
                f"{self.requests_failed}")


@dataclass(frozen=True, slots=True)
class WildResult:
    config: Config
    settings: WildSettings
    seconds: float
    rounds: int
    rounds_completed: int  # rounds that ran to the end (quiescent)
    plans_published: int
    plans_applied: int  # generations that became active on the regional endpoint
    applied_by: tuple[tuple[str, int], ...]  # flips of the regional alias, per enactor
    violations: tuple[tuple[int, Violation], ...]  # (round, first violation of the round)
    clients_saw: int  # violations of 1-3 the prober saw over UDP
    requests_sent: int
    requests_failed: int
    replay: Path | None
    check: ReplayCheck | None
    capture: RoundCapture | None = field(default=None, compare=False, repr=False)
    interrupted: bool = False  # stopped by Ctrl-C: the numbers so far

    @property
    def found(self) -> bool:
        return bool(self.violations)

    @property
    def first(self) -> Violation | None:
        return self.violations[0][1] if self.violations else None

    @property
    def per_1000_plans(self) -> float:
        return 1000 * len(self.violations) / self.plans_published if self.plans_published else 0

    def to_json(self) -> dict[str, Any]:
        v = self.first
        check = self.check
        return {
            "variant": self.config.label, "found": self.found,
            "invariant": v.invariant if v else None,
            "violation": None if v is None else {"invariant": v.invariant, "step": v.step,
                                                 "endpoint": v.endpoint, "detail": v.detail,
                                                 "round": self.violations[0][0]},
            "violations": len(self.violations),
            "violations_per_1000_plans": round(self.per_1000_plans, 3),
            "plans_published": self.plans_published, "plans_applied": self.plans_applied,
            "applied_by": dict(self.applied_by), "rounds": self.rounds,
            "rounds_completed": self.rounds_completed, "clients_saw": self.clients_saw,
            "seconds": round(self.seconds, 3), "interrupted": self.interrupted,
            "requests_sent": self.requests_sent,
            "requests_failed": self.requests_failed,
            "faults": self.settings.faults.to_json(),
            "plan_interval_s": self.settings.plan_interval_s,
            "replay": str(self.replay) if self.replay else None,
            "replayed": None if check is None else {
                "exact": check.exact, "diverged_at": check.diverged_at, "why": check.reason,
                "invariant": check.result.violation.invariant if check.result.violation
                else None,
                "step": check.result.violation.step if check.result.violation else None},
        }
