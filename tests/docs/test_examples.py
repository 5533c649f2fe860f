"""Every example of the README and the documentation pages runs as printed: python blocks as
programs or test modules, console blocks with their output compared (the rules are in
`tests.helpers.markdown`). A page whose example rots fails here."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.helpers.markdown import (
    RUN_KINDS,
    Block,
    blocks,
    commands,
    doc_pages,
    output_matches,
)

TIMEOUT_S = 120  # per command: every command that is run finishes in seconds

PAGES = [page for page in doc_pages()
         if any(b.kind in RUN_KINDS and b.not_run is None for b in blocks(page))]


def _environment() -> dict[str, str]:
    """As in the project directory after `source .venv/bin/activate`: this interpreter's
    scripts first on PATH, the project on PYTHONPATH (`examples.*`, `tests.helpers.*`)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "80"  # argparse wraps --help to the terminal's width
    env.pop("HYPOTHESIS_PROFILE", None)
    return env


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=_environment(), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=TIMEOUT_S, check=False)


def _run_python(block: Block, cwd: Path) -> None:
    name = f"{'test' if block.is_test_module else 'example'}_line_{block.line}.py"
    (cwd / name).write_text(block.text, encoding="utf-8")
    if block.is_test_module:
        # the suite's Hypothesis profile (tests/conftest.py), as the suite's own tests get
        (cwd / "conftest.py").write_text("import tests.conftest  # noqa: F401\n")
        done = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name], cwd)
    else:
        done = _run([sys.executable, name], cwd)
    assert done.returncode == 0, f"{block.where}: the example failed:\n{done.stdout}"


def _run_console(block: Block, cwd: Path) -> None:
    for command in commands(block):
        done = _run(["bash", "-c", command.command], cwd)
        if not output_matches(command.expected, done.stdout):
            diff = "\n".join(difflib.unified_diff(
                command.expected.splitlines(), done.stdout.splitlines(),
                "printed on the page", "printed by the command", lineterm=""))
            pytest.fail(f"{block.path.relative_to(ROOT)}:{command.line}: "
                        f"$ {command.command}\n{diff}")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_example_on_the_page_runs_as_printed(page: Path, tmp_path: Path) -> None:
    for block in blocks(page):
        if block.file is not None:
            (tmp_path / block.file).write_text(block.text, encoding="utf-8")
        elif block.not_run is not None or block.kind not in RUN_KINDS:
            continue
        elif block.kind == "python":
            _run_python(block, tmp_path)
        else:
            _run_console(block, tmp_path)


def test_the_pages_run_examples_of_every_kind() -> None:
    kinds = [(b.kind, b.is_test_module if b.kind == "python" else False)
             for page in PAGES for b in blocks(page) if b.not_run is None and b.file is None]
    assert {("python", True), ("python", False), ("console", False)} <= set(kinds)


def test_every_console_block_is_commands_and_their_output() -> None:
    for page in doc_pages():
        for block in blocks(page):
            if block.kind == "console":
                assert commands(block), f"{block.where}: a console block with no $ command"


def test_a_block_not_run_says_why() -> None:
    for page in doc_pages():
        for block in blocks(page):
            assert block.not_run != "", f"{block.where}: <!-- not run: --> needs a reason"


def test_dots_stand_for_any_text_in_a_line_and_a_line_of_dots_for_any_lines() -> None:
    assert output_matches("bfs: ... states\n...\ndone in ...s\n",
                          "bfs: 1,024 states\nprogress 1\nprogress 2\ndone in 0.4s\n")
    assert output_matches("a\n...\nb\n", "a\nb\n")
    assert output_matches("table  \n", "table\n\n")  # trailing spaces and blank lines


def test_output_that_differs_outside_the_dots_does_not_match() -> None:
    assert not output_matches("bfs: ... states\n", "bfs: 1,024 steps\n")
    assert not output_matches("a\nb\n", "a\nb\nc\n")
    assert not output_matches("  indented\n", "indented\n")


def test_a_page_is_read_into_blocks_with_their_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("text\n\n<!-- not run: takes minutes -->\n```console\n$ make reproduce\n"
                    "out\n```\n\n<!-- file: mine.py -->\n```python\nX = 1\n```\n\n"
                    "```console\n$ echo a \\\n  b\na b\n$ true\n```\n")
    first, second, third = blocks(page)
    assert (first.kind, first.not_run, first.line) == ("console", "takes minutes", 4)
    assert (second.kind, second.file, second.text) == ("python", "mine.py", "X = 1\n")
    assert [(c.command, c.expected) for c in commands(third)] == [
        ("echo a \\\n  b", "a b\n"), ("true", "")]
