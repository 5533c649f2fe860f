"""The lease manager's transitions (`reproducer.metastable.manager`, its table and rules), driven
by hand: each test feeds the events and reads what the manager sends and counts."""

from __future__ import annotations

import random

import pytest

from reproducer.metastable import (
    POLICIES,
    Backoff,
    FleetParams,
    LeaseManager,
    Policy,
    Send,
)

# Two hosts whose renewals fall due at 1.0 s and 3.0 s (renewal period 4 s, leases of 8 s).
PARAMS = FleetParams(hosts=2, lease_s=8.0, timeout_s=0.5, capacity=1, service_s=0.05,
                     retry_delay_s=0.5, rtt_s=0.005)


def manager(policy: str | Policy = "collapsing", params: FleetParams = PARAMS) -> LeaseManager:
    chosen = POLICIES[policy] if isinstance(policy, str) else policy
    return LeaseManager(params, chosen, now=0.0, rng=random.Random(0))


def test_a_warm_fleet_holds_every_lease_and_renews_each_once_half_way_through() -> None:
    m = manager()

    assert m.counters().leases_held == 2
    assert m.next_wakeup() == 1.0
    m.advance(1.0)
    assert m.take_sends() == [Send(0, 0)]
    m.advance(2.9)
    assert m.take_sends() == []


def test_a_reply_before_the_deadline_grants_the_lease_and_sets_the_next_renewal() -> None:
    m = manager()
    m.advance(1.0)
    m.take_sends()

    m.replied(0, True, 1.1)

    assert m.counters().established == 1
    assert m.next_wakeup() == 3.0  # host 1's renewal; host 0's is now at 1.1 + 4
    m.advance(3.0)
    m.take_sends()
    m.replied(1, True, 3.05)
    assert m.next_wakeup() == pytest.approx(5.1)


def test_a_reply_after_the_deadline_is_wasted_work_and_the_retry_was_queued_at_the_deadline(
        ) -> None:
    m = manager()
    m.advance(1.0)
    m.take_sends()

    m.advance(1.5)  # the deadline: 1.0 + timeout_s
    assert m.counters().timed_out == 1
    assert m.counters().queue == 1  # "Additional work was queued to reattempt"
    m.replied(0, True, 1.6)

    counters = m.counters()
    assert (counters.established, counters.wasted) == (0, 1)
    assert m.take_sends() == [Send(1, 0)]  # the slot freed: the retry goes out


def test_a_reply_exactly_at_the_deadline_does_not_count() -> None:
    m = manager()
    m.advance(1.0)
    m.take_sends()

    m.replied(0, True, 1.5)

    assert (m.counters().established, m.counters().wasted) == (0, 1)


def test_a_dead_attempt_stays_in_the_queue_and_is_still_sent() -> None:
    # Renewals due at 0.5, 1.5, 2.5, 3.5 s; attempts live 1.5 s; one slot.
    m = manager(params=FleetParams(hosts=4, lease_s=8.0, timeout_s=1.5, capacity=1))
    m.advance(0.5)
    assert m.take_sends() == [Send(0, 0)]  # host 0 holds the slot; its answer is slow

    m.advance(3.0)  # host 1 (queued at 1.5) died in line; host 0 died in flight at 2.0
    assert m.counters().timed_out == 2
    assert m.counters().queue == 4  # host 1 dead, host 0's retry, host 2, host 1's retry
    m.replied(0, True, 3.05)

    assert m.take_sends() == [Send(1, 1)]  # host 1's dead attempt, first in line, goes out
    m.replied(1, True, 3.1)
    assert (m.counters().established, m.counters().wasted) == (0, 2)


def test_an_error_reply_makes_the_host_try_again_after_about_the_retry_delay() -> None:
    m = manager()
    m.advance(1.0)
    m.take_sends()

    m.replied(0, False, 1.01)

    wake = m.next_wakeup()
    assert wake is not None and 1.01 + 0.25 <= wake <= 1.01 + 0.75
    assert m.counters().failed == 1
    m.advance(wake)
    assert m.take_sends() == [Send(1, 0)]


def test_never_more_attempts_in_flight_than_the_capacity() -> None:
    params = FleetParams(hosts=50, lease_s=8.0, timeout_s=0.5, capacity=3)
    m = manager(params=params)

    m.advance(4.0)  # every renewal has fallen due

    assert len(m.take_sends()) == 3
    assert m.counters().in_flight == 3


def test_admission_refuses_work_beyond_the_queue_limit_and_the_host_retries_later() -> None:
    params = FleetParams(hosts=50, lease_s=8.0, timeout_s=0.5, capacity=1, service_s=0.1,
                         rtt_s=0.0001)
    policy = POLICIES["admission"]
    limit = policy.queue_limit(params)
    assert limit == 3  # 0.8 * 10 attempts/s * (0.5 - 0.1) s
    m = manager(policy, params)

    m.advance(0.5)  # the renewals of hosts 0-5 have fallen due (one every 0.08 s)

    counters = m.counters()
    assert (counters.in_flight, counters.queue, counters.refused) == (1, 3, 2)


def test_backoff_retries_a_timed_out_attempt_after_a_delay_instead_of_at_once() -> None:
    policy = Policy("backoff", backoff=Backoff(base_timeouts=1.0, cap_timeouts=4.0))
    m = manager(policy)
    m.advance(1.0)
    m.take_sends()

    m.advance(1.5)

    assert m.counters().queue == 0
    wake = m.next_wakeup()
    assert wake is not None and 1.5 < wake <= 1.5 + 0.5


def test_backoff_ceilings_double_up_to_the_cap() -> None:
    backoff = Backoff(base_timeouts=1.0, cap_timeouts=4.0)

    assert [backoff.ceiling_s(PARAMS, k) for k in range(5)] == [0.5, 1.0, 2.0, 2.0, 2.0]


def test_a_restart_drops_the_queue_kills_what_is_in_flight_and_rebuilds_work_from_the_leases(
        ) -> None:
    m = manager()
    m.advance(1.0)
    m.take_sends()
    m.advance(3.0)  # host 1's renewal queued behind host 0's

    m.restart(3.1)

    counters = m.counters()
    assert counters.timed_out == 4  # host 0's, at 1.5, 2.0, 2.5 and 3.0: a retry queued each time
    assert counters.dropped == 5  # those four copies of host 0 and host 1's renewal
    assert counters.queue == 2  # both renewals are due: both hosts get new work
    m.replied(0, True, 3.2)  # the old attempt: the pool finished it for nobody
    assert (m.counters().established, m.counters().wasted) == (0, 1)
    assert m.take_sends() == [Send(6, 0)]


def test_the_throttle_admits_a_burst_of_capacity_and_then_its_rate() -> None:
    params = FleetParams(hosts=40, lease_s=8.0, timeout_s=0.5, capacity=2)
    m = manager(params=params)
    m.throttle(10.0, 0.0)

    m.advance(4.0)  # all 40 renewals fall due over 4 s: 2 at once, then 10 a second

    admitted = m.counters().established + m.counters().in_flight + m.counters().queue
    assert admitted <= 2 + 10 * 4
    assert m.counters().refused > 0


def test_time_that_goes_backwards_and_a_reply_nobody_asked_for_are_refused() -> None:
    m = manager()
    m.advance(1.0)

    with pytest.raises(ValueError, match="time went backwards"):
        m.advance(0.5)
    with pytest.raises(ValueError, match="attempt 7 is not in flight"):
        m.replied(7, True, 1.0)
