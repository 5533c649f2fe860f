"""POS and SURW find the race and the minimiser takes them to the breadth-first minimum; POS
keeps a priority until a racing step re-draws it; the default strategy's schedules are random
walks from the first example."""

from __future__ import annotations

from reproducer import Config
from reproducer.bench.measure import Measurement, runs_to_first_violation
from reproducer.search import explore_bfs
from reproducer.search.sampling.pos import POSChoices, explore_pos
from reproducer.search.sampling.surw import explore_surw

BACKWARDS = Config(variant="aws-2025", enactors=2, plans=2)


def test_pos_and_surw_find_the_race_and_are_minimised_to_the_breadth_first_minimum() -> None:
    minimum = explore_bfs(BACKWARDS).steps
    for explore in (explore_pos, explore_surw):
        for seed in range(2):
            found = explore(BACKWARDS, seed=seed, max_runs=500)
            assert found.found and found.steps == minimum


def test_pos_keeps_a_priority_until_a_racing_step_draws_it_again() -> None:
    draws = iter([5, 9, 1, 7, 3, 8, 2])
    pos = POSChoices(BACKWARDS, lambda: next(draws))
    ready = ["planner", "enactor-1", "enactor-2"]
    assert ready[pos.choose(ready)] == "enactor-1"  # priorities 5, 9, 1
    pos.moved("enactor-1")  # a store read: races with the planner's write, not enactor-2's
    assert "enactor-2" in pos.priority and "planner" not in pos.priority
    assert pos.priority["enactor-2"] == 1


def test_the_default_strategy_finds_the_empty_record_like_a_random_walk() -> None:
    config = Config(enactors=2, invariants=(1,))
    runs = tuple(runs_to_first_violation("hypothesis", config, seed, 400) for seed in range(5))
    assert all(r is not None for r in runs)
    m = Measurement("empty record", "hypothesis", runs, 400)
    assert m.found == 5 and m.median()[0] < 200
