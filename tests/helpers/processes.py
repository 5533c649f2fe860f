"""The process table, read from /proc: what a test checks to find nothing left behind."""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["alive", "children", "cpu_ticks", "descendants", "marked", "wait_until_gone"]


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def descendants(pid: int) -> set[int]:
    """Every process below `pid`."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def marked(variable: str, value: str, command: str | None = None) -> set[int]:
    """The processes whose environment holds `variable`=`value` (a test sets it for a command
    it runs: every process the command starts inherits it, however it is reparented when its
    parent dies, which `descendants` cannot follow); only those named `command`, if given."""
    needle = f"{variable}={value}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and (
                    command is None or (entry / "comm").read_text().strip() == command):
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` that still run (a zombie, dead but not yet reaped, does not count)."""
    out = set()
    for pid in pids:
        fields = _stat(pid)
        if fields is not None and fields[0] != "Z":
            out.add(pid)
    return out


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process, in clock ticks."""
    fields = _stat(pid)
    return 0 if fields is None else int(fields[11]) + int(fields[12])


def wait_until_gone(pids: set[int], bound_s: float) -> set[int]:
    """Poll until none of `pids` runs, for at most `bound_s`; those still running."""
    deadline = time.monotonic() + bound_s
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)
