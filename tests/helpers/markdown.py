"""The examples of the README and the documentation pages, read out of their markdown.

Theory of operation
-------------------
A page's examples are its fenced code blocks. Three kinds are checked, the rest (``text``,
``json``, ``dns``, ...) are prose:

- ``python``: a program, run with this interpreter; or, when it defines a top-level
  ``test_*`` function, a test module, run with pytest. Either way it must exit 0.
- ``console``: ``$ command`` lines, each followed by the output it prints (stdout and stderr
  together, as a terminal shows them). A command ends at a line that does not end with ``\\``.
  The output is compared line by line, trailing spaces ignored, where ``...`` stands for any
  text within a line and a line of ``...`` alone for any number of lines (doctest's ELLIPSIS).

An HTML comment on the line before a block changes what is done with it:

- ``<!-- not run: REASON -->``: the block is not run (a command that takes minutes or needs a
  cluster, a sketch of a signature); its output was pasted from a real run. REASON is required.
- ``<!-- file: NAME -->``: the block is written to NAME in the page's working directory, for
  the blocks after it (a module that a ``console`` block's ``--enactor`` names).

The blocks of one page run in order in one fresh working directory, with the virtualenv's
scripts first on PATH (as after ``source .venv/bin/activate``) and the project directory on
PYTHONPATH (so ``examples.*`` and ``tests.helpers.*`` import, as from a checkout).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import ROOT

__all__ = ["Block", "Command", "blocks", "commands", "doc_pages", "output_matches"]

RUN_KINDS = ("python", "console")

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^`\n]*)$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<key>not run|file)\s*:\s*(?P<value>.*?)\s*-->\s*$")


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced code block of a page."""

    path: Path
    line: int  # of the opening fence, 1-based
    kind: str  # the fence's language, "" if none
    text: str
    not_run: str | None = None  # the reason given, when marked not to run
    file: str | None = None  # where to write it, when marked as a file

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def is_test_module(self) -> bool:
        """A python block that defines a top-level test function (run with pytest)."""
        tree = ast.parse(self.text)
        return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                   and node.name.startswith("test_") for node in tree.body)


@dataclass(frozen=True, slots=True)
class Command:
    """A ``$ command`` of a console block and the output printed under it."""

    line: int
    command: str
    expected: str


def doc_pages(root: Path = ROOT) -> list[Path]:
    """The README and every page of the documentation site."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a markdown file, with the marker before each, if any."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        end = i + 1
        while end < len(lines) and not (lines[end].strip().startswith(fence)
                                        and lines[end].strip().strip(fence[0]) == ""):
            end += 1
        body = "\n".join(line[indent:] for line in lines[i + 1:end])
        marker = _MARKER.match(lines[i - 1]) if i > 0 else None
        found.append(Block(
            path, i + 1, opening["info"].strip().split(" ")[0], body + "\n" if body else "",
            not_run=marker["value"] if marker and marker["key"] == "not run" else None,
            file=marker["value"] if marker and marker["key"] == "file" else None))
        i = end + 1
    return found


def commands(block: Block) -> list[Command]:
    """The commands of a console block, each with its expected output."""
    found: list[Command] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"{block.where}: a console block's line {i + 1} is output with no "
                             f"command before it: {lines[i]!r}")
        start = i
        parts = [lines[i][2:]]
        while parts[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            parts.append(lines[i])
        i += 1
        output = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        found.append(Command(block.line + 1 + start, "\n".join(parts),
                             "".join(line + "\n" for line in output)))
    return found


def _pattern(expected: str) -> re.Pattern[str]:
    parts = []
    for line in expected.splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(map(re.escape, line.rstrip().split("..."))) + r"\n")
    return re.compile("".join(parts))


def _normal(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "".join(line + "\n" for line in lines)


def output_matches(expected: str, actual: str) -> bool:
    """Whether `actual` is what `expected` shows, with its wildcards (see the module doc)."""
    return _pattern(_normal(expected)).fullmatch(_normal(actual)) is not None
