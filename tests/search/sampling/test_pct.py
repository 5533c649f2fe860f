"""PCT: the highest-priority ready worker moves, a change point demotes the worker that moved
last below every earlier victim, and run i is a function of (seed, i) alone."""

from __future__ import annotations

import pytest

from reproducer import Config
from reproducer.search import explore_pct
from reproducer.search.sampling.pct import PCTChoices, PCTSources, pct_horizon, sources

BACKWARDS = Config(variant="aws-2025", enactors=2, plans=2)


def test_pct_runs_the_highest_priority_ready_worker_and_demotes_it_at_a_change_point() -> None:
    pct = PCTChoices(seed=1, workers=["a", "b", "c"], depth=2, horizon=1)
    assert pct.change_points == {1}  # one change point, and with k=1 it is decision 1
    ranked = sorted(pct.priority, key=pct.priority.__getitem__, reverse=True)
    ready = ["a", "b", "c"]
    # decision 1 is the change point; before anyone moved, the top worker is demoted at once
    assert ready[pct.choose(ready)] == ranked[1]
    pct.moved(ranked[1])
    assert ready[pct.choose(ready)] == ranked[1]  # no more change points: it keeps going


def test_pct_demotes_a_later_victim_below_an_earlier_one_so_the_earlier_can_overtake() -> None:
    pct = PCTChoices(seed=3, workers=["a", "b", "c"], depth=3, horizon=2)
    assert pct.change_points == {1, 2}
    ready = ["a", "b", "c"]
    first_victim = max(pct.priority, key=pct.priority.__getitem__)
    pct.choose(ready)  # decision 1: the top worker is demoted below everyone
    later = next(w for w in ready if w != first_victim)
    pct.moved(later)
    pct.choose(ready)  # decision 2: the worker that moved last goes below the first victim
    (untouched,) = set(ready) - {first_victim, later}
    assert pct.priority[later] < pct.priority[first_victim] < pct.priority[untouched]
    assert ready[pct.choose(ready)] == untouched
    stalled = [later, first_victim]  # only the two demoted ones are ready
    assert stalled[pct.choose(stalled)] == first_victim  # stalled first, but moves first


def test_pct_at_depth_four_empties_the_record_where_the_earlier_stalled_enactor_overtakes() -> None:
    """The outage's story stalls enactor-1 (after its check), then enactor-2 (after listing
    the plans), and needs enactor-1 to move first: only demotion below every earlier victim
    allows that, so PCT must find it (with depth 3 the third switch is missing)."""
    config = Config(enactors=2, invariants=(1,))
    found = explore_pct(config, depth=4, seed=0, max_runs=3_000, shrink=False)
    assert found.found and found.result is not None and found.result.violation is not None
    assert found.result.violation.invariant == 1
    assert not explore_pct(config, depth=3, seed=0, max_runs=300, shrink=False).found


def test_pct_run_i_is_the_same_run_whatever_ran_before_it() -> None:
    sources = PCTSources(7, BACKWARDS.worker_names, 4, pct_horizon(BACKWARDS))
    later = sources(5)
    for n in range(1, 5):
        sources(n)
    again = sources(5)
    assert (again.priority, again.change_points) == (later.priority, later.change_points)


def test_a_depth_below_one_is_refused_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="depth 0: PCT needs a depth of at least 1"):
        sources(BACKWARDS, 0, 0)
