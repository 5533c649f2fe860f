"""The files a run leaves (replay files, traces, reports): written whole or not at all.

- Rule 1: a file is written to a temporary file beside it and renamed over it, so a reader never
  sees half of one; when the write fails, the temporary file is removed and nothing is left.
- Rule 2: a place that cannot be written is one `OutputError`, naming the path and why, which a
  command prints as one line. `check_output` finds most such places before anything runs;
  `output_path` is the same check as a command-line flag's type, so a bad path is refused
  while the flags are read.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["OutputError", "check_output", "output_path", "write_atomically"]


class OutputError(Exception):
    """A file cannot be written where it was asked for."""


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_output(path: Path, *, directory: bool = False) -> None:
    """Raise `OutputError` when `path` (a file, or with `directory` a folder) cannot be written:
    a file asked for where a folder is (or the reverse), a folder that cannot be made because a
    file is in the way, or one this process may not write."""
    if path.exists():
        if directory and not path.is_dir():
            raise OutputError(f"{path} is a file, not a folder; give a folder (it is created "
                              "if missing)")
        if not directory and path.is_dir():
            raise OutputError(f"{path} is a folder; give a file name, e.g. {path / 'out.json'}")
    folder = path if directory else path.parent
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise OutputError(f"cannot write {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: no permission to write in {existing}")
    try:  # what access() cannot tell: a read-only file system, or a root that may not write
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".reproducer-probe.")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: cannot create files in {existing} "
                          f"({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def output_path(text: str, *, directory: bool = False) -> Path:
    """A flag's type for a file (or with `directory`, a folder) a command writes: refused by
    argparse, with `check_output`'s reason, when it cannot be written."""
    path = Path(text)
    try:
        check_output(path, directory=directory)
    except OutputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return path


def write_atomically(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` whole (Rule 1); its folder is created if missing."""
    check_output(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
