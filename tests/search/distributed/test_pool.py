"""The worker pool runs any module-level target with each worker's own payload and knows no
strategy: requests are answered until the parent says stop, a target's error is raised in the
parent, and no worker outlives the pool."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from reproducer.search.distributed.pool import (
    Channel,
    SharedInt,
    WorkerPool,
    answer_each,
    start_method,
)


def multiply(channel: Channel, factor: int, flag: SharedInt) -> None:
    """A target: each request times this worker's factor."""
    answer_each(channel, lambda n: n * factor)


def refuse(channel: Channel, why: str, flag: SharedInt) -> None:
    """A target that fails before it serves anything."""
    raise ValueError(why)


def answers(pool: WorkerPool[Any], count: int) -> dict[int, object]:
    got: dict[int, object] = {}
    while len(got) < count:
        for w, message in pool.wait(5.0):
            got[w] = message
    return got


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_each_worker_runs_the_target_with_its_own_payload_until_told_to_stop(
        method: str) -> None:
    with WorkerPool(multiply, [2, 3], "test", None, method) as pool:
        for w in range(2):
            pool.send(w, 7)
        assert answers(pool, 2) == {0: 14, 1: 21}
        pool.send(1, 10)
        assert answers(pool, 1) == {1: 30}
    assert [p.exitcode for p in pool.processes] == [0, 0]
    assert multiprocessing.active_children() == []


def test_a_target_that_raises_raises_in_the_parent_and_every_worker_is_stopped() -> None:
    with pytest.raises(ValueError, match="no share for you"), WorkerPool(
            refuse, ["no share for you"], "test", None, start_method()) as pool:
        answers(pool, 1)
    assert [p.exitcode for p in pool.processes] == [0]
    assert multiprocessing.active_children() == []
