"""The facts the exhaustive search's reductions rely on are the enactor's, and agree with its
transitions: the times in `deadline_ms` are the ones its next action uses, a finished enactor
has nothing live, and the right movers are recognised where the glue argument says."""

from __future__ import annotations

from reproducer import (
    VARIANTS,
    EnactorSettings,
    Layout,
    LockValue,
    Plan,
    SendUpdate,
    Sleep,
    Target,
)
from reproducer.world.enactor import Phase, StateMachineEnactor
from reproducer.world.values import PlanStore, UpdateOutcome, evolve

LAYOUT = Layout()
PLAN = Plan(2, ((LAYOUT.endpoints[0], (Target("10.0.0.2", 1),)),))


def enactor(variant: str = "aws-2025", **fields: object) -> StateMachineEnactor:
    made = StateMachineEnactor.create("enactor-1", LAYOUT, VARIANTS[variant], EnactorSettings())
    return evolve(made, **fields)


def test_a_finished_enactor_has_no_live_field_and_no_deadline() -> None:
    done = enactor(phase=Phase.DONE)
    assert done.live_fields() == frozenset()
    assert done.deadline_ms() is None


def test_the_deadline_of_a_backing_off_enactor_is_when_its_sleep_ends() -> None:
    sleeping = enactor(phase=Phase.BACKOFF, backoff=2, moved_ms=1_234)
    action = sleeping.next_action(now_ms=5_000)
    assert isinstance(action, Sleep)
    assert sleeping.deadline_ms() == action.until_ms
    assert "moved_ms" in sleeping.live_fields()


def test_the_deadline_of_an_enactor_taking_the_lock_is_the_expiry_it_writes() -> None:
    taking = enactor(phase=Phase.CREATE_TREES, plan=PLAN, moved_ms=700, active=(None,))
    action = taking.next_action(now_ms=900)
    assert isinstance(action, SendUpdate)
    written = [LockValue.parse(change.rdata) for change in action.update.changes
               if change.name == LAYOUT.lock_name and change.rdata]
    assert [lock.expires_ms if lock else None for lock in written] == [taking.deadline_ms()]


def test_a_lock_the_next_lock_read_replaces_is_dead_unless_the_enactor_holds_it() -> None:
    someone_else = LockValue("enactor-2", 10_000, "enactor-2.1")
    assert "lock" not in enactor(phase=Phase.FIND_PLAN, lock=someone_else).live_fields()
    ours = LockValue("enactor-1", 10_000, "enactor-1.1")
    assert "lock" in enactor(phase=Phase.FIND_PLAN, lock=ours).live_fields()
    assert "lock" in enactor(phase=Phase.FLIP, plan=PLAN, lock=someone_else).live_fields()


def test_the_back_off_count_matters_only_up_to_the_capped_delay() -> None:
    # base 1 s doubling to the 8 s cap: 1, 2, 4, 8 s; a count past 3 changes nothing
    assert [enactor(backoff=n).backoff_that_matters for n in range(6)] == [0, 1, 2, 3, 3, 3]


def test_a_refused_lock_only_update_is_a_right_mover_and_a_refused_flip_is_not() -> None:
    creating = enactor(phase=Phase.CREATE_TREES, plan=PLAN, active=(None,))
    refused = creating.receive(UpdateOutcome("NXRRSET"), now_ms=0)
    assert refused.phase is Phase.LOCK_READ
    assert refused.just_took_right_mover(PlanStore())
    flipping = enactor(phase=Phase.FLIP, plan=PLAN, active=(None,))
    assert not flipping.receive(UpdateOutcome("NXRRSET"), now_ms=0).just_took_right_mover(
        PlanStore())


def test_reading_the_newest_plan_is_a_right_mover_once_the_store_is_sealed() -> None:
    checking = enactor(phase=Phase.CHECK, plan=PLAN)
    assert not checking.just_took_right_mover(PlanStore((PLAN,)))
    assert checking.just_took_right_mover(PlanStore((PLAN,), sealed=True))
    newer = Plan(3, PLAN.endpoints)
    assert not checking.just_took_right_mover(PlanStore((PLAN, newer), sealed=True))
