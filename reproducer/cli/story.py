"""`reproducer story` (`make reproduce`): the whole outage, live. Its world is fixed (the
outage's), so it takes no configuration flags."""

from __future__ import annotations

import argparse
from pathlib import Path

from reproducer.cli.parsing import Command, Report, output_folder
from reproducer.story import tell_story

__all__ = ["COMMAND"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=output_folder, default=Path("reports"),
                   help="where the report, trace and replay file go (default reports/)")


def main(args: argparse.Namespace, report: Report) -> int:
    return tell_story(args.out, report)


COMMAND = Command("story", "the whole outage, live: fleet, traffic, race, repair, fix",
                  add_arguments, main, configured=False)
