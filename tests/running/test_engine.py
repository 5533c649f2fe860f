"""The integer engine takes the runs the simulation takes: for the same choices the same steps,
the same ready workers offered (so the same choices drawn), and the same violation at the same
step, on every variant, with its parts real or canonical; canonical parts are what the
reductions say they are."""

from __future__ import annotations

import pytest

from reproducer import VARIANTS, Config, RandomChoices, Simulation
from reproducer.running.canonical import CURRENT, STALE, lock_of_zone
from reproducer.running.engine import Engine, Walk
from reproducer.world.enactor import StateMachineEnactor

CANON = {"real": {}, "values": {"values": True},
         "values, unread, dead": {"values": True, "unread": True, "dead": True}}
WORLDS = [Config(), Config(enactors=2, invariants=(1,)), Config(enactors=3, endpoints=2, plans=4)]


@pytest.mark.parametrize("canon", CANON)
@pytest.mark.parametrize("variant", VARIANTS)
def test_a_walk_over_the_engine_is_the_simulation_s_run(variant: str, canon: str) -> None:
    for world in WORLDS:
        config = Config(**{**world.to_json(), "variant": variant})
        engine = Engine(config, **CANON[canon])
        for seed in range(40):
            walk = Walk(engine, RandomChoices(seed), max_steps=config.max_steps)
            sim = Simulation(config)
            sim.advance(RandomChoices(seed))
            assert (walk.choices, walk.length, walk.broke, walk.finished) == (
                sim.choices, sim.length, bool(sim.violations), sim.finished), (config, seed)


def test_a_run_that_keeps_going_after_a_violation_keeps_going_on_the_engine_too() -> None:
    config = Config(enactors=3)
    engine = Engine(config, values=True, unread=True, dead=True)
    for seed in range(20):
        walk = Walk(engine, RandomChoices(seed), max_steps=config.max_steps,
                    stop_at_violation=False)
        sim = Simulation(config, stop_at_violation=False)
        sim.advance(RandomChoices(seed))
        assert (walk.choices, walk.length, walk.finished) == (sim.choices, sim.length,
                                                              sim.finished)


def test_canonical_states_hold_no_clock_no_stamp_and_no_prose() -> None:
    config = Config(variant="cas-flip", enactors=3)
    engine = Engine(config, values=True, unread=True, dead=True)
    for seed in range(30):
        Walk(engine, RandomChoices(seed), max_steps=config.max_steps)
    for dns in engine.zones:
        lock = lock_of_zone(dns, config.layout.lock_name)
        assert lock is not None and lock.stamp == CURRENT
        assert not any(config.layout.rollback_name(ep) in zone.nodes
                       for zone in dns.zones.values() for ep in config.layout.endpoints)
    enactors = [w for w, _ in engine.comps if isinstance(w, StateMachineEnactor)]
    assert enactors
    for e in enactors:
        assert e.note == "" and e.writes == 0
        assert e.lock is None or e.lock.stamp in (CURRENT, STALE)
        assert (e.deadline_ms() or 0) >= 0


def test_the_real_parts_are_the_simulation_s_values() -> None:
    config = Config(enactors=2)
    engine = Engine(config)
    sim = Simulation(config)
    assert engine.comps[engine.root[5]][0] == sim.workers[0]
    state = engine.root
    for _ in range(6):
        w = engine.ready(state)[0]
        sim.move(w)
        state, _ = engine.step(state, w)
    assert [engine.comps[c][0] for c in state[5:]] == list(sim.workers)
    assert engine.stores[state[1]] == sim.store
