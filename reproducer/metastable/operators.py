"""The operators at their console: when they step in, and what they tell the manager.

AWS's post-event summary (aws.amazon.com/message/101925): "Since this situation had no
established operational recovery procedure, engineers took care in attempting to resolve the
issue with DWFM without causing further issues." At 4:14 AM they throttled incoming work and
began restarting DWFM hosts selectively; "Restarting the DWFM hosts cleared out the DWFM
queues", and by 5:28 AM "DWFM had established leases with all droplets".

The console watches the same samples a chart shows. From `Operators.after_s` seconds after the
DNS repair, at the first sample that shows the fleet in trouble (leases lapsed, or more work
queued than the pool can serve within a timeout), it throttles the manager's intake and
restarts it; if `Operators.lift_after_s` is set, it lifts the throttle once the samples have
shown every lease held for that long. Both runners (virtual time and the real processes)
consult this one console, so the operators act alike in the model and in the real run.
"""

from __future__ import annotations

from dataclasses import dataclass

from reproducer.metastable.manager import LeaseManager
from reproducer.metastable.params import FleetParams
from reproducer.metastable.policies import Policy
from reproducer.metastable.series import Event, Sample

__all__ = ["Command", "Console", "Restart", "Throttle", "apply_command"]


@dataclass(frozen=True, slots=True)
class Restart:
    """Restart the manager: its queue and pending retries are dropped."""


@dataclass(frozen=True, slots=True)
class Throttle:
    """Admit at most `per_s` new attempts a second; None lifts the throttle."""

    per_s: float | None


Command = Restart | Throttle


class Console:
    """The operators of one run, for `policy` (no operators: never a command)."""

    def __init__(self, params: FleetParams, policy: Policy, repair_s: float) -> None:
        self._params = params
        self._operators = policy.operators
        self._act_at_s = None if self._operators is None else repair_s + self._operators.after_s
        self._throttled = False
        self._all_held_at_s: float | None = None
        self._done = self._operators is None
        self.events: list[Event] = []

    def _in_trouble(self, sample: Sample) -> bool:
        """What makes the operators step in: leases lapsed, or more work queued than the pool
        can serve within a timeout (work that can only die there)."""
        return (sample.leases_held < self._params.hosts or
                sample.queue > self._params.served_within_timeout)

    def on_sample(self, sample: Sample) -> list[Command]:
        """The commands to give the manager after `sample` (usually none)."""
        operators = self._operators
        if self._done or operators is None or self._act_at_s is None:
            return []
        if not self._throttled:
            if sample.t_s + 1e-9 < self._act_at_s or not self._in_trouble(sample):
                return []
            self._throttled = True
            self._done = operators.lift_after_s is None
            self.events.append(Event(sample.t_s, "operators: throttle + restart"))
            return [Throttle(operators.throttle_per_s(self._params)), Restart()]
        assert operators.lift_after_s is not None
        if sample.leases_held < self._params.hosts:
            self._all_held_at_s = None
            return []
        if self._all_held_at_s is None:
            self._all_held_at_s = sample.t_s
        if sample.t_s + 1e-9 < self._all_held_at_s + operators.lift_after_s:
            return []
        self._done = True
        self.events.append(Event(sample.t_s, "throttle lifted"))
        return [Throttle(None)]


def apply_command(manager: LeaseManager, command: Command, now: float) -> None:
    """Give the manager one of the operators' commands (both runners call this)."""
    if isinstance(command, Restart):
        manager.restart(now)
    else:
        manager.throttle(command.per_s, now)
