"""All the cores of one machine: the samplers sharded over worker processes give one process's
verdict, first violating run and minimised story; every run is counted once; a worker that
dies is reported and its runs are made by the others; no worker process outlives its
exploration; --workers below 1 is one line and exit 2.

Each exploration here starts two worker processes, so the worlds are small and the
explorations few."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from reproducer import Config
from reproducer.cli import main
from reproducer.search import Strategy, explore, explore_bfs, explore_hypothesis
from reproducer.search.distributed.samples import Ledger, shard_samples
from reproducer.search.outcome import Exploration

BACKWARDS = Config(variant="aws-2025", enactors=2, plans=2)  # first violations within ~50 runs
CORRECT = Config(variant="cas-flip", enactors=2, plans=2)


def two_workers(strategy: str, config: Config, *, seed: int, max_runs: int, chunk_runs: int,
                progress: list[str] | None = None) -> tuple[Exploration, Ledger]:
    return shard_samples(strategy, config, workers=2, max_runs=max_runs, seed=seed, depth=3,
                         transport="memory", shrink=True, chunk_runs=chunk_runs,
                         progress=None if progress is None else progress.append)


def our_worker_processes() -> list[int]:
    """Pids of this process's children that are multiprocessing workers (from /proc, so a
    process that multiprocessing forgot about counts too; its resource tracker does not)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # it exited while we looked
        if ppid == os.getpid() and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_two_workers_give_the_verdict_first_run_and_minimised_story_of_one_process(
        strategy: Strategy) -> None:
    for seed in (1, 3):  # first violations at runs 7 and 13 (random), 6 and 8 (pct)
        one = explore(strategy, BACKWARDS, seed=seed, max_runs=500)
        # chunks of 2 runs: the first violating run is as likely to be the second worker's
        two, ledger = two_workers(strategy, BACKWARDS, seed=seed, max_runs=500, chunk_runs=2)
        assert one.found and two.found and one.result and two.result
        assert one.first_at is not None and two.first_at is not None
        assert two.first_at == one.first_at and two.executions == one.executions
        assert two.found_steps == one.found_steps
        assert two.result.choices == one.result.choices  # the minimised story
        assert two.result.steps == one.result.steps
        # every run up to the first violating one was made, once (a chunk handed out before
        # the parent heard of the violation may have made a few runs after it too)
        made = sorted(i for start, end in ledger.chunks for i in range(start, end))
        assert [i for i in made if i <= two.first_at] == list(range(1, two.first_at + 1))


def test_a_correct_fix_explored_with_two_workers_finds_nothing_and_counts_every_run_once(
        ) -> None:
    found, ledger = two_workers("random", CORRECT, seed=0, max_runs=300, chunk_runs=16)
    assert not found.found and found.executions == 300
    assert sum(ledger.runs_by_worker) == 300 and min(ledger.runs_by_worker) > 0
    covered = [i for start, end in ledger.chunks for i in range(start, end)]
    assert covered == list(range(1, 301))  # each index once, none left out
    assert ledger.lost == ()
    assert multiprocessing.active_children() == [] and our_worker_processes() == []


def test_a_worker_that_dies_is_named_in_one_line_and_its_runs_are_made_by_the_other() -> None:
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        if "worker processes" in line:  # the pool is up: kill its first worker
            first = min(multiprocessing.active_children(), key=lambda p: p.name)
            assert first.pid is not None
            os.kill(first.pid, signal.SIGKILL)

    found, ledger = shard_samples("random", CORRECT, workers=2, max_runs=200, seed=0, depth=3,
                                  transport="memory", progress=progress, shrink=True,
                                  chunk_runs=8)
    died = [line for line in lines if "died" in line]
    assert len(died) == 1 and died[0].startswith("random: worker 1 of 2 (pid ")
    assert "died with exit code -9" in died[0]
    assert ledger.lost == (0,)
    assert not found.found and found.executions == 200
    assert [i for s, e in ledger.chunks for i in range(s, e)] == list(range(1, 201))
    assert our_worker_processes() == []


def test_hypothesis_with_two_workers_finds_the_breadth_first_minimum() -> None:
    found = explore_hypothesis(BACKWARDS, max_runs=2_000, seed=0, database=None, workers=2)
    assert found.found and found.steps == explore_bfs(BACKWARDS).steps
    assert found.first_at is not None and found.executions >= found.first_at
    assert our_worker_processes() == []


@pytest.mark.parametrize("value", ["0", "-2"])
def test_workers_below_one_are_one_line_and_exit_2(
        value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["explore", "--strategy", "random", "--workers", value,
                 "--out", str(tmp_path / "cx.json")])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (f"reproducer: error: --workers {value}: need at least 1 worker process "
                   "(1 runs in this process, without starting any)\n")
