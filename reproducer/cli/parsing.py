"""What every `reproducer` command shares: the exit statuses, the one-line usage error, and the
parser that prints it instead of argparse's usage block."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["EXIT_FOUND", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_STATUSES", "EXIT_USAGE",
           "OneLineParser", "UsageError", "error_line"]

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

EXIT_STATUSES = """\
exit status:
  0    it ran and broke no invariant (repair: the server applied it; story: the story was told)
  1    it ran and an invariant broke (explore found a counterexample, run or replay showed a
       violation), a replay did not match what its file expected, the server refused a
       repair, or the story failed
  2    nothing was judged: a bad flag or file, or a DNS server that cannot be used as given
       (one line on stderr: "reproducer: error: ...")
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
