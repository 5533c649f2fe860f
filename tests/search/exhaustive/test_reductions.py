"""The reductions of breadth-first search are sound: on every variant and several small worlds
where the unreduced search completes, the reduced one agrees on whether a violation exists and
on the shortest story's length, and its story replays."""

from __future__ import annotations

import pytest

from reproducer import VARIANTS, Config, ReplayChoices, run_memory
from reproducer.search import explore_bfs
from reproducer.search.exhaustive.bfs import search_bfs
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS, REDUCTIONS, check_reductions

WORLDS = {
    "2 enactors, 1 plan": dict(enactors=2, plans=1, max_steps=40),
    "2 enactors, 2 plans": dict(enactors=2, plans=2, max_steps=22),
    "3 enactors, 1 plan": dict(enactors=3, plans=1, max_steps=18),
    "2 enactors, 2 endpoints": dict(enactors=2, endpoints=2, plans=1, max_steps=24),
    "the empty record only": dict(enactors=2, plans=2, max_steps=22, invariants=(1,)),
}
# each reduction alone (with what it builds on), and all of them
LEVERS = [(name,) for name in REDUCTIONS] + [REDUCTIONS]


@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_reduction_agrees_with_the_unreduced_search(variant: str, world: str) -> None:
    config = Config(variant=variant, **WORLDS[world])  # type: ignore[arg-type]
    plain = explore_bfs(config, reductions=())
    assert plain.found or plain.exhausted
    for lever in LEVERS:
        reduced = explore_bfs(config, reductions=lever)
        assert reduced.found == plain.found, lever
        assert reduced.steps == plain.steps, lever
        assert reduced.exhausted == plain.exhausted, lever
        if not plain.found:
            assert reduced.states is not None and plain.states is not None
            assert reduced.states <= plain.states, lever
        if reduced.result is not None:  # the story is a run of the world, as reported
            again = run_memory(config, ReplayChoices(reduced.result.choices))
            assert again.steps == reduced.result.steps


def test_the_reductions_merge_states_on_a_correct_fix() -> None:
    config = Config(variant="cas-flip", enactors=2, plans=1)
    plain = explore_bfs(config, reductions=())
    every = explore_bfs(config)
    assert plain.exhausted and every.exhausted and not every.found
    assert every.reductions == DEFAULT_REDUCTIONS
    assert every.states is not None and plain.states is not None
    assert every.states * 20 < plain.states


def test_a_reduction_brings_what_it_builds_on_and_unknown_names_are_refused() -> None:
    assert check_reductions(["symmetry"]) == {"symmetry", "values", "bookkeeping"}
    with pytest.raises(ValueError, match="unknown reductions \\['magic'\\]"):
        check_reductions(["magic"])


def test_a_user_enactor_gets_only_the_reductions_that_do_not_read_its_code() -> None:
    config = Config(enactor="tests.helpers.example_enactor:OneShotEnactor", enactors=2, plans=1,
                    max_steps=12)
    assert explore_bfs(config).reductions == ("bookkeeping",)
    # async enactors of one program are interchangeable up to their names
    port = Config(enactor="examples.aws_2025:enactor", enactors=2, plans=1, max_steps=12)
    assert explore_bfs(port).reductions == ("bookkeeping", "symmetry")


ASYNC_WORLDS = {
    "the aws-2025 port, the empty record": dict(enactor="examples.aws_2025:enactor", enactors=2,
                                                plans=2, invariants=(1,), max_steps=22),
    "the cas-flip port, 1 plan": dict(enactor="examples.cas_flip:enactor", enactors=2, plans=1,
                                      max_steps=40),
    "an enactor told by its history": dict(
        enactor="tests.helpers.async_enactors:holds_a_lock_of_its_own", enactors=2, plans=2),
}


@pytest.mark.parametrize("world", ASYNC_WORLDS)
def test_async_enactors_told_by_their_state_and_their_symmetry_agree_with_their_histories(
        world: str) -> None:
    config = Config(**ASYNC_WORLDS[world])  # type: ignore[arg-type]
    by_history = search_bfs(config, reductions=(), states=False)
    assert by_history.found or by_history.exhausted
    for lever in [(), ("bookkeeping",), ("bookkeeping", "symmetry")]:
        reduced = search_bfs(config, reductions=lever)
        assert (reduced.found, reduced.steps, reduced.exhausted) == (
            by_history.found, by_history.steps, by_history.exhausted), lever
        if not by_history.found:
            assert reduced.states is not None and by_history.states is not None
            assert reduced.states <= by_history.states, lever
        if reduced.result is not None:
            again = run_memory(config, ReplayChoices(reduced.result.choices))
            assert again.steps == reduced.result.steps
