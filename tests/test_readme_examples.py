"""The property-test examples of the README, run as they are printed there."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given

from reproducer import Config, ReplayChoices, Simulation, run_memory
from reproducer.strategies import HypothesisSchedule, schedules


@given(schedules())
def test_the_fix_never_lets_the_alias_go_backwards(schedule: HypothesisSchedule) -> None:
    result = run_memory(Config(variant="cas-guarded", invariants=(2,)), schedule)
    assert result.violation is None, schedule.replay_command(result)


@pytest.fixture
def race_config() -> Config:
    return Config(variant="cas-flip", enactors=2)


def test_my_world_survives_a_hand_written_schedule(
        race_world: Callable[[], Simulation]) -> None:
    sim = race_world()  # a fresh Simulation of race_config
    sim.advance(ReplayChoices([0, 1, 0, 2]))
    assert not sim.violations
