"""Programs as enactors, end to end on the command line: the boto3 outage script and the shell
script caught by the default strategy, shrunk and replayed; the fix holding over sampled
schedules; and the contract's failures — a program that is not deterministic, one that falls
quiet, one that crashes — each named, with nothing left running afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_dns.testing import require_tool
from tests.helpers import ROOT
from tests.helpers.processes import alive, wait_until_gone
from tests.helpers.processes import marked as processes_marked

PYTHON = shlex.quote(sys.executable)
OUTAGE = f"{PYTHON} examples/programs/route53_enactor.py"
FIX = f"{OUTAGE} --flip cas"
SHELL = "sh examples/programs/nsupdate_enactor.sh"
HELPERS = "tests/helpers/programs"
FOUND, USAGE, INTERRUPTED = 1, 2, 130
MARK = "DNS_RACE_TEST_MARKER"  # set for each command a test runs, inherited by all it starts


def reproducer(*args: str, marker: str = "", timeout_s: float = 240
               ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **{MARK: marker})
    return subprocess.run([sys.executable, "-m", "reproducer", *args], capture_output=True,
                          text=True, timeout=timeout_s, cwd=ROOT, env=env)


def outputs(tmp_path: Path) -> list[str]:
    return ["--trace", str(tmp_path / "trace.json"), "--report", str(tmp_path / "run.html")]


def marked(marker: str, command: str | None = None) -> set[int]:
    """The live processes of the command a test ran with `marker`, and of everything it
    started (its spawners, programs and what they started), named `command` if given."""
    return alive(processes_marked(MARK, marker, command))


def none_left(marker: str, bound_s: float = 15.0) -> list[str]:
    """Poll until no marked process is left (or the bound passes); what is left, as
    "PID COMMAND LINE"."""
    left = wait_until_gone(processes_marked(MARK, marker), bound_s)
    described = []
    for pid in sorted(left):
        try:
            line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile
        described.append(f"{pid} {line.strip()}")
    return described


@pytest.fixture
def marker() -> Iterator[str]:
    tag = uuid.uuid4().hex
    yield tag
    for pid in marked(tag):  # never leave one behind, even when the test fails
        os.kill(pid, signal.SIGKILL)


def caught_shrunk_and_replayed(program: str, tmp_path: Path, marker: str) -> None:
    out = tmp_path / "story.json"
    found = reproducer("explore", "--program", program, "--enactors", "2", "--workers", "1",
                       "--database", str(tmp_path / "db"), "--shrink-budget", "5",
                       "--out", str(out), marker=marker)
    assert found.returncode == FOUND, found.stdout + found.stderr
    assert "hypothesis: invariant" in found.stdout and "minimised by" in found.stdout
    story = json.loads(out.read_text())
    assert story["config"]["program"] == program
    assert set(story["requests"]) == {"enactor-1", "enactor-2"}
    steps = story["expected"]["steps"]

    again = reproducer("replay", str(out), "--program", program, "--json",
                       *outputs(tmp_path), marker=marker)
    assert again.returncode == FOUND, again.stderr
    summary = json.loads(again.stdout)
    assert summary["matches_expected"] is True and summary["steps"] == steps
    assert summary["violation"]["invariant"] == story["expected"]["violation"]["invariant"]
    assert none_left(marker) == []


def test_the_boto3_outage_script_is_caught_by_the_default_strategy_and_its_story_replays(
        tmp_path: Path, marker: str) -> None:
    caught_shrunk_and_replayed(OUTAGE, tmp_path, marker)


def test_the_nsupdate_shell_script_is_caught_by_the_default_strategy_and_its_story_replays(
        tmp_path: Path, marker: str) -> None:
    for tool, package in (("dig", "bind9-dnsutils"), ("nsupdate", "bind9-dnsutils"),
                          ("curl", "curl"), ("jq", "jq")):
        require_tool(tool, package)
    caught_shrunk_and_replayed(SHELL, tmp_path, marker)


def test_the_boto3_fix_breaks_no_invariant_in_200_sampled_schedules(
        tmp_path: Path, marker: str) -> None:
    held = reproducer("explore", "--program", FIX, "--enactors", "2", "--workers", "1",
                      "--max-runs", "200", "--no-database", "--json", marker=marker)
    assert held.returncode == 0, held.stdout + held.stderr
    outcome = json.loads(held.stdout)
    assert outcome["found"] is False and outcome["executions"] == 200
    assert none_left(marker) == []


def test_a_program_that_asks_for_something_else_on_replay_is_named_with_both_requests(
        tmp_path: Path, marker: str) -> None:
    program = f"{PYTHON} {HELPERS}/random_query.py"
    saved = tmp_path / "random.json"
    first = reproducer("run", "--program", program, "--enactors", "1", "--save", str(saved),
                       "--invariants", "1", *outputs(tmp_path), marker=marker)
    assert first.returncode == 0, first.stderr
    again = reproducer("replay", str(saved), "--program", program, *outputs(tmp_path),
                       marker=marker)
    assert again.returncode == USAGE, again.stdout
    line = again.stderr.strip()
    assert "cannot replay exactly: enactor-1's 2nd request was query r" in line, line
    assert "the file has query r" in line and "not deterministic" in line
    assert none_left(marker) == []


def test_a_program_that_falls_quiet_is_named_with_what_it_last_received(
        tmp_path: Path, marker: str) -> None:
    program = f"{PYTHON} {HELPERS}/quiet.py"
    hung = reproducer("run", "--program", program, "--enactors", "1", "--quiet-timeout", "1",
                      *outputs(tmp_path), marker=marker)
    assert hung.returncode == USAGE, hung.stdout
    line = hung.stderr.strip()
    assert f"program {program!r} (--program) failed at step" in line, line
    assert "enactor-1" in line and "fell quiet" in line and "within 1 s" in line
    assert "after its 1st answer (g1)" in line  # what it last received: the plan list
    assert none_left(marker) == []


def test_a_program_that_crashes_fails_the_run_with_its_status_and_the_end_of_its_stderr(
        tmp_path: Path, marker: str) -> None:
    program = f"{PYTHON} {HELPERS}/crash.py"
    crashed = reproducer("run", "--program", program, "--enactors", "2", *outputs(tmp_path),
                         marker=marker)
    assert crashed.returncode == USAGE, crashed.stdout
    text = crashed.stderr
    assert "exited with status 1 after 1 request; its stderr ends:" in text, text
    assert "RuntimeError: crash.py: the plan store said too much" in text
    assert none_left(marker) == []


@contextlib.contextmanager
def _exploring_lingering_programs(tmp_path: Path, marker: str
                                  ) -> Iterator[subprocess.Popen[str]]:
    """`reproducer explore` over programs that leave children behind, once they run."""
    require_tool("curl", "curl")
    program = f"sh {HELPERS}/lingering.sh"
    env = dict(os.environ, **{MARK: marker})
    command = [sys.executable, "-m", "reproducer", "explore", "--program", program,
               "--strategy", "random", "--max-runs", "100000", "--workers", "1",
               "--out", str(tmp_path / "x.json")]
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, text=True) as explore:
        deadline = time.monotonic() + 60
        while not marked(marker, "sleep") and time.monotonic() < deadline:  # programs run
            time.sleep(0.1)
        assert marked(marker, "sleep"), "the programs never started"
        yield explore


def test_nothing_a_program_started_outlives_ctrl_c(tmp_path: Path, marker: str) -> None:
    with _exploring_lingering_programs(tmp_path, marker) as explore:
        explore.send_signal(signal.SIGINT)
        assert explore.wait(timeout=60) == INTERRUPTED
    assert none_left(marker, bound_s=5) == []


def test_nothing_a_program_started_outlives_its_command_killed_outright(
        tmp_path: Path, marker: str) -> None:
    with _exploring_lingering_programs(tmp_path, marker) as explore:
        explore.kill()  # no handler runs: the watchdog ends what it started
        explore.wait(timeout=30)
    assert none_left(marker) == []


def test_wild_runs_programs_free_with_faults_at_their_listeners_and_the_capture_replays(
        tmp_path: Path, marker: str) -> None:
    capture = tmp_path / "wild.json"
    wild = reproducer("wild", "--program", OUTAGE, "--enactors", "2", "--until-violation",
                      "--duration", "60", "--stall", "0.5:0.2", "--traffic", "0", "--plans",
                      "6", "--json", "--out", str(capture), marker=marker)
    assert wild.returncode == FOUND, wild.stdout + wild.stderr
    outcome = json.loads(wild.stdout)
    assert outcome["replayed"]["exact"], outcome["replayed"]
    again = reproducer("replay", str(capture), "--program", OUTAGE, "--json",
                       *outputs(tmp_path), marker=marker)
    assert again.returncode == FOUND, again.stderr
    assert json.loads(again.stdout)["matches_expected"] is True
    assert none_left(marker) == []
