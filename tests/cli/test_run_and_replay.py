"""The `reproducer` command line: variants, run, replay, repair, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fake_dns.testing import ServerProcess
from reproducer import VARIANTS, Config, Simulation
from reproducer.running.transport import TsigKey


def script_choices(config: Config, workers: list[str]) -> tuple[int, ...]:
    """The choices that make workers[i] take step i+1 (a hand-written schedule by name)."""
    sim = Simulation(config, stop_at_violation=False)
    return tuple(sim.follow(workers, strict=True).choices)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reproducer", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


FOUND = 1  # the exit status of a run that broke an invariant (reproducer.cli.parsing)


STORY = (["planner"] + ["enactor-1"] * 2 + ["planner"] * 2 + ["enactor-2"] * 7
         + ["enactor-1"] * 4 + ["enactor-2"] * 2)


def test_variants_lists_every_variant_with_whether_it_is_meant_to_be_correct() -> None:
    out = cli("variants", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [v["name"] for v in listed] == list(VARIANTS)
    assert {v["name"]: v["correct"] for v in listed} == {
        "aws-2025": False, "recheck-before-write": False, "cleanup-checks-active": False,
        "cas-flip": True, "cas-guarded": True}
    text = cli("variants").stdout
    assert "aws-2025" in text and "correct: false" in text and "correct: true" in text


def test_run_saves_a_replay_file_that_replays_the_same_violation_over_real_dns(
        tmp_path: Path) -> None:
    config = Config(variant="aws-2025", plans=4, invariants=(1, 3))
    choices = ",".join(map(str, script_choices(config, STORY)))
    replay = tmp_path / "aws.replay.json"
    first = cli("run", "--plans", "4", "--invariants", "1,3", "--choices", choices,
                "--transport", "memory", "--save", str(replay), "--json",
                "--trace", str(tmp_path / "t1.json"), "--report", str(tmp_path / "r1.html"))
    assert first.returncode == FOUND, first.stderr
    summary = json.loads(first.stdout)
    assert summary["violation"]["invariant"] == 1 and summary["steps"] == 18

    again = cli("replay", str(replay), "--json", "--trace", str(tmp_path / "t2.json"),
                "--report", str(tmp_path / "r2.html"))
    assert again.returncode == FOUND, again.stderr
    replayed = json.loads(again.stdout)
    assert replayed["matches_expected"] is True
    assert replayed["violation"] == summary["violation"]
    steps1 = json.loads((tmp_path / "t1.json").read_text())["steps"]
    steps2 = json.loads((tmp_path / "t2.json").read_text())["steps"]
    assert steps1 == steps2

    narrated = cli("replay", str(replay), "--trace", str(tmp_path / "t3.json"),
                   "--report", str(tmp_path / "r3.html"))
    assert "VIOLATION: invariant 1 broken at step 18 on dynamodb" in narrated.stdout
    assert "UPDATE clean-up: delete the trees of g1, g2, release the lock -> NOERROR" \
        in narrated.stdout


def test_replaying_under_the_correct_fix_follows_the_same_workers_and_breaks_nothing(
        tmp_path: Path) -> None:
    config = Config(variant="aws-2025", plans=4, invariants=(1, 3))
    choices = ",".join(map(str, script_choices(config, STORY)))
    replay = tmp_path / "aws.replay.json"
    saved = cli("run", "--plans", "4", "--invariants", "1,3", "--choices", choices,
                "--transport", "memory", "--save", str(replay), "--trace", str(tmp_path / "a"),
                "--report", str(tmp_path / "a.html"))
    assert saved.returncode == FOUND, saved.stderr
    out = cli("replay", str(replay), "--variant", "cas-guarded", "--keep-going",
              "--trace", str(tmp_path / "t.json"), "--report", str(tmp_path / "t.html"))
    assert out.returncode == 0, out.stderr
    assert "replaying the interleaving of" in out.stdout and "under cas-guarded" in out.stdout
    trace = json.loads((tmp_path / "t.json").read_text())
    assert trace["violation"] is None and trace["completed"] is True
    assert [s["worker"] for s in trace["steps"][:5]] == STORY[:5]
    assert trace["steps"][-1]["endpoints"][0]["generation"] == 5


@pytest.mark.parametrize(("args", "message"), [
    (("run", "--variant", "nope"), "unknown variant 'nope'"),
    (("run", "--enactors", "0"), "--enactors 0: need between 1 and 9"),
    (("run", "--invariants", "5"), "--invariants (5,): choose among [1, 2, 3, 4]"),
    (("run", "--enactor", "no_such_module:X"), "cannot import 'no_such_module'"),
    (("run", "--enactor", "nocolon"), "expected the form package.module:ClassName"),
    (("run", "--dns", "127.0.0.1:1"), "--dns needs --tsig-key"),
])
def test_bad_flags_get_one_clear_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    out = cli(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "is not JSON"),
    ('{"format": "something-else"}', "is not a replay file"),
    ('{"format": "dns-race-reproducer/replay", "version": 9}', "version 9"),
    ('{"format": "dns-race-reproducer/replay", "version": 1, "config": {}, "choices": [-1]}',
     "non-negative integers"),
    ('{"format": "dns-race-reproducer/replay", "version": 1, "config": {"colour": 1}, '
     '"choices": []}', "unknown configuration keys ['colour']"),
])
def test_malformed_replay_files_get_one_clear_line_and_exit_2(
        tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    out = cli("replay", str(path), "--transport", "memory")
    assert out.returncode == 2
    assert message in out.stderr


def test_repair_restores_an_emptied_endpoint_on_a_running_fake_dns(tmp_path: Path) -> None:
    key = TsigKey("ops-key.", b"0123456789abcdef0123456789abcdef")
    config = Config(variant="aws-2025", plans=4, invariants=(1, 3))
    choices = ",".join(map(str, script_choices(config, STORY)))
    with ServerProcess(["--zone", "us-east-1.amazonaws.com", "--tsig-key", key.spec]) as server:
        dns = f"{server.host}:{server.port}"
        broken = cli("run", "--plans", "4", "--invariants", "1,3", "--choices", choices,
                     "--dns", dns, "--tsig-key", key.spec, "--json",
                     "--trace", str(tmp_path / "t.json"), "--report", str(tmp_path / "r.html"))
        assert broken.returncode == FOUND, broken.stderr
        assert json.loads(broken.stdout)["violation"]["invariant"] == 1
        repaired = cli("repair", "--dns", dns, "--tsig-key", key.spec, "--plans", "4")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert "NOERROR" in repaired.stdout
        assert "dynamodb.us-east-1.amazonaws.com. A -> NOERROR 127.0.0.11, 127.0.0.12, " \
               "127.0.0.13" in repaired.stdout


def test_a_users_own_enactor_runs_from_the_command_line(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(
        [sys.executable, "-m", "reproducer", "run", "--enactor",
         "tests.helpers.example_enactor:OneShotEnactor", "--enactors", "3", "--plans", "4",
         "--seed", "5",
         "--transport", "memory", "--keep-going", "--json", "--trace", str(tmp_path / "t.json"),
         "--report", str(tmp_path / "r.html")],
        capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["violation"] is None and summary["completed"] is True
    steps = json.loads((tmp_path / "t.json").read_text())["steps"]
    assert any("in one step" in s["action"] for s in steps)
    assert steps[-1]["endpoints"][0]["generation"] == 5


def test_a_users_own_enactor_passes_random_schedules_in_process() -> None:
    from reproducer import RandomChoices, run_memory

    config = Config(enactor="tests.helpers.example_enactor:OneShotEnactor", enactors=3, endpoints=2,
                    plans=4)
    for seed in range(30):
        result = run_memory(config, RandomChoices(seed))
        assert result.violation is None, result.violation
        assert result.completed
