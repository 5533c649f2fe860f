"""Bounded proofs: with at most K preemptions, every schedule is checked and the counterexample
reported needs the fewest preemptions; with K large enough the answer is breadth-first
search's; the reductions change no answer; an async port gives its state machine's answers."""

from __future__ import annotations

import pytest

from reproducer import VARIANTS, Config, ReplayChoices, Simulation
from reproducer.search import explore_bfs, explore_bounded
from reproducer.search.exhaustive.bounded import search_bounded
from reproducer.search.exhaustive.identity import DEFAULT_REDUCTIONS

WORLDS = {
    "2 enactors, 1 plan": dict(enactors=2, plans=1),
    "2 enactors, 2 plans": dict(enactors=2, plans=2),
    "the empty record only": dict(enactors=2, plans=2, invariants=(1,)),
}


def preemptions_of(config: Config, choices: tuple[int, ...]) -> int:
    """A run's preemptions: steps that switch away from the worker that moved last while it
    could have gone on."""
    sim = Simulation(config)
    count, last = 0, None
    source = ReplayChoices(choices)
    while (w := sim.next_worker(source)) is not None:
        ready = sim.ready()
        if last is not None and last in ready and w != last:
            count += 1
        sim.move(w)
        sim.choices.pop()  # (move records the choice again)
        last = w
    return count


@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_counterexample_needs_the_fewest_preemptions_and_fewer_find_nothing(
        variant: str, world: str) -> None:
    config = Config(variant=variant, **WORLDS[world])  # type: ignore[arg-type]
    full = explore_bfs(config)
    bounded = search_bounded(config, 12, max_states=1_000_000)
    assert bounded.found == full.found
    if not full.found:
        assert bounded.exhausted and bounded.checked_preemptions == 12
        return
    assert bounded.result is not None and bounded.found_preemptions is not None
    k = bounded.found_preemptions
    assert preemptions_of(config, bounded.result.choices) <= k
    assert bounded.checked_preemptions == k - 1
    if k > 0:
        below = search_bounded(config, k - 1, max_states=1_000_000)
        assert not below.found and below.checked_preemptions == k - 1


@pytest.mark.parametrize("variant", ["aws-2025", "cas-flip"])
def test_the_reductions_change_no_bounded_answer(variant: str) -> None:
    config = Config(variant=variant, enactors=2, plans=2, invariants=(1,))
    plain = search_bounded(config, 4, max_states=1_000_000, reductions=())
    reduced = search_bounded(config, 4, max_states=1_000_000, reductions=DEFAULT_REDUCTIONS)
    assert (reduced.found, reduced.found_preemptions, reduced.checked_preemptions) == (
        plain.found, plain.found_preemptions, plain.checked_preemptions)
    assert reduced.states is not None and plain.states is not None
    assert reduced.states <= plain.states


def test_the_async_port_gives_its_state_machine_s_answers() -> None:
    twin = Config(enactors=2, invariants=(1,))
    port = Config(enactor="examples.aws_2025:enactor", enactors=2, invariants=(1,))
    for config in (twin, port):
        found = explore_bounded(config, 5)
        assert found.found_preemptions == 4 and found.checked_preemptions == 3
        assert found.result is not None and found.result.length == 18


def test_a_bound_cut_by_the_state_bound_claims_only_what_it_checked() -> None:
    config = Config(variant="cas-flip", enactors=2)
    cut = search_bounded(config, 3, max_states=500)
    assert not cut.found and not cut.exhausted
    assert cut.checked_preemptions is not None and cut.checked_preemptions < 3
