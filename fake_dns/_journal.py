"""The update journal: one JSON line per committed update, fsync'd before the answer is sent.

Rules
-----
- Rule 1: `Journal.append` runs as a `ZoneStore` subscriber, i.e. synchronously inside
  `apply()`, and returns only after write() and fsync() of the whole line. The server sends the
  answer after `apply()` returns, so an acknowledged update is on disk.
- Rule 2: one update is one line, written by one write() call. A SIGKILL can at worst leave a
  torn last line (no trailing newline, or not valid JSON); `read_journal` ignores it and
  `Journal.open` cuts it off before appending, so a half update is never replayed.
- Rule 3: replay applies the recorded changes (only those that changed the zone) to the same
  starting zones, so each update commits again with the serial it had; a mismatch means the
  journal belongs to other zone data, which is an error the operator must see.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from fake_dns._records import Change, ChangeKind, Update
from fake_dns._zone import CommittedUpdate, ZoneStore

__all__ = ["Journal", "JournalError", "read_journal"]

log = logging.getLogger("fake_dns.journal")


class JournalError(Exception):
    """The journal cannot be read back onto these zones."""


def _encode(committed: CommittedUpdate) -> bytes:
    record = {
        "zone": committed.zone,
        "serial": committed.serial,
        "key": committed.key_name,
        "changes": [[c.kind.value, c.name, c.rtype, c.ttl, c.rdata] for c in committed.changes],
    }
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def _decode(line: bytes) -> CommittedUpdate:
    record = json.loads(line)
    changes = tuple(Change(ChangeKind(kind), name, rtype, ttl, rdata)
                    for kind, name, rtype, ttl, rdata in record["changes"])
    return CommittedUpdate(record["zone"], int(record["serial"]), record["key"], changes)


@dataclass(frozen=True, slots=True)
class _Contents:
    updates: tuple[CommittedUpdate, ...]
    good_length: int  # bytes up to the end of the last complete line


def _read(path: Path) -> _Contents:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _Contents((), 0)
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    updates: list[CommittedUpdate] = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            log.warning("journal %s: ignoring a torn last line of %d bytes", path, len(data) - pos)
            break
        try:
            updates.append(_decode(data[pos:end]))
        except (ValueError, KeyError, TypeError) as exc:
            if end + 1 == len(data):  # the last line: a torn write that happens to end in \n
                log.warning("journal %s: ignoring an unreadable last line: %s", path, exc)
                break
            raise JournalError(f"journal {path}: line {len(updates) + 1} is corrupt ({exc}); "
                               "it is not the last line, so this is not a torn write: "
                               "inspect or remove the file") from None
        pos = end + 1
    return _Contents(tuple(updates), pos)


def read_journal(path: Path) -> tuple[CommittedUpdate, ...]:
    """Every complete update recorded in `path` (none if the file does not exist)."""
    return _read(path).updates


class Journal:
    """An append-only journal file; `open()` replays it onto a store and starts recording."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def replay(self, store: ZoneStore) -> int:
        """Apply every recorded update to `store`; returns how many. Call before `open()`."""
        contents = _read(self.path)
        for n, committed in enumerate(contents.updates, 1):
            result = store.apply(Update(committed.zone, (), committed.changes),
                                 committed.key_name)
            if result.committed is None or result.serial != committed.serial:
                raise JournalError(
                    f"journal {self.path}: update {n} recorded serial {committed.serial} for "
                    f"{committed.zone} but replays as {result.rcode.name} serial "
                    f"{result.serial}: the journal was written over other zone data; start "
                    "with the same --zone/--zone-file flags or remove the journal")
        if contents.updates:
            log.info("journal %s: replayed %d updates", self.path, len(contents.updates))
        return len(contents.updates)

    def open(self) -> None:
        """Open for appending, first cutting off a torn last line (rule 2)."""
        good = _read(self.path).good_length
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
            os.ftruncate(self._fd, good)
            os.lseek(self._fd, 0, os.SEEK_END)
        except OSError as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc.strerror or exc}") \
                from None

    def append(self, committed: CommittedUpdate) -> None:
        """Write and fsync one line (rule 1). A store subscriber: called inside `apply()`."""
        if self._fd is None:
            raise RuntimeError("Journal.append before Journal.open()")
        line = _encode(committed)
        written = os.write(self._fd, line)
        if written != len(line):  # a full disk: make it loud, the update is not durable
            raise OSError(f"journal {self.path}: short write ({written} of {len(line)} bytes)")
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
