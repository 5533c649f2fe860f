"""`reproducer variants`: the enactor variants, which are correct, and what each one does."""

from __future__ import annotations

import argparse
import json

from reproducer.cli.parsing import Command, Report
from reproducer.world.variants import VARIANTS

__all__ = ["COMMAND"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Only the shared flags (`--json`)."""


def main(args: argparse.Namespace, report: Report) -> int:
    if args.json:
        report(json.dumps([{"name": v.name, "correct": v.correct, "summary": v.summary}
                           for v in VARIANTS.values()], indent=2))
        return 0
    for v in VARIANTS.values():
        report(f"{v.name:<22} correct: {str(v.correct).lower():<5}  {v.summary}")
    return 0


COMMAND = Command("variants", "list the enactor variants", add_arguments, main)
