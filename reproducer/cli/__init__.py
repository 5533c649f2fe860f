"""The `reproducer` command line: the only place in the package that prints.

    reproducer variants [--json]
    reproducer run [--seed N | --choices 0,1,0] [--transport memory|real] [--save FILE]
    reproducer replay FILE [--transport memory|real] [--dns HOST:PORT --tsig-key NAME:SECRET]
    reproducer explore --strategy hypothesis|random|pct|pos|surw|bfs [--max-runs N] [--seed N]
    reproducer explore --from FILE            (shrink a replay file to the shortest story)
    reproducer wild [--duration S] [--until-violation] [--stall PROB:S] [--no-faults]
    reproducer repair --dns HOST:PORT --tsig-key NAME:SECRET [--addresses A,B]
    reproducer play [--port N]
    reproducer story
    reproducer collapse [boundary | model | run | search] [--policy P] [--hosts N] [--html F]

One module per command (`run.py`, `replay.py`, ...), each declaring its `COMMAND`; `parsing.py`
holds what they share; `runs.py` what `run` and `replay` share.

Configuration flags shared by every subcommand: --variant, --enactors, --endpoints,
--keep-generations, --plans, --max-steps, --invariants, --enactor package.module:Name.

Exit status, the same for every subcommand (`reproducer.cli.parsing.EXIT_STATUSES`):
0 it ran and broke no invariant (repair: applied; story: told; collapse: the fleet recovered,
or the map was drawn); 1 it ran and an invariant broke, a replay did not match its file, the
server refused a repair, the story failed, or (collapse) the fleet collapsed; 2 nothing
was judged: a bad flag or file, or a --dns server that cannot be used as given (one line on
stderr, "reproducer: error: ..."); 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version as _version
from typing import Any

from fake_dns import DNSClientError
from reproducer.cli import collapse, explore, play, repair, replay, run, story, variants, wild
from reproducer.cli.parsing import (
    EXIT_INTERRUPTED,
    EXIT_STATUSES,
    EXIT_USAGE,
    Command,
    OneLineParser,
    Report,
    UsageError,
    config_parent,
    error_line,
)
from reproducer.running.choices import ReplayDiverged
from reproducer.running.core import EnactorError
from reproducer.running.files import OutputError
from reproducer.running.replay import ReplayFileError
from reproducer.running.transport import DnsServerError
from reproducer.world.config import ConfigError

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: tuple[Command, ...] = (variants.COMMAND, run.COMMAND, replay.COMMAND, repair.COMMAND,
                                 explore.COMMAND, wild.COMMAND, play.COMMAND, story.COMMAND,
                                 collapse.COMMAND)

# Every --help ends with the exit statuses.
_EPILOG: dict[str, Any] = {"epilog": EXIT_STATUSES,
                           "formatter_class": argparse.RawDescriptionHelpFormatter}


def _print(line: str) -> None:
    print(line, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parent = config_parent()
    parser = OneLineParser(
        prog="reproducer",
        description="The October 2025 DynamoDB DNS race: racing enactors over real DNS.",
        **_EPILOG)
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {_version('dns-race-reproducer')}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, parents=[parent] if command.configured else [],
                           help=command.help, **_EPILOG)
        command.add_arguments(p)
        p.set_defaults(func=command.main)
    return parser


def main(argv: Sequence[str] | None = None, report: Report = _print) -> int:
    """Run one command; the exit status follows `EXIT_STATUSES`."""
    parser = build_parser()
    line = list(sys.argv[1:] if argv is None else argv)
    for command in COMMANDS:
        line = command.with_default_action(line)
    args = parser.parse_args(line)
    try:
        code: int = args.func(args, report)
        return code
    except (ConfigError, ReplayFileError, ReplayDiverged, UsageError, DnsServerError,
            EnactorError, OutputError) as exc:
        print(error_line(str(exc)), file=sys.stderr)
        return EXIT_USAGE
    except DNSClientError as exc:  # the server stopped answering during a run
        print(error_line(f"the DNS server stopped answering during the run: {exc}"),
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("reproducer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
