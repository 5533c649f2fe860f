"""An async enactor's state is its suspended coroutine: where each frame of its await chain
waits and what its locals hold. Histories that reach the same state are one state; a local that
is not a value (it hides state) leaves the enactor told by its history, with the reason."""

from __future__ import annotations

import pytest

from fake_dns import RR, LookupResult
from reproducer import Config, Handle
from reproducer.world.async_enactor import CoroutineWorker, Uncanonical
from reproducer.world.variants import EnactorSettings
from tests.helpers.async_enactors import holds_a_lock_of_its_own


async def ignores_what_it_reads(h: Handle) -> None:
    await h.query(h.layout.lock_name, "TXT")
    await h.query(h.layout.lock_name, "TXT")


async def keeps_what_it_reads(h: Handle) -> None:
    first = await h.query(h.layout.lock_name, "TXT")
    await h.query(h.layout.lock_name, "TXT", why=str(len(first.answer)))


def _answer(text: str) -> LookupResult:
    from dns.rcode import Rcode
    return LookupResult(Rcode.NOERROR, (RR("_enactor-lock.x.", "TXT", 0, text),))


def _start(program: object, name: str = "enactor-1") -> CoroutineWorker:
    config = Config()
    return CoroutineWorker.start(name, program, config.layout, None,  # type: ignore[arg-type]
                                 EnactorSettings())


def test_two_histories_that_reach_the_same_coroutine_are_one_state() -> None:
    one = _start(ignores_what_it_reads).receive(_answer('"a"'), 0)
    other = _start(ignores_what_it_reads).receive(_answer('"b"'), 700)
    assert one != other  # their histories differ (the answer, the clock)
    assert one.state() == other.state()


def test_what_a_local_keeps_is_part_of_the_state() -> None:
    one = _start(keeps_what_it_reads).receive(_answer('"a"'), 0)
    other = _start(keeps_what_it_reads).receive(_answer('"b"'), 0)
    assert one.state() != other.state()


def test_the_state_of_a_value_whose_coroutine_moved_on_is_found_again_by_re_execution() -> None:
    worker = _start(keeps_what_it_reads).receive(_answer('"a"'), 0)
    twin = _start(keeps_what_it_reads).receive(_answer('"a"'), 0)
    worker.receive(_answer('"c"'), 0)  # spends its coroutine
    assert worker.state() == twin.state()


def test_a_local_that_is_not_a_value_is_named() -> None:
    worker = _start(holds_a_lock_of_its_own)
    with pytest.raises(Uncanonical, match=r"an asyncio\.locks\.Lock"):
        worker.state()
