"""`reproducer replay`: a saved schedule, run again (under its own configuration, or by worker
name under another)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reproducer.cli.parsing import Command, Report, config_from_args, trusted_code
from reproducer.cli.runs import add_run_flags, execute
from reproducer.running.choices import FollowWorkers, ReplayChoices
from reproducer.running.replay import load_replay, worker_schedule

__all__ = ["COMMAND"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="a replay file written by explore or run --save")
    p.add_argument("--trust-file", action="store_true",
                   help="run the user enactor or the program the file names (a file is data: "
                        "without this, --enactor NAME or --program COMMAND, one that names "
                        "code is refused)")
    add_run_flags(p)


def main(args: argparse.Namespace, report: Report) -> int:
    replay = load_replay(args.file, **trusted_code(args))
    config = config_from_args(args, replay.config)
    if config == replay.config:
        with replay.expecting():  # a program's requests, checked against the file's
            return execute(args, config, ReplayChoices(replay.choices), report,
                           replay.expected)
    # Another configuration (say --variant cas-guarded): its workers take other steps, so
    # replay the same interleaving by worker name rather than by choice index.
    names = worker_schedule(replay, config, path=args.file)
    if not args.json:
        report(f"replaying the interleaving of {args.file} ({len(names)} steps, by worker) "
               f"under {config.variant}")
    return execute(args, config, FollowWorkers(names), report)


COMMAND = Command("replay", "replay a saved schedule", add_arguments, main)
