"""Breadth-first search with its visited set split over shares gives what one process gives:
the verdict, the state count, the steps taken and the shortest story, under every bound; its
identities are the same in every process; a lost share starts the search again, and never
ends in a claim of exhaustion it cannot back."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from reproducer import VARIANTS, Config
from reproducer.search import explore_bfs
from reproducer.search.distributed.levels import (
    InProcessShares,
    LocalShares,
    ShareLost,
    search_levels,
    search_partitioned,
)
from reproducer.search.distributed.pool import WorkersLost
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS
from reproducer.search.outcome import Exploration, Ticker

WORLDS = {
    "2 enactors, 2 plans": dict(enactors=2, plans=2),
    # (trees cleaned up and left with their descriptions: states the identity merges that
    # differ in records it leaves out must have one place)
    "2 enactors, 3 plans": dict(enactors=2, plans=3),
    "3 enactors, 1 plan": dict(enactors=3, plans=1, max_steps=30),
    "2 enactors, 2 endpoints": dict(enactors=2, endpoints=2, plans=1),
}


def _same(split: Exploration, one: Exploration) -> None:
    assert (split.found, split.states, split.steps_expanded, split.exhausted, split.reductions) \
        == (one.found, one.states, one.steps_expanded, one.exhausted, one.reductions)
    if one.result is not None:
        assert split.result is not None
        assert split.result.choices == one.result.choices
        assert split.result.length == one.result.length


def _in_process(config: Config, count: int, *, max_states: int = 3_000_000,
                reductions: tuple[str, ...] = DEFAULT_REDUCTIONS) -> Exploration:
    return search_levels(InProcessShares(config, count, reductions), config,
                         max_states=max_states, reductions=reductions,
                         ticker=Ticker(None, "bfs"))


@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_any_count_of_shares_gives_what_one_process_gives(variant: str, world: str) -> None:
    config = Config(variant=variant, **WORLDS[world])  # type: ignore[arg-type]
    one = explore_bfs(config)
    for count in (1, 2, 3):
        _same(_in_process(config, count), one)


@pytest.mark.parametrize("max_states", [1, 2, 50, 700])
def test_the_bound_on_states_cuts_the_states_one_process_cuts(max_states: int) -> None:
    for variant in ("cas-flip", "aws-2025"):
        config = Config(variant=variant, enactors=2, plans=2)
        one = explore_bfs(config, max_states=max_states)
        _same(_in_process(config, 3, max_states=max_states), one)


def test_without_reductions_the_split_search_still_agrees() -> None:
    config = Config(variant="cas-guarded", enactors=2, plans=1)
    _same(_in_process(config, 2, reductions=()), explore_bfs(config, reductions=()))


def test_worker_processes_give_what_one_process_gives() -> None:
    for config in (Config(variant="aws-2025", enactors=2, plans=3),
                   Config(variant="cas-flip", enactors=2, plans=2)):
        split = explore_bfs(config, workers=2)
        _same(split, explore_bfs(config))
        assert (split.workers, split.to_json()["workers"]) == (2, 2)


class _KillingShares(LocalShares):
    """Real worker processes; the first to open kills one of its processes after `level`
    levels."""

    opened = 0

    def __init__(self, config: Config, count: int, level: int) -> None:
        super().__init__(config, count, DEFAULT_REDUCTIONS, None)
        self.level = level
        self.first = _KillingShares.opened == 0
        _KillingShares.opened += 1
        self.levels = 0

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        if method == "expand":
            self.levels += 1
            if self.first and self.levels == self.level:
                process = self._pool.processes[1]
                assert process.pid is not None
                os.kill(process.pid, signal.SIGKILL)
        return super().call(method, args)


def test_a_killed_worker_process_starts_the_search_again_with_the_same_result() -> None:
    config = Config(variant="aws-2025", enactors=2, plans=3)
    said: list[str] = []
    _KillingShares.opened = 0
    split = search_partitioned(config, lambda n: _KillingShares(config, n, 5), 2,
                               max_states=3_000_000, reductions=DEFAULT_REDUCTIONS,
                               progress=said.append)
    assert _KillingShares.opened == 2
    assert any("worker 2 of 2 died" in line for line in said), said
    assert any("starting again from the beginning on 1 workers" in line for line in said), said
    _same(split, explore_bfs(config))


class _AlwaysLost(InProcessShares):
    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        if method == "receive":
            raise ShareLost("worker 2 of 2 died", 1)
        return super().call(method, args)


def test_a_search_that_keeps_losing_shares_claims_nothing() -> None:
    config = Config(variant="cas-flip", enactors=2, plans=1)
    with pytest.raises(WorkersLost, match="nothing was proved"):
        search_partitioned(config, lambda n: _AlwaysLost(config, n, DEFAULT_REDUCTIONS), 2,
                           max_states=3_000_000, reductions=DEFAULT_REDUCTIONS)


def test_async_enactors_are_searched_in_one_process_with_the_same_result() -> None:
    config = Config(enactor="examples.aws_2025:enactor", enactors=2, plans=1, max_steps=12)
    said: list[str] = []
    split = explore_bfs(config, workers=2, progress=said.append)
    assert any("one process" in line for line in said), said
    _same(split, explore_bfs(config))
