"""Replay files are data: reading one never runs code the user did not ask for, and a damaged
or hostile file is one `ReplayFileError` line, never a traceback and never a run with values of
the wrong type."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reproducer import Config, ReplayFileError, load_replay
from tests.helpers import FIXTURES

GOOD = json.loads((FIXTURES / "replays" / "aws-2025-shortest.replay.json").read_text())

EVIL = '''
from pathlib import Path
Path("IMPORTED").write_text("the module ran")
from tests.helpers.example_enactor import OneShotEnactor as Enactor
'''


def _evil_replay(folder: Path) -> Path:
    (folder / "evil_enactor.py").write_text(EVIL)
    data = {**GOOD, "config": {**GOOD["config"], "enactor": "evil_enactor:Enactor"},
            "choices": [], "expected": None}
    path = folder / "shared.replay.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("command", [["replay"], ["explore", "--from"]])
def test_a_shared_replay_file_naming_a_module_beside_it_imports_nothing_without_consent(
        command: list[str], tmp_path: Path) -> None:
    path = _evil_replay(tmp_path)
    done = subprocess.run([sys.executable, "-m", "reproducer", *command, path.name,
                           "--transport", "memory"] if command == ["replay"] else
                          [sys.executable, "-m", "reproducer", *command, path.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]),
                               "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert done.stderr == (
        f"reproducer: error: {path.name} names the enactor evil_enactor:Enactor, Python code "
        "that replaying would import and run; if you trust it, say so: --enactor "
        "evil_enactor:Enactor (or --trust-file)\n")
    assert not (tmp_path / "IMPORTED").exists()


def test_trusting_the_file_or_naming_its_enactor_runs_it(tmp_path: Path) -> None:
    path = _evil_replay(tmp_path)
    for consent in (["--trust-file"], ["--enactor", "evil_enactor:Enactor"]):
        (tmp_path / "IMPORTED").unlink(missing_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "reproducer", "replay", path.name, "--transport", "memory",
             *consent], cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"})
        assert done.returncode in (0, 1), done.stderr
        assert (tmp_path / "IMPORTED").exists()


@pytest.mark.parametrize(("content", "message"), [
    (b"\xff\xfe{}", "is not UTF-8 text (byte 0)"),
    (b"[" * 100_000 + b"]" * 100_000, "its JSON is nested too deeply"),
    (b'{"format": "dns-race-reproducer/replay", "version": 1, "choices": [' + b"9" * 5000
     + b"]}", "is not a replay file: Exceeds the limit"),
    (json.dumps({**GOOD, "config": {**GOOD["config"], "enactors": 3.0}}).encode(),
     "bad configuration: 'enactors' must be an integer, got 3.0"),
    (json.dumps({**GOOD, "config": {**GOOD["config"], "enactor": 7}}).encode(),
     "bad configuration: 'enactor' must be a string or null, got 7"),
    (json.dumps({**GOOD, "choices": [0, 1.0]}).encode(),
     "\"choices\" must be a list of non-negative integers"),
    (json.dumps({**GOOD, "version": True}).encode(), "has replay format version True"),
    (json.dumps({**GOOD, "expected": {"steps": "18"}}).encode(), "\"expected\" must be"),
    (json.dumps({**GOOD, "expected": {"steps": 18, "violation": {"step": 1.5}}}).encode(),
     "\"expected\" must be"),
])
def test_a_damaged_or_hostile_file_is_one_line_saying_what_is_wrong(
        content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(ReplayFileError) as error:
        load_replay(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def _mutations() -> st.SearchStrategy[bytes]:
    text = json.dumps(GOOD).encode()

    def flip(data: bytes, at: int, value: int) -> bytes:
        at %= len(data)
        return data[:at] + bytes([value]) + data[at + 1:]

    def replace_value(path: list[str], value: Any) -> bytes:
        data: Any = json.loads(text)
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return json.dumps(data).encode()

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                    max_size=4), max_leaves=8)
    paths = st.sampled_from([["format"], ["version"], ["choices"], ["config"], ["expected"],
                             ["config", "variant"], ["config", "enactors"],
                             ["config", "plans"], ["config", "invariants"],
                             ["config", "max_steps"], ["expected", "steps"],
                             ["expected", "violation"]])
    return (st.builds(flip, st.just(text), st.integers(0, len(text)), st.integers(0, 255))
            | st.builds(replace_value, paths, json_values)
            | st.binary(max_size=200))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_mutations())
def test_any_mutated_file_is_refused_in_one_line_or_read_with_values_of_the_right_types(
        content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "mutated.json"
    path.write_bytes(content)
    try:
        replay = load_replay(path)
    except ReplayFileError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(replay.config, Config)
    assert all(type(c) is int and c >= 0 for c in replay.choices)
    for name in ("enactors", "endpoints", "plans", "max_steps", "keep_generations"):
        assert type(getattr(replay.config, name)) is int
