"""The second act's claims, judged on the model's runs (virtual time, milliseconds): they hold
for the run the story plays, and each fails, naming itself, when the world does not behave as
told. The real run is judged by the same functions in `test_story.py`."""

from __future__ import annotations

import pytest

from reproducer.metastable import POLICIES, FleetParams, Policy, simulate
from reproducer.story import StoryFailed
from reproducer.story.second_act import (
    PARAMS,
    judge_collapse,
    judge_fix,
    judge_model,
    scenarios,
)


def ignore(line: str) -> None:
    """Where the lines of an act that is expected to fail go."""


def test_the_model_of_the_acts_runs_satisfies_every_claim_the_story_makes() -> None:
    late, fixed = scenarios()
    lines: list[str] = []
    operators = simulate(late)

    act_s, recovery_s = judge_collapse(operators, PARAMS, lines.append)
    judge_model(late, recovery_s, lines.append)
    fix_recovery_s = judge_fix(simulate(fixed), PARAMS, recovery_s, 250, lines.append)

    assert act_s == pytest.approx(late.repair_s + 4.0)
    assert fix_recovery_s < recovery_s
    assert lines[0].startswith("stuck: from 5.00 s to 8.00 s DNS was healthy, yet goodput was "
                               "0.0 leases/s")


def test_a_fleet_too_small_to_collapse_fails_the_act_because_nobody_had_to_step_in() -> None:
    small = FleetParams(hosts=60)
    late, _ = scenarios(small)

    with pytest.raises(StoryFailed, match="the operators should act once"):
        judge_collapse(simulate(late), small, ignore)


def test_a_collapse_that_nobody_ends_fails_the_act_at_the_recovery_it_promised() -> None:
    late, _ = scenarios()
    nobody = late.evolve(policy=Policy("operators", operators=None))

    with pytest.raises(StoryFailed, match="the operators should act once"):
        judge_collapse(simulate(nobody), PARAMS, ignore)


def test_a_fix_that_does_not_recover_fails_the_act() -> None:
    _, fixed = scenarios()
    stuck = simulate(fixed.evolve(policy=POLICIES["backoff"]))

    with pytest.raises(StoryFailed, match="should recover by itself"):
        judge_fix(stuck, PARAMS, 7.5, 250, ignore)


def test_a_model_that_disagrees_with_the_real_run_fails_the_act() -> None:
    late, _ = scenarios()

    with pytest.raises(StoryFailed, match="should agree with the model"):
        judge_model(late, 12.0, ignore)
