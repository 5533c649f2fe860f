"""Printed commands work as shown: `explore`, the story and the Hypothesis
schedules print this installation's `reproducer` script, which runs from the project directory
whether or not the reader activated the virtualenv (`python -m reproducer` does not)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from reproducer.commands import reproducer_command, shell_command

PROJECT = Path(__file__).resolve().parents[2]


def script_in(folder: Path) -> Path:
    folder.mkdir(parents=True)
    script = folder / "reproducer"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return folder


def test_a_script_below_the_current_directory_is_named_relative_to_it(tmp_path: Path) -> None:
    scripts = script_in(tmp_path / ".venv" / "bin")
    assert reproducer_command(tmp_path, scripts=scripts, search_path="") == \
        os.path.join(".venv", "bin", "reproducer")


def test_a_script_elsewhere_is_named_by_its_absolute_path_unless_path_finds_it(
        tmp_path: Path) -> None:
    scripts = script_in(tmp_path / "elsewhere" / "bin")
    project = tmp_path / "project"
    project.mkdir()
    assert reproducer_command(project, scripts=scripts, search_path="/nonexistent") == \
        str((scripts / "reproducer").resolve())
    assert reproducer_command(project, scripts=scripts, search_path=str(scripts)) == "reproducer"


def test_without_a_script_the_command_is_the_bare_name(tmp_path: Path) -> None:
    assert reproducer_command(tmp_path, scripts=tmp_path / "no-bin") == "reproducer"


def test_arguments_are_quoted_for_the_shell(tmp_path: Path) -> None:
    assert shell_command("replay", Path("reports/a b.json"), cwd=tmp_path).endswith(
        " replay 'reports/a b.json'")


def test_the_replay_command_explore_prints_runs_as_shown_without_an_activated_venv(
        tmp_path: Path) -> None:
    scripts = Path(sysconfig.get_path("scripts"))
    if not (scripts / "reproducer").is_file():
        pytest.skip("reproducer is not installed as a script next to this interpreter")
    # What a fresh shell has: PATH without the virtualenv, no VIRTUAL_ENV.
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and Path(p).resolve() != scripts.resolve())
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"PATH": path}
    out = tmp_path / "cx.json"
    found = subprocess.run(
        [sys.executable, "-m", "reproducer", "explore", "--strategy", "bfs", "--enactors", "2",
         "--plans", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=PROJECT, env=env)
    assert found.returncode == 1, found.stderr
    printed = found.stdout.splitlines()[-1].removeprefix("replay it:").strip()
    replayed = subprocess.run(
        f"{printed} --transport memory --trace {tmp_path / 't.json'} "
        f"--report {tmp_path / 'r.html'}",
        shell=True, capture_output=True, text=True, timeout=120, cwd=PROJECT, env=env)
    assert replayed.returncode == 1, replayed.stderr  # it reproduces the violation
    assert "VIOLATION: invariant" in replayed.stdout
