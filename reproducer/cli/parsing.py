"""What every `reproducer` command shares: the exit statuses, the one-line usage error, the
parser that prints it instead of argparse's usage block, the configuration flags, and the
`Command` record each command module declares."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from reproducer.commands import CONFIG_FLAGS
from reproducer.programs import DEFAULT_QUIET_TIMEOUT_S
from reproducer.programs import settings as program_settings
from reproducer.running.files import output_path
from reproducer.world.config import Config
from reproducer.world.variants import VARIANTS

__all__ = ["EXIT_BOUNDED", "EXIT_FOUND", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_STATUSES",
           "EXIT_USAGE", "Command", "OneLineParser", "Report", "UsageError", "bounded",
           "config_from_args", "config_parent", "error_line", "host_port", "int_list",
           "output_file", "output_folder", "trusted_code"]

Report = Callable[[str], None]
"""Where a command prints its lines (`print`, or a list's `append` in tests)."""

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2
EXIT_BOUNDED = 3
EXIT_INTERRUPTED = 130

EXIT_STATUSES = """\
exit status:
  0    it ran and broke no invariant (explore: a sampler found nothing, bfs proved it, or,
       with --preemptions K, checked every schedule with at most K preemptions, a bounded
       proof its last line states; repair: the server applied it; story: the story was told;
       collapse: the fleet recovered, the map was drawn, or the search found nothing stuck)
  1    it ran and an invariant broke (explore found a counterexample, run or replay showed a
       violation), a replay did not match what its file expected, the server refused a
       repair, or the story failed; collapse: the fleet collapsed (goodput stayed low once DNS
       had been healthy), or the search found a configuration that collapses
  2    nothing was judged: a bad flag or file, or a DNS server that cannot be used as given
       (one line on stderr: "reproducer: error: ...")
  3    a breadth-first search stopped at a bound (--max-states, or --max-steps with moves
       left) before it finished: nothing found, and nothing proved (with --preemptions K,
       before every schedule with at most K preemptions was checked)
  130  interrupted (Ctrl-C)"""


class UsageError(Exception):
    """A bad flag value or input; `main` prints it as one line and exits 2."""


def error_line(message: str) -> str:
    return f"reproducer: error: {message}"


class OneLineParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line and exit status 2, naming the --help to
    read: `reproducer: error: unrecognized arguments: --bogus (see reproducer run --help)`.

    Subparsers are built from the same class (argparse uses type(self)), so a subcommand's
    errors name its own --help; the errors the root parser reports about a subcommand's line
    (unrecognised arguments) name the subcommand's too, found in the arguments it was given.
    """

    _argv: Sequence[str] = ()

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None,
                         ) -> tuple[argparse.Namespace, list[str]]:
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self._argv, namespace)

    def _help_hint(self) -> str:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                command = next((a for a in self._argv if a in action.choices), None)
                if command is not None:
                    return f"{self.prog} {command} --help"
        return f"{self.prog} --help"

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{error_line(message)} (see {self._help_hint()})\n")


@dataclass(frozen=True)
class Command:
    """One `reproducer` subcommand, as its module declares it (`COMMAND = Command(...)`).
    `configured` commands take the shared configuration flags (`config_parent`). A command
    with actions of its own (`reproducer collapse boundary`) may name the one it runs when its
    line starts with no action (`default_action`: `reproducer collapse --fleet 80,200`)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    main: Callable[[argparse.Namespace, Report], int]
    configured: bool = True
    default_action: str | None = None

    def with_default_action(self, argv: Sequence[str]) -> list[str]:
        """`argv` (starting with this command's name) with the default action put in where
        the line gives none: nothing, or a flag other than --help, follows the name."""
        line = list(argv)
        if self.default_action is None or line[:1] != [self.name]:
            return line
        rest = line[1:]
        if not rest or (rest[0].startswith("-") and rest[0] not in ("-h", "--help")):
            return [self.name, self.default_action, *rest]
        return line


def host_port(text: str) -> tuple[str, int]:
    """`HOST:PORT`'s type."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:5353")
    return host, int(port)


def int_list(text: str) -> tuple[int, ...]:
    """A comma-separated list of integers >= 0 (`--choices`, `--invariants`)."""
    items = [x.strip() for x in text.split(",")]
    if any(not x for x in items):
        raise argparse.ArgumentTypeError(f"{text!r}: an empty item; expected integers separated "
                                         "by single commas, e.g. 0,1,2")
    try:
        values = tuple(int(x) for x in items)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected integers separated by commas"
                                         ) from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: choices and invariants are >= 0")
    return values


def output_file(text: str) -> Path:
    """A file a command writes (`--out`, `--trace`, `--report`, `--save`): refused now when it
    cannot be written (a folder, a file in the way, no permission), not after the run."""
    return output_path(text)


def output_folder(text: str) -> Path:
    """A folder a command writes its files into (`story --out`), checked as `output_file`."""
    return output_path(text, directory=True)


def bounded(kind: Callable[[str], float], low: float, high: float) -> Callable[[str], Any]:
    """A number's type, refused outside `low..high`."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text}: need {low:g}..{high:g}")
        return value
    return parse


def config_parent() -> OneLineParser:
    default = Config()  # the defaults the help states are the ones a run uses
    p = OneLineParser(add_help=False)
    g = p.add_argument_group("configuration (shared by every subcommand)")
    g.add_argument("--variant", default=None,
                   help=f"enactor variant: {', '.join(VARIANTS)} (default {default.variant})")
    g.add_argument("--enactors", type=int, default=None,
                   help=f"number of enactors (default {default.enactors})")
    g.add_argument("--endpoints", type=int, default=None,
                   help=f"number of endpoints (default {default.endpoints})")
    g.add_argument("--keep-generations", type=int, default=None,
                   help=f"clean-up deletes plans older than applied - K "
                        f"(default {default.keep_generations})")
    g.add_argument("--plans", type=int, default=None,
                   help=f"generations the planner writes after g1 (default {default.plans})")
    g.add_argument("--max-steps", type=int, default=None,
                   help=f"step bound (default {default.max_steps})")
    g.add_argument("--invariants", type=int_list, default=None,
                   help=f"invariants that count, e.g. 1,3 "
                        f"(default {','.join(map(str, default.invariants))})")
    g.add_argument("--enactor", default=None, metavar="package.module:Name",
                   help="your own enactor class, e.g. tests.helpers.example_enactor:OneShotEnactor")
    g.add_argument("--program", default=None, metavar='"COMMAND ARGS"',
                   help="each enactor is a process running this command, unchanged, under the "
                        "scheduler (it finds DNS, Route 53 and the plan store in its "
                        "environment: docs/programs.md), e.g. "
                        "'python examples/programs/route53_enactor.py'")
    g.add_argument("--quiet-timeout", type=bounded(float, 0.1, 3600), default=None,
                   metavar="SECONDS",
                   help="--program: how long a program may take to send its next request (or "
                        f"exit) after an answer (default {DEFAULT_QUIET_TIMEOUT_S:g})")
    g.add_argument("--no-fork-server", action="store_true",
                   help="--program: start a `python SCRIPT` program as a fresh interpreter "
                        "each time, not forked from one with its imports loaded")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def config_from_args(args: argparse.Namespace, base: Config | None = None) -> Config:
    """Flags given on the command line override `base` (a replay file's configuration); a
    --program replaces a file's --enactor and the other way round. --quiet-timeout is set
    for the programs this command runs."""
    values: dict[str, Any] = (base or Config()).to_json()
    for name in CONFIG_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
            if name in ("program", "enactor"):
                values.pop("enactor" if name == "program" else "program", None)
    if getattr(args, "quiet_timeout", None) is not None:
        program_settings.quiet_timeout_s = args.quiet_timeout
    if getattr(args, "no_fork_server", False):
        program_settings.fork_server = False
    return Config.from_json(values)


def trusted_code(args: argparse.Namespace) -> dict[str, Any]:
    """What a replay file may name and be run (`load_replay`'s `trust_enactor`,
    `trust_program`): --trust-file, or the enactor or program given on the command line."""
    return {"trust_enactor": bool(getattr(args, "trust_file", False))
            or getattr(args, "enactor", None),
            "trust_program": getattr(args, "program", None)}
