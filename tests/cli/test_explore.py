"""`reproducer explore`: replay file, narrated trace, replay command, --json, the
example database replaying a counterexample first, and the pytest fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reproducer import Config, ReplayChoices, Simulation, run_memory
from reproducer.cli import main
from reproducer.commands import shell_command
from reproducer.pytest_plugin import RunningDns
from reproducer.running.replay import load_replay
from reproducer.search import explore_bfs, explore_hypothesis
from tests.helpers import FIXTURES

SMALL = ["--enactors", "2", "--plans", "2"]


def _run(argv: list[str]) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = main(argv, report=lines.append)
    return code, lines


def test_explore_writes_the_replay_file_prints_the_story_and_the_command_to_replay_it(
        tmp_path: Path) -> None:
    out = tmp_path / "cx.json"
    code, lines = _run(["explore", "--strategy", "bfs", *SMALL, "--out", str(out)])
    assert code == 1
    assert any("enactor-1" in line and "UPDATE flip" in line for line in lines)
    assert lines[-1] == f"replay it:   {shell_command('replay', out)}"
    replay = load_replay(out)
    steps = run_memory(replay.config, ReplayChoices(replay.choices)).steps
    assert len(steps) == explore_bfs(replay.config).steps


@pytest.mark.parametrize("strategy", ["bfs", "random", "pct", "hypothesis"])
def test_explore_json_is_one_object_with_what_the_issue_asks_for(strategy: str,
                                                                 tmp_path: Path) -> None:
    code, lines = _run(["explore", "--strategy", strategy, *SMALL, "--json", "--no-database",
                        "--max-runs", "2000", "--out", str(tmp_path / "cx.json")])
    assert code == 1 and len(lines) == 1
    data = json.loads(lines[0])
    for key in ("strategy", "variant", "executions", "found", "invariant", "steps", "seconds"):
        assert key in data
    assert data["strategy"] == strategy and data["found"] is True and data["steps"] == 14
    assert ("states" in data) == (strategy == "bfs")


def test_explore_of_a_correct_fix_reports_nothing_found_and_how_much_was_explored(
        tmp_path: Path) -> None:
    code, lines = _run(["explore", "--strategy", "bfs", "--variant", "cas-flip",
                        "--enactors", "2", "--plans", "1", "--json"])
    assert code == 0
    data = json.loads(lines[0])
    assert data["found"] is False and data["exhausted"] is True and data["states"] > 100
    code, lines = _run(["explore", "--strategy", "random", "--variant", "cas-flip",
                        "--max-runs", "200"])
    assert code == 0 and "no invariant broken" in lines[-1] and "200 executions" in lines[-1]


def test_a_found_counterexample_is_replayed_first_by_the_next_hypothesis_run(
        tmp_path: Path) -> None:
    config = Config(variant="aws-2025", enactors=2, plans=2)
    first = explore_hypothesis(config, seed=1, database=tmp_path / "db")
    assert first.found and first.first_at is not None and first.first_at > 1
    again = explore_hypothesis(config, seed=2, database=tmp_path / "db")
    assert again.first_at == 1  # the database's example, before any generated one
    assert again.found_steps == first.steps == again.steps


def test_the_race_world_fixture_gives_a_fresh_world_each_call(
        race_world: Callable[[], Simulation]) -> None:
    one, two = race_world(), race_world()
    one.advance(ReplayChoices([1, 1, 1]))
    assert one.length > 0 and two.length == 0


@pytest.mark.asyncio
async def test_the_fake_dns_fixture_runs_the_world_over_real_udp_with_the_same_trace(
        fake_dns: RunningDns) -> None:
    choices = run_memory(fake_dns.config, ReplayChoices([0, 1, 2, 0, 1])).choices
    for _ in range(2):  # the second run starts from a reset zone
        real = await fake_dns.run(ReplayChoices(choices))
        assert real.steps == run_memory(fake_dns.config, ReplayChoices(choices)).steps


def test_a_breadth_first_search_cut_short_by_its_state_bound_exits_3_saying_it_proved_nothing(
        capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    code = main(["explore", "--strategy", "bfs", "--variant", "cas-flip", "--enactors", "2",
                 "--max-states", "100", "--workers", "1"], report=lines.append)
    assert code == 3
    assert lines[0].startswith("bfs: every schedule of cas-flip with 2 enactors and 3 plans, "
                               "up to 300 steps (--max-steps) and 100 states (--max-states)")
    assert lines[-1].startswith("NOT PROVED: the search stopped at 100 states")


def test_the_json_of_a_bounded_search_says_bounded_and_of_a_proof_says_proved(
        capsys: pytest.CaptureFixture[str]) -> None:
    verdicts = []
    for bound, status in (("100", 3), ("100000", 0)):
        lines: list[str] = []
        code = main(["explore", "--strategy", "bfs", "--variant", "cas-flip", "--enactors", "2",
                     "--plans", "1", "--max-states", bound, "--workers", "1", "--json"],
                    report=lines.append)
        assert code == status
        verdicts.append(json.loads(lines[-1])["verdict"])
    assert verdicts == ["bounded", "proved"]


AWS_FIXTURE = FIXTURES / "replays" / "aws-2025-shortest.replay.json"


def test_explore_from_a_file_under_another_variant_replays_its_interleaving_in_that_world(
        tmp_path: Path) -> None:
    lines: list[str] = []
    code = main(["explore", "--from", str(AWS_FIXTURE), "--variant", "cas-flip",
                 "--out", str(tmp_path / "x.json")], report=lines.append)
    assert code == 0  # the fix holds on this interleaving: a verdict, not an error
    assert "followed by worker under cas-flip breaks no invariant" in lines[-1]
    assert not (tmp_path / "x.json").exists()


def test_explore_from_a_file_in_its_own_world_shrinks_its_violation(tmp_path: Path) -> None:
    lines: list[str] = []
    code = main(["explore", "--from", str(AWS_FIXTURE), "--out", str(tmp_path / "x.json")],
                report=lines.append)
    assert code == 1 and (tmp_path / "x.json").exists()
    assert any(line.startswith("shortest story: ") for line in lines)


@pytest.mark.parametrize("flags", [["--strategy", "bfs"], ["--max-runs", "5"],
                                   ["--workers", "2"], ["--no-shrink"], ["--seed", "3"]])
def test_explore_from_a_file_refuses_the_flags_of_a_search_in_one_line(
        flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    code = main(["explore", "--from", str(AWS_FIXTURE), *flags], report=lines.append)
    err = capsys.readouterr().err
    assert code == 2 and lines == []
    assert err == (f"reproducer: error: --from shrinks the run of a replay file, it does not "
                   f"search: drop {flags[0]} (the configuration flags, such as --variant, do "
                   "apply: the file's interleaving is replayed in that world)\n")


@pytest.mark.parametrize(("address", "hint"), [
    ("http://127.0.0.1:8786", "Dask does not speak http:// (that is the dashboard's web address"),
    ("https://127.0.0.1:8787", "Dask does not speak https:// (that is the dashboard's"),
    ("ftp://127.0.0.1:8786", "Dask does not speak ftp://; give the scheduler's address"),
])
def test_a_cluster_address_with_a_scheme_dask_does_not_speak_is_one_line_at_once(
        address: str, hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explore", "--strategy", "bfs", "--cluster", address], report=print)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"--cluster {address}: {hint}" in err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_breadth_first_search_cut_by_the_step_bound_is_no_proof_either(workers: str) -> None:
    lines: list[str] = []
    code = main(["explore", "--strategy", "bfs", "--variant", "cas-flip", "--enactors", "2",
                 "--plans", "1", "--max-steps", "10", "--workers", workers, "--json"],
                report=lines.append)
    data = json.loads(lines[-1])
    assert code == 3
    assert (data["verdict"], data["exhausted"], data["steps_cut"]) == ("bounded", True, True)
    lines.clear()
    code = main(["explore", "--strategy", "bfs", "--variant", "cas-flip", "--enactors", "2",
                 "--plans", "1", "--max-steps", "10", "--workers", workers],
                report=lines.append)
    assert code == 3 and lines[-1].startswith("NOT PROVED: runs longer than 10 steps")


def test_a_bounded_proof_exits_0_and_says_what_it_checked_last_and_in_its_json() -> None:
    argv = ["explore", "--strategy", "bfs", "--variant", "cas-flip", "--enactors", "2",
            "--preemptions", "2", "--workers", "1"]
    lines: list[str] = []
    code = main(argv, report=lines.append)
    assert code == 0
    assert lines[0].startswith("bfs: every schedule with at most 2 preemptions (--preemptions) "
                               "of cas-flip with 2 enactors")
    assert any(line == "bfs: every schedule with at most 1 preemption checked: no invariant "
               "broken (723 states, 920 steps) (0s)" for line in lines)
    assert lines[-1].startswith("bounded proof: every schedule with at most 2 preemptions, and "
                                "none broke an invariant")
    lines.clear()
    assert main([*argv, "--json"], report=lines.append) == 0
    data = json.loads(lines[-1])
    assert (data["verdict"], data["checked"], data["preemptions"], data["exhausted"]) == (
        "bounded proof", "every schedule with at most 2 preemptions", 2, False)


def test_a_counterexample_under_a_bound_says_how_many_preemptions_it_needs(
        tmp_path: Path) -> None:
    lines: list[str] = []
    code = main(["explore", "--strategy", "bfs", "--enactors", "2", "--invariants", "1",
                 "--preemptions", "6", "--workers", "1", "--out", str(tmp_path / "cx.json")],
                report=lines.append)
    assert code == 1
    story = next(line for line in lines if "shortest story found" in line)
    assert "shortest story found: 18 steps" in story
    assert story.endswith("it needs 4 preemptions, and every schedule with at most 3 "
                          "preemptions was checked first")


def test_a_bounded_search_cut_by_the_state_bound_proves_nothing_at_its_bound() -> None:
    lines: list[str] = []
    code = main(["explore", "--strategy", "bfs", "--variant", "cas-flip", "--enactors", "2",
                 "--preemptions", "3", "--max-states", "500", "--workers", "1"],
                report=lines.append)
    assert code == 3
    assert lines[-1].startswith("NOT PROVED: the search stopped at 500 states (--max-states 500) "
                                "before it had checked every schedule with at most 3 "
                                "preemptions; every schedule with at most 0 preemptions was "
                                "checked")


def test_an_async_enactor_told_by_its_history_is_said_with_the_reason(tmp_path: Path) -> None:
    lines: list[str] = []
    main(["explore", "--strategy", "bfs", "--enactor",
          "tests.helpers.async_enactors:holds_a_lock_of_its_own", "--enactors", "2", "--plans", "2",
          "--workers", "1", "--out", str(tmp_path / "cx.json")], report=lines.append)
    assert ("bfs: enactor-1 was told by its history of answers, not by its state (a local holds "
            "an asyncio.locks.Lock): histories that reach the same state were not merged") in lines


def test_breadth_first_search_runs_in_one_process_unless_workers_asks_for_a_split() -> None:
    argv = ["explore", "--strategy", "bfs", "--variant", "cas-flip", "--enactors", "2",
            "--plans", "1", "--json"]
    lines: list[str] = []
    assert main(argv, report=lines.append) == 0
    assert json.loads(lines[-1])["workers"] == 1
    lines.clear()
    assert main([*argv, "--workers", "2"], report=lines.append) == 0
    assert json.loads(lines[-1])["workers"] == 2


@pytest.mark.parametrize(("enactor", "bound"), [
    (None, "30,000,000"), ("examples.cas_flip:enactor", "3,000,000"),
    ("tests.helpers.example_enactor:OneShotEnactor", "30,000,000")])
def test_the_default_state_bound_is_smaller_for_async_enactors_whose_states_weigh_more(
        enactor: str | None, bound: str) -> None:
    lines: list[str] = []
    argv = ["explore", "--strategy", "bfs", "--enactors", "2", "--plans", "1",
            "--max-steps", "12", "--no-database"]
    main([*argv, *(["--enactor", enactor] if enactor else [])], report=lines.append)
    assert f"and {bound} states (--max-states)" in lines[0]
    lines.clear()
    main([*argv, *(["--enactor", enactor] if enactor else []), "--max-states", "40000000"],
         report=lines.append)
    assert "and 40,000,000 states (--max-states)" in lines[0]
