"""Replay files: a schedule saved as JSON (configuration + variant + choices) that replays the
same trace, step for step, every time.

    {
      "format": "dns-race-reproducer/replay",
      "version": 1,
      "config": {"variant": "aws-2025", "enactors": 3, "endpoints": 1, ...},
      "choices": [0, 1, 0, 0, 2, ...],
      "expected": {"steps": 18, "violation": {"invariant": 1, "step": 18,
                                              "endpoint": "dynamodb"}}
    }

`choices` are indices into the ready workers at each decision where two or more were ready
(0 = the unsurprising move; see `_runtime.py`). Once they run out, every further choice is 0.
`expected` is what the run that wrote the file saw; replaying checks it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reproducer.running.trace import RunResult
from reproducer.world.config import Config, ConfigError

__all__ = ["FORMAT", "Replay", "ReplayFileError", "load_replay", "save_replay"]

FORMAT = "dns-race-reproducer/replay"
VERSION = 1


class ReplayFileError(ValueError):
    """The file is not a replay file this version can run; the message says why."""


@dataclass(frozen=True, slots=True)
class Replay:
    config: Config
    choices: tuple[int, ...]
    expected: dict[str, Any] | None = None


def _trim(choices: tuple[int, ...]) -> tuple[int, ...]:
    """Trailing zeros are implied (an exhausted replay chooses 0)."""
    end = len(choices)
    while end and choices[end - 1] == 0:
        end -= 1
    return choices[:end]


def replay_json(result: RunResult) -> dict[str, Any]:
    v = result.violation
    return {
        "format": FORMAT,
        "version": VERSION,
        "config": result.config.to_json(),
        "choices": list(_trim(result.choices)),
        "expected": {
            "steps": result.length,
            "violation": None if v is None else
            {"invariant": v.invariant, "step": v.step, "endpoint": v.endpoint},
        },
    }


def save_replay(path: Path, result: RunResult) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(replay_json(result), indent=2) + "\n")
    tmp.replace(path)  # atomic: a replay file is never half-written
    return path


def load_replay(path: Path) -> Replay:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ReplayFileError(f"cannot read replay file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayFileError(f"{path} is not JSON ({exc.msg} at line {exc.lineno}); a replay "
                              "file is written by `reproducer explore`") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReplayFileError(f"{path} is not a replay file: expected \"format\": \"{FORMAT}\"")
    if data.get("version") != VERSION:
        raise ReplayFileError(f"{path} has replay format version {data.get('version')!r}; "
                              f"this reproducer reads version {VERSION}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in choices):
        raise ReplayFileError(f"{path}: \"choices\" must be a list of non-negative integers, "
                              f"got {choices!r}")
    config_data = data.get("config")
    if not isinstance(config_data, dict):
        raise ReplayFileError(f"{path}: \"config\" must be an object, got {config_data!r}")
    try:
        config = Config.from_json(config_data)
    except (ConfigError, TypeError) as exc:
        raise ReplayFileError(f"{path}: bad configuration: {exc}") from None
    expected = data.get("expected")
    return Replay(config, tuple(choices), expected if isinstance(expected, dict) else None)
