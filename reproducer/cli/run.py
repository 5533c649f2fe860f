"""`reproducer run`: one run from a seed or a list of choices."""

from __future__ import annotations

import argparse

from reproducer.cli.parsing import Command, Report, config_from_args, int_list, output_file
from reproducer.cli.runs import add_run_flags, execute
from reproducer.running.choices import ChoiceSource, RandomChoices, ReplayChoices

__all__ = ["COMMAND"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--seed", type=int, default=0, help="random scheduling seed (default 0)")
    g.add_argument("--choices", type=int_list, default=None,
                   help="scheduling choices, e.g. 0,1,0,2")
    p.add_argument("--save", type=output_file, default=None,
                   help="save the schedule as a replay file")
    add_run_flags(p)


def main(args: argparse.Namespace, report: Report) -> int:
    config = config_from_args(args)
    source: ChoiceSource = (ReplayChoices(args.choices) if args.choices is not None
                            else RandomChoices(args.seed))
    return execute(args, config, source, report)


COMMAND = Command("run", "one run from a seed or a list of choices", add_arguments, main)
