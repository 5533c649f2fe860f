"""Replay files written before the scheduler was reshaped still replay to the identical trace,
in process and over real UDP (fixtures written by the code at 9808165)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reproducer import ReplayChoices, run_memory
from reproducer.running.replay import load_replay
from reproducer.running.transport import run_real
from reproducer.telling.narrate import trace_json
from tests.helpers import FIXTURES as ROOT_FIXTURES

FIXTURES = ROOT_FIXTURES / "replays"
CASES = sorted(p.name.removesuffix(".replay.json") for p in FIXTURES.glob("*.replay.json"))


def _expected(name: str) -> tuple[Any, bool]:
    replay_file = FIXTURES / f"{name}.replay.json"
    keep_going = bool(json.loads(replay_file.read_text())["keep_going"])
    want = json.loads((FIXTURES / f"{name}.trace.json").read_text())
    del want["choices"]  # the input, trailing zeros trimmed in the replay file
    return want, keep_going


def _same_fields(got: Any, want: Any) -> Any:
    """`got` restricted to the fields the fixture has (steps may carry more structure now)."""
    got = json.loads(json.dumps(got))  # tuples become lists, as in the fixture
    if isinstance(want, dict) and isinstance(got, dict):
        return {k: _same_fields(got.get(k), v) for k, v in want.items()}
    if isinstance(want, list) and isinstance(got, list):
        return [_same_fields(g, w) for g, w in zip(got, want, strict=False)] + got[len(want):]
    return got


def test_there_are_fixtures_for_every_variant() -> None:
    assert len(CASES) >= 11


@pytest.mark.parametrize("name", CASES)
def test_an_old_replay_file_gives_the_identical_trace_in_process(name: str) -> None:
    want, keep_going = _expected(name)
    replay = load_replay(FIXTURES / f"{name}.replay.json")
    got = trace_json(run_memory(replay.config, ReplayChoices(replay.choices),
                                stop_at_violation=not keep_going))
    assert _same_fields(got, want) == want


@pytest.mark.asyncio
@pytest.mark.parametrize("name", CASES)
async def test_an_old_replay_file_gives_the_identical_trace_over_real_udp(name: str) -> None:
    want, keep_going = _expected(name)
    replay = load_replay(FIXTURES / f"{name}.replay.json")
    got = trace_json(await run_real(replay.config, ReplayChoices(replay.choices),
                                    stop_at_violation=not keep_going))
    assert _same_fields(got, want) == want
