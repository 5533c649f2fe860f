"""`reproducer replay`: a saved schedule, run again (under its own configuration, or by worker
name under another)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reproducer.cli.parsing import Command, Report, UsageError, config_from_args
from reproducer.cli.runs import add_run_flags, execute
from reproducer.running.choices import FollowWorkers, ReplayChoices
from reproducer.running.replay import load_replay
from reproducer.running.simulation import run_memory

__all__ = ["COMMAND"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="a replay file written by explore or run --save")
    add_run_flags(p)


def main(args: argparse.Namespace, report: Report) -> int:
    replay = load_replay(args.file)
    config = config_from_args(args, replay.config)
    if config == replay.config:
        return execute(args, config, ReplayChoices(replay.choices), report, replay.expected)
    # Another configuration (say --variant cas-guarded): its workers take other steps, so
    # replay the same interleaving by worker name rather than by choice index.
    original = run_memory(replay.config, ReplayChoices(replay.choices))
    missing = sorted({s.worker for s in original.steps} - set(config.worker_names))
    if missing:
        raise UsageError(
            f"{args.file} schedules {', '.join(missing)}, which "
            f"{'does' if len(missing) == 1 else 'do'} not exist in this configuration "
            f"(workers: {', '.join(config.worker_names)}); the file was written with "
            f"--enactors {replay.config.enactors}: replay with at least that many")
    if not args.json:
        report(f"replaying the interleaving of {args.file} ({original.length} steps, by worker) "
               f"under {config.variant}")
    return execute(args, config, FollowWorkers([s.worker for s in original.steps]), report)


COMMAND = Command("replay", "replay a saved schedule", add_arguments, main)
