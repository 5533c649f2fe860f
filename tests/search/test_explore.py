"""Exploration: breadth-first search is the judge, Hypothesis and the minimiser reach its
minimum, the baselines find the race, correct fixes hold under Hypothesis and exhaustively."""

from __future__ import annotations

import pytest
from hypothesis import Phase, given, settings

from reproducer import VARIANTS, Config, ReplayChoices, run_memory
from reproducer.search import explore_bfs, explore_hypothesis, explore_pct, explore_random, minimise
from reproducer.strategies import HypothesisSchedule, schedules

# Small worlds whose breadth-first minimum is known and cheap to recompute in every test.
OUTAGE = Config(variant="aws-2025", enactors=2, plans=3, invariants=(1, 3))  # the empty record
BACKWARDS = Config(variant="aws-2025", enactors=2, plans=2)  # every invariant watched
TEMPTING = [name for name, v in VARIANTS.items() if not v.correct and name != "aws-2025"]
CORRECT = [name for name, v in VARIANTS.items() if v.correct]


def test_breadth_first_search_finds_the_eighteen_step_outage_story() -> None:
    found = explore_bfs(OUTAGE)
    assert found.found and found.result is not None and found.result.violation is not None
    assert found.steps == 18
    assert found.result.violation.invariant == 1
    assert found.states is not None and found.states > 1_000
    # the reported schedule replays to the same trace
    assert run_memory(OUTAGE, ReplayChoices(found.result.choices)).steps == found.result.steps


def test_no_schedule_shorter_than_the_breadth_first_minimum_breaks_an_invariant() -> None:
    found = explore_bfs(BACKWARDS)
    assert found.steps is not None
    shorter = Config(variant="aws-2025", enactors=2, plans=2, max_steps=found.steps - 1)
    proof = explore_bfs(shorter)
    assert not proof.found and proof.exhausted


@pytest.mark.parametrize("config", [OUTAGE, BACKWARDS, Config()], ids=["outage", "backwards",
                                                                       "default"])
def test_hypothesis_shrinks_the_race_to_exactly_the_breadth_first_minimum(config: Config) -> None:
    minimum = explore_bfs(config).steps
    for seed in range(2):
        found = explore_hypothesis(config, seed=seed, max_runs=2_000, database=None)
        assert found.found and found.result is not None
        assert found.shrunk_steps is not None and found.found_steps is not None
        assert found.shrunk_steps <= found.found_steps
        assert found.steps == minimum, f"seed {seed}: {found.steps} steps, bfs {minimum}"


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_the_baselines_find_the_race_and_the_minimiser_takes_them_to_the_minimum(
        strategy: str) -> None:
    minimum = explore_bfs(BACKWARDS).steps
    for seed in range(5):
        found = (explore_random(BACKWARDS, seed=seed, max_runs=500) if strategy == "random"
                 else explore_pct(BACKWARDS, seed=seed, max_runs=500))
        assert found.found and found.first_at is not None
        assert found.steps == minimum


def test_the_minimiser_is_deterministic_and_never_lengthens_a_story() -> None:
    first = explore_random(OUTAGE, seed=3, max_runs=2_000, shrink=False)
    assert first.result is not None
    a, b = minimise(first.result), minimise(first.result)
    assert a.result.steps == b.result.steps and a.runs == b.runs
    assert a.result.length <= a.local_steps <= first.result.length


def test_the_minimiser_refuses_a_run_that_broke_nothing() -> None:
    clean = run_memory(Config(variant="cas-flip"), ReplayChoices(()))
    with pytest.raises(ValueError, match="needs a run that broke an invariant"):
        minimise(clean)


def test_a_seeded_exploration_gives_the_same_counterexample_every_time() -> None:
    one = explore_random(BACKWARDS, seed=11, max_runs=500)
    two = explore_random(BACKWARDS, seed=11, max_runs=500)
    assert one.first_at == two.first_at
    assert one.result is not None and two.result is not None
    assert one.result.choices == two.result.choices


@pytest.mark.parametrize("variant", TEMPTING)
def test_each_tempting_fix_is_falsified_and_shrunk_to_the_breadth_first_minimum(
        variant: str) -> None:
    config = Config(variant=variant, enactors=2, plans=2, max_steps=25)
    found = explore_hypothesis(config, max_runs=300, database=None)
    assert found.found
    assert found.steps == explore_bfs(config).steps


@pytest.mark.parametrize("variant", CORRECT)
def test_each_correct_fix_is_proved_exhaustively_within_the_bounds(variant: str) -> None:
    # one new plan, every schedule of up to 60 steps (beyond that, only lock ping-pong:
    # each enactor stealing the other's expired lease under an unfair scheduler)
    whole = explore_bfs(Config(variant=variant, enactors=2, plans=1, max_steps=60))
    assert not whole.found and whole.exhausted and whole.states is not None
    assert whole.states > 100  # after the reductions (exhaustive/test_reductions.py)
    # with clean-up in play (g1 deleted once g3 is applied), every schedule of 22 steps
    deep = explore_bfs(Config(variant=variant, enactors=2, plans=2, max_steps=22))
    assert not deep.found and deep.exhausted


@pytest.mark.parametrize("variant", CORRECT)
def test_each_correct_fix_passes_its_hypothesis_run(variant: str) -> None:
    config = Config(variant=variant)

    assert settings.default is not None

    @settings(max_examples=settings.default.max_examples * 2)
    @given(schedules())
    def holds(schedule: HypothesisSchedule) -> None:
        result = run_memory(config, schedule)
        assert result.violation is None, schedule.replay_command(result)
        assert result.completed

    holds()


def test_the_aws_variant_fails_a_users_given_test_with_a_replayable_message() -> None:
    config = Config(variant="aws-2025", enactors=2, plans=2)

    @settings(max_examples=500, database=None, phases=[Phase.generate])
    @given(schedules())
    def holds(schedule: HypothesisSchedule) -> None:
        result = run_memory(config, schedule)
        assert result.violation is None, schedule.replay_command(result)

    with pytest.raises(AssertionError, match=r"reproducer run --variant aws-2025 "):
        holds()


def test_a_failing_property_test_reports_the_shortest_story_which_replays() -> None:
    config = Config(variant="aws-2025", enactors=2, invariants=(1,))  # the empty record
    shortest = explore_bfs(config, workers=1)
    assert shortest.steps is not None

    @settings(max_examples=200, database=None)  # every phase, explain included
    @given(schedules())
    def holds(schedule: HypothesisSchedule) -> None:
        result = run_memory(config, schedule)
        assert result.violation is None, schedule.replay_command(result)

    with pytest.raises(AssertionError) as failed:
        holds()
    command = str(failed.value).splitlines()[0]
    choices = command.split("--choices ")[1].split()[0]
    replayed = run_memory(config, ReplayChoices([int(c) for c in choices.split(",")]))
    assert replayed.violation is not None and replayed.violation.invariant == 1
    assert replayed.length == shortest.steps  # the breadth-first minimum
