"""`reproducer`'s errors and exit statuses: a user's mistake is one
line on stderr and exit status 2, found before anything starts; a run that breaks an invariant
exits 1; every --help ends with the rule.

`SaysInsteadOfActs` below is the bad enactor the tests pass as `--enactor
tests.cli.test_errors:SaysInsteadOfActs` (pytest puts the project root on sys.path)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from reproducer import STRATEGIES, Config, RandomChoices, ReadNewestPlan, Simulation
from reproducer.cli import COMMANDS, main
from reproducer.running.core import EnactorError


@dataclass(frozen=True, slots=True)
class SaysInsteadOfActs:
    """Asks for the newest plan, then describes its next step instead of returning it."""

    name: str
    asked: bool = False

    @classmethod
    def create(cls, name: str, layout: object, variant: object, settings: object
               ) -> SaysInsteadOfActs:
        return cls(name)

    def next_action(self, now_ms: int) -> object:
        return "flip dynamodb to g2" if self.asked else ReadNewestPlan(0)

    def receive(self, result: object, now_ms: int) -> SaysInsteadOfActs:
        return replace(self, asked=True)


BAD_ENACTOR = "tests.cli.test_errors:SaysInsteadOfActs"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    """main(argv) in process: its exit status, what it reported, and its stderr."""
    lines: list[str] = []
    try:
        code = main(argv, report=lines.append)
    except SystemExit as exc:  # argparse's errors
        code = int(exc.code or 0)
    return code, lines, capsys.readouterr().err


def files(tmp_path: Path) -> list[str]:
    return ["--trace", str(tmp_path / "trace.json"), "--report", str(tmp_path / "run.html")]


# -- the command line --------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "line"), [
    (["run", "--bogus"],
     "reproducer: error: unrecognized arguments: --bogus (see reproducer run --help)"),
    (["explore", "--strategy", "dfs"],
     "reproducer: error: argument --strategy: invalid choice: 'dfs' (choose from "
     + ", ".join(repr(s) for s in STRATEGIES) + ") (see reproducer explore --help)"),
    (["replay"],
     "reproducer: error: the following arguments are required: file "
     "(see reproducer replay --help)"),
    ([], "reproducer: error: the following arguments are required: COMMAND "
         "(see reproducer --help)"),
])
def test_a_bad_flag_is_one_line_naming_the_help_to_read_not_the_usage_block(
        argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(argv, capsys)
    assert (code, err) == (2, line + "\n")


@pytest.mark.parametrize(("flags", "line"), [
    (["--max-runs", "0"], "--max-runs 0: need at least 1 execution"),
    (["--max-states", "0", "--strategy", "bfs"], "--max-states 0: need at least 1 state"),
    (["--depth", "0", "--strategy", "pct"],
     "--depth 0: PCT needs a depth of at least 1 (the empty record of the outage needs 4)"),
    (["--strategy", "bfs", "--transport", "real"],
     "--strategy bfs copies states, so it runs over --transport memory only; replay the "
     "counterexample it finds with --transport real"),
    (["--strategy", "bfs", "--reductions", "values,nope"],
     "--reductions 'values,nope': unknown nope; choose among bookkeeping, values, unread, dead, "
     "symmetry, por, glue, comma-separated, or 'none'"),
])
def test_explore_flags_that_cannot_work_are_one_line_and_exit_2_before_anything_starts(
        flags: list[str], line: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cx.json"
    code, lines, err = run(["explore", *flags, "--out", str(out)], capsys)
    assert (code, err) == (2, f"reproducer: error: {line}\n")
    assert lines == [] and not out.exists()


def test_the_max_steps_help_states_the_default_a_run_uses(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"step bound (default {Config().max_steps})" in help_text


@pytest.mark.parametrize("command", [[], *([c.name] for c in COMMANDS)])
def test_every_help_ends_with_the_exit_statuses(
        command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    epilog = text[text.index("exit status:"):]
    assert [line.split()[0] for line in epilog.splitlines()[1:] if line[:3].strip()] == \
        ["0", "1", "2", "3", "130"]


# -- exit statuses of runs ---------------------------------------------------------------------


def test_a_run_that_breaks_an_invariant_exits_1_and_one_that_does_not_exits_0(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = run(["run", "--transport", "memory", "--plans", "4", "--keep-going", "--seed", "0",
                  "--json", *files(tmp_path)], capsys)
    fixed = run(["run", "--transport", "memory", "--plans", "4", "--variant", "cas-guarded",
                 "--seed", "0", "--json", *files(tmp_path)], capsys)
    # The same seed, the same interleaving: under aws-2025 it empties the record.
    assert broken[0] == 1 and json.loads(broken[1][0])["found"] is True
    assert fixed[0] == 0 and json.loads(fixed[1][0])["found"] is False


def test_a_replay_that_does_not_give_what_its_file_expected_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "clean.json"
    code, _, _ = run(["run", "--transport", "memory", "--variant", "cas-guarded", "--save",
                      str(saved), *files(tmp_path)], capsys)
    assert code == 0
    data = json.loads(saved.read_text())
    data["expected"]["violation"] = {"invariant": 1, "step": 3, "endpoint": "dynamodb"}
    saved.write_text(json.dumps(data))
    code, lines, _ = run(["replay", str(saved), "--transport", "memory", *files(tmp_path)],
                         capsys)
    assert code == 1
    assert lines[-1].startswith("warning: the replay file expected {'invariant': 1")


# -- a bad enactor -----------------------------------------------------------------------------


def failing_step(config: Config, seed: int) -> int:
    """The step in which the bad enactor fails, found without the CLI."""
    sim = Simulation(config)
    with pytest.raises(EnactorError):
        sim.run(RandomChoices(seed))
    return sim.length + 1


@pytest.mark.parametrize("transport", ["memory", "real"])
def test_an_enactor_that_returns_a_non_action_is_one_line_naming_it_the_step_and_the_value(
        transport: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    step = failing_step(Config(enactor=BAD_ENACTOR), 0)
    code, lines, err = run(["run", "--enactor", BAD_ENACTOR, "--seed", "0", "--transport",
                            transport, *files(tmp_path)], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith(f"reproducer: error: enactor {BAD_ENACTOR} (--enactor) failed at "
                          f"step {step}: enactor-")
    assert "next_action returned 'flip dynamodb to g2', which is not an action" in err
    assert len(lines) == step - 1  # the steps it took before, narrated as they happened


def test_exploring_an_enactor_that_returns_a_non_action_is_one_line_naming_it_and_the_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["explore", "--enactor", BAD_ENACTOR, "--strategy", "random",
                        "--out", str(tmp_path / "cx.json")], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith(f"reproducer: error: enactor {BAD_ENACTOR} (--enactor) failed at "
                          "step ")
    assert "next_action returned 'flip dynamodb to g2', which is not an action" in err


# -- replaying under another configuration -----------------------------------------------------


def test_replaying_with_fewer_enactors_than_the_schedule_names_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "three.json"
    run(["run", "--transport", "memory", "--seed", "0", "--save", str(saved),
         *files(tmp_path)], capsys)
    code, lines, err = run(["replay", str(saved), "--enactors", "2", "--transport", "memory",
                            *files(tmp_path)], capsys)
    assert code == 2 and lines == []
    assert err == (f"reproducer: error: {saved} schedules enactor-3, which does not exist in "
                   "this configuration (workers: planner, enactor-1, enactor-2); the file was "
                   "written with --enactors 3: replay with at least that many\n")


def test_replaying_with_every_named_worker_present_follows_them_by_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "two.json"
    run(["run", "--transport", "memory", "--enactors", "2", "--seed", "0", "--save",
         str(saved), *files(tmp_path)], capsys)
    code, lines, err = run(["replay", str(saved), "--enactors", "3", "--transport", "memory",
                            *files(tmp_path)], capsys)
    assert err == ""
    assert code in (0, 1)
    assert lines[0].startswith(f"replaying the interleaving of {saved}")


def test_version_prints_the_installed_version_and_exits_0(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == "reproducer 0.1.0\n"
