"""A backend's bounded work: slots, a service time and a first-come-first-served line
(`fake_lb._work`'s rules), as logic and on a real backend over HTTP."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from fake_lb import REASON_HEADER, Backend, WorkLimit
from fake_lb._work import Admit, WorkGate
from tests.helpers.polling import until


def test_requests_start_while_slots_are_free_and_then_wait_in_line() -> None:
    gate = WorkGate(WorkLimit(slots=2))

    assert [gate.arrive(t) for t in "abcd"] == [Admit.START, Admit.START, Admit.WAIT, Admit.WAIT]
    assert (gate.stats().busy, gate.stats().waiting) == (2, 2)


def test_a_freed_slot_goes_to_the_longest_waiter_and_the_last_one_frees_it() -> None:
    gate = WorkGate(WorkLimit(slots=1))
    for ticket in "abc":
        gate.arrive(ticket)

    assert [gate.release(), gate.release(), gate.release()] == ["b", "c", None]
    assert (gate.stats().busy, gate.stats().started) == (0, 3)


def test_a_newcomer_is_refused_once_the_line_is_full() -> None:
    gate = WorkGate(WorkLimit(slots=1, max_waiting=1))

    assert [gate.arrive(t) for t in "abc"] == [Admit.START, Admit.WAIT, Admit.REFUSE]
    assert gate.stats().refused == 1


def test_a_newcomer_never_overtakes_the_line_even_with_a_slot_about_to_free() -> None:
    gate = WorkGate(WorkLimit(slots=1))
    gate.arrive("a")
    gate.arrive("b")

    assert gate.release() == "b"  # the slot passed to b: still busy
    assert gate.arrive("c") is Admit.WAIT


def test_a_waiter_that_leaves_gives_up_its_place_but_one_already_served_cannot_leave() -> None:
    gate = WorkGate(WorkLimit(slots=1))
    for ticket in "abc":
        gate.arrive(ticket)

    assert gate.leave("b") is True
    assert gate.release() == "c"
    assert gate.leave("c") is False


def test_zero_slots_means_no_bound_and_nothing_counted() -> None:
    gate = WorkGate(WorkLimit())

    assert {gate.arrive(t) for t in range(1000)} == {Admit.START}
    assert gate.release() is None
    assert gate.stats().started == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"slots": -1}, "slots=-1 must be a whole number >= 0 (0: no bound)"),
    ({"slots": 1, "service_s": float("nan")}, "service_s=nan must be a number of seconds >= 0"),
    ({"slots": 1, "max_waiting": -2}, "max_waiting=-2 must be >= 0 (None: unbounded)"),
])
def test_a_work_limit_that_cannot_work_says_which_value_and_why(
        kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        WorkLimit(**kwargs)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_busy_backend_serves_its_slots_queues_the_next_and_refuses_beyond_the_line(
        ) -> None:
    # One slot held for a whole second: the three requests below all arrive while it is taken.
    async with Backend(work=WorkLimit(slots=1, service_s=1.0, max_waiting=1)) as node, \
            aiohttp.ClientSession() as session:
        async def put(key: str) -> tuple[str, int, str | None]:
            async with session.put(f"{node.url}/items/{key}", data=key.encode()) as reply:
                return key, reply.status, reply.headers.get(REASON_HEADER)

        first = asyncio.create_task(put("first"))
        await until(lambda: node.work.stats().busy == 1, "the first request to take the slot")
        second = asyncio.create_task(put("second"))
        await until(lambda: node.work.stats().waiting == 1, "the second request to wait")
        third = await put("third")
        finished = [await first, await second]
        health = node.health()

    assert third == ("third", 503, "backend-busy")
    assert finished == [("first", 204, None), ("second", 204, None)]
    assert node.items == {"first": b"first", "second": b"second"}
    assert health["work"] == {"slots": 1, "busy": 0, "waiting": 0, "started": 2, "refused": 1,
                              "service_s": 1.0}
