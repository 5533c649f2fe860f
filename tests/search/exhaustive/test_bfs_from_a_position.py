"""Breadth-first search from a position part-way through a run (what a guide needs)."""

from __future__ import annotations

import pytest

from reproducer import Config, ReplayChoices, Simulation
from reproducer.search import explore_bfs

EMPTY_RECORD = Config(enactors=2, invariants=(1,))


def test_from_a_prefix_of_the_shortest_story_the_rest_of_it_is_still_the_shortest_way() -> None:
    shortest = explore_bfs(EMPTY_RECORD)
    assert shortest.result is not None
    story = [s.worker for s in shortest.result.steps]
    for cut in (0, 5, len(story) - 1):
        on = explore_bfs(EMPTY_RECORD, start=story[:cut])
        assert on.result is not None and on.result.violation is not None
        assert on.result.length == len(story)
        assert [s.worker for s in on.result.steps][:cut] == story[:cut]


def test_from_a_finished_run_nothing_can_break_any_more_and_the_search_says_so() -> None:
    sim = Simulation(EMPTY_RECORD, stop_at_violation=False)
    sim.advance(ReplayChoices([]))
    assert sim.finished and not sim.violations
    after = explore_bfs(EMPTY_RECORD, start=sim.schedule())
    assert not after.found and after.exhausted and after.states == 1


def test_a_position_no_run_can_reach_is_refused_by_name() -> None:
    sim = Simulation(EMPTY_RECORD, stop_at_violation=False)
    sim.advance(ReplayChoices([]))
    with pytest.raises(ValueError, match=f"planner is not ready at step {sim.length + 1}"):
        explore_bfs(EMPTY_RECORD, start=[*sim.schedule(), "planner"])
