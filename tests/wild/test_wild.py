"""The race in the wild: free-running enactors over real UDP, faults injected, captures replayed.

A wild run's timing is not ours to fix, so these tests assert on what does not depend on it:
what a capture replays to under the scheduler, and that a correct fix breaks nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reproducer.cli import main
from reproducer.running.replay import load_replay
from reproducer.search import memory_result
from reproducer.wild.faults import Faults, parse_stall
from reproducer.wild.run import WildSettings, run_wild
from reproducer.world.config import Config
from tests.helpers.processes import children

STRONG_STALL = ["--stall", "0.5:0.5", "--latency", "1", "--plan-interval", "0.02"]


def test_a_strong_stall_is_caught_in_the_wild_and_the_capture_replays_to_the_same_violation(
        tmp_path: Path) -> None:
    out = tmp_path / "wild.replay.json"
    lines: list[str] = []
    code = main(["wild", "--variant", "aws-2025", "--until-violation", "--duration", "30",
                 "--traffic", "0", "--json", "--out", str(out), *STRONG_STALL], lines.append)
    assert code == 1
    summary = json.loads(lines[-1])
    assert summary["found"] is True
    assert summary["replay"] == str(out)
    assert {"invariant", "plans_applied", "seconds", "requests_failed"} <= summary.keys()
    wild = summary["violation"]
    replayed = summary["replayed"]
    assert replayed["exact"] is True, replayed["why"]
    assert (replayed["invariant"], replayed["step"]) == (wild["invariant"], wild["step"])

    # The file replays to the same violation at the same step, by its choices and by name.
    replay = load_replay(out)
    assert replay.workers is not None and len(replay.workers) == wild["step"]
    again = memory_result(replay.config, replay.choices).violation
    assert again is not None
    assert (again.invariant, again.step, again.endpoint) == \
        (wild["invariant"], wild["step"], wild["endpoint"])

    # And it shrinks to a short story that still breaks the same kind of invariant.
    lines.clear()
    shrunk = tmp_path / "shrunk.json"
    assert main(["explore", "--from", str(out), "--json", "--out", str(shrunk)],
                lines.append) == 1
    story = json.loads(lines[-1])
    assert story["steps"] <= wild["step"]
    assert memory_result(load_replay(shrunk).config, load_replay(shrunk).choices).violation


@pytest.mark.parametrize("variant", ["cas-flip", "cas-guarded"])
def test_a_correct_fix_breaks_no_invariant_in_a_short_wild_run_under_heavy_faults(
        variant: str) -> None:
    config = Config(variant=variant, plans=8, max_steps=100_000)
    settings = WildSettings(duration_s=4.0, plan_interval_s=0.02,
                            faults=Faults(latency_ms=2.0, stall_prob=0.5, stall_s=0.3, seed=3))
    result = asyncio.run(run_wild(config, settings))
    assert result.violations == ()
    assert result.clients_saw == 0
    assert result.rounds_completed >= 1  # at least one round reached its newest plan
    assert result.plans_applied > 0


def test_a_stall_flag_out_of_range_is_one_line_and_exit_status_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wild", "--stall", "2:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--stall '2:1'" in err[0]
    with pytest.raises(ValueError, match="PROB:SECONDS"):
        parse_stall("often")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_ctrl_c_stops_a_wild_run_and_leaves_no_process_behind(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reproducer", "wild", "--duration", "60", "--traffic", "20",
         "--interval", "0.2", "--out", str(tmp_path / "w.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        kids: set[int] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # running, with its load balancers started
            line = proc.stdout.readline()
            assert line, f"wild exited early: {proc.stderr.read() if proc.stderr else ''}"
            kids = children(proc.pid)
            if line.startswith("t=") and kids and " requests 0 " not in line:
                break
        assert kids, "the load balancers' process never started"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{c}").exists()
                                                  for c in kids):
            time.sleep(0.05)
        assert not any(Path(f"/proc/{c}").exists() for c in kids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ctrl_c_after_violations_prints_the_summary_so_far_and_keeps_the_replay_file(
        tmp_path: Path) -> None:
    out = tmp_path / "w.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reproducer", "wild", "--variant", "aws-2025", "--duration", "60",
         "--traffic", "0", "--interval", "0.1", "--out", str(out), *STRONG_STALL],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:  # until a progress line counts a violation
            line = proc.stdout.readline()
            assert line, f"wild exited early: {proc.stderr.read() if proc.stderr else ''}"
            if line.startswith("t=") and " violations 0 " not in line:
                break
        else:
            pytest.fail("no violation caught within 45 s")
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        lines = rest.splitlines()
        assert any(line.startswith("violations: ") and not line.startswith("violations: 0")
                   for line in lines)
        assert f"replay file: {out}" in lines
        assert lines[-1] == "interrupted (Ctrl-C): the numbers above are those so far"
        assert load_replay(out).workers  # the capture was kept, whole
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_enactor_that_raises_in_the_wild_is_reported_as_run_reports_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["wild", "--enactor", "tests.helpers.async_enactors:raises_after_reading",
                 "--duration", "10", "--traffic", "0"], report=lambda line: None)
    err = capsys.readouterr().err
    assert code == 2
    first, *rest = err.splitlines()
    assert first.startswith("reproducer: error: enactor tests.helpers.async_enactors:"
                            "raises_after_reading (--enactor) failed at step ")
    assert " of round 1: enactor enactor-" in first and "raised ValueError" in first
    assert rest[0] == "Traceback (most recent call last):"  # its lines, not one escaped line
    assert rest[-1] == "ValueError: cannot handle 1 records"
