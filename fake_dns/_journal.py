"""The update journal: one checksummed line per committed update, on disk before it commits.

Rules
-----
- Rule 1, write-ahead: `Journal.append` is the store's durable log (`ZoneStore.set_durable_log`):
  `apply()` calls it with the update it is about to commit, before the zone changes, and
  commits only if it returns. It returns only after the whole line is written and fsync'd; the
  server answers after `apply()` returns, so an acknowledged update is on disk, and every
  writer of the store (UPDATE or any other API) gets this for going through `apply()`.
- Rule 2, a failed write leaves nothing: when write() or fsync() fails (a full disk, EFBIG at
  a file-size limit, EIO), `append` cuts the file back at once to the end of the last line that
  was written whole, then raises `OSError`; `apply()` answers SERVFAIL and changes nothing. If
  even the cut fails, every later `append` first tries the cut again and refuses (SERVFAIL)
  until it succeeds, so a partial line is never followed by another line. The server answers
  SERVFAIL exactly while it cannot write; it needs no restart once the disk has room.
- Rule 3, the line format: `CCCCCCCC {json}\\n`, where CCCCCCCC is the CRC-32 of the JSON bytes
  in lower-case hex and the JSON holds zone, serial, key and changes. One update is one line,
  written by one write() call when the disk allows.
- Rule 4, reading back: every line is checked before anything is replayed: its checksum, that
  it is UTF-8 JSON of the right shape (no traceback for deep nesting or huge numbers), and
  every name, type, TTL and rdata, validated as an UPDATE's are. Lines without a checksum
  (journals written before checksums) are read only at the start of the file, before the
  first checksummed line. The one damage dropped without a word of error is a torn write: a
  last line with no newline (a crash mid-write; it was never acknowledged, since the
  answer waits for fsync), logged and cut off when the journal is opened for appending. Any
  other damaged line, the last complete one included, stops the start with one line naming
  the line and what to do. A file cut short at a line boundary cannot be told from a shorter
  journal.
- Rule 5, repair keeps everything: `repair=True` (`fake-dns --journal-repair`) starts from the
  lines before the first damaged one and moves that line and every line after it, byte for
  byte, to a new file beside the journal (`<journal>.damaged`, `.damaged.1`, ...), fsync'd
  before the journal is cut. Nothing is deleted; the lines set aside can be read and sent
  again by hand.
- Rule 6, replay applies the recorded changes to the same starting zones, so each update
  commits again with the serial it had; a mismatch means the journal belongs to other zone
  data, which is an error the operator must see.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from fake_dns._records import Change, ChangeKind, Update, canonical_name
from fake_dns._zone import CommittedUpdate, ZoneStore

__all__ = ["Journal", "JournalError", "read_journal"]

log = logging.getLogger("fake_dns.journal")

_CHECKSUM_HEX = 8
_MAX_SERIAL = 2**32 - 1
_MAX_TTL = 0x7FFFFFFF  # RFC 2181 §8


class JournalError(Exception):
    """The journal cannot be read back onto these zones; the message says why and what to do."""


class _BadRecord(ValueError):
    """One line is not a valid journal record (the message says what is wrong with it)."""


def _encode(committed: CommittedUpdate) -> bytes:
    record = {
        "zone": committed.zone,
        "serial": committed.serial,
        "key": committed.key_name,
        "changes": [[c.kind.value, c.name, c.rtype, c.ttl, c.rdata] for c in committed.changes],
    }
    payload = json.dumps(record, separators=(",", ":")).encode()
    return b"%08x " % zlib.crc32(payload) + payload + b"\n"


def _int(value: object, what: str, maximum: int) -> int:
    if type(value) is not int or not 0 <= value <= maximum:
        raise _BadRecord(f"{what} {str(value)[:40]!r} is not an integer in 0..{maximum}")
    return value


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _BadRecord(f"{what} {str(value)[:40]!r} is not a string")
    return value


def _change(entry: object) -> Change:
    if not isinstance(entry, list) or len(entry) != 5:
        raise _BadRecord(f"change {str(entry)[:60]!r} is not [kind, name, type, ttl, rdata]")
    kind_text, name, rtype, ttl, rdata = entry
    try:
        kind = ChangeKind(kind_text)
    except ValueError:
        raise _BadRecord(f"change kind {str(kind_text)[:40]!r} is not one of "
                         f"{', '.join(k.value for k in ChangeKind)}") from None
    name = _str(name, "name")
    if kind is ChangeKind.DELETE_NAME:
        if rtype is not None or rdata is not None:
            raise _BadRecord(f"a {kind.value} change has no type and no rdata")
        return Change.delete_name(name)
    rtype = _str(rtype, "record type")
    if kind is ChangeKind.DELETE_RRSET:
        if rdata is not None:
            raise _BadRecord(f"a {kind.value} change has no rdata")
        return Change.delete_rrset(name, rtype)
    rdata = _str(rdata, "rdata")
    if kind is ChangeKind.DELETE_RR:
        return Change.delete_rr(name, rtype, rdata)
    return Change.add(name, rtype, _int(ttl, "TTL", _MAX_TTL), rdata)


def _decode(payload: bytes) -> CommittedUpdate:
    """One record, validated as an UPDATE is (names, types, TTLs, rdata); `_BadRecord` if not."""
    try:
        record = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _BadRecord(f"not UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise _BadRecord("not a journal record (JSON nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, and integers of more than 4,300 digits
        raise _BadRecord(f"not JSON ({str(exc)[:80]})") from None
    if not isinstance(record, dict) or set(record) != {"zone", "serial", "key", "changes"}:
        raise _BadRecord("not a journal record (expected zone, serial, key and changes)")
    changes = record["changes"]
    if not isinstance(changes, list) or not changes:
        raise _BadRecord("changes is not a non-empty list")
    key = record["key"]
    try:
        return CommittedUpdate(
            canonical_name(_str(record["zone"], "zone")),
            _int(record["serial"], "serial", _MAX_SERIAL),
            None if key is None else _str(key, "key"),  # who: a TSIG key, an access key id
            tuple(_change(entry) for entry in changes))
    except _BadRecord:
        raise
    except ValueError as exc:  # a name, type, TTL or rdata that an UPDATE could not carry
        raise _BadRecord(str(exc)) from None


def _parse_line(line: bytes, checksummed_seen: bool) -> tuple[CommittedUpdate, bool]:
    """(the update, whether the line had a checksum)."""
    if line.startswith(b"{"):
        if checksummed_seen:
            raise _BadRecord("it has no checksum, but lines before it have one")
        return _decode(line), False
    payload = line[_CHECKSUM_HEX + 1:]
    if line[:_CHECKSUM_HEX + 1] != b"%08x " % zlib.crc32(payload):
        raise _BadRecord("its checksum does not match its contents")
    return _decode(payload), True


@dataclass(frozen=True, slots=True)
class _Damage:
    line: int  # 1-based
    reason: str
    offset: int  # where the damaged line starts
    lines_after: int


@dataclass(frozen=True, slots=True)
class _Contents:
    updates: tuple[CommittedUpdate, ...]
    good_length: int  # bytes up to the end of the last good line
    torn_bytes: int  # a last line without newline (rule 4), or 0
    damage: _Damage | None


def _read(path: Path) -> _Contents:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _Contents((), 0, 0, None)
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    updates: list[CommittedUpdate] = []
    checksummed = False
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            return _Contents(tuple(updates), pos, len(data) - pos, None)
        try:
            update, had_checksum = _parse_line(data[pos:end], checksummed)
        except _BadRecord as exc:
            damage = _Damage(len(updates) + 1, str(exc), pos, data.count(b"\n", end + 1))
            return _Contents(tuple(updates), pos, 0, damage)
        checksummed |= had_checksum
        updates.append(update)
        pos = end + 1
    return _Contents(tuple(updates), pos, 0, None)


def read_journal(path: Path) -> tuple[CommittedUpdate, ...]:
    """Every update recorded in `path` (none if the file does not exist); `JournalError` if a
    line other than a torn last one is damaged."""
    contents = _read(path)
    if contents.damage is not None:
        raise JournalError(_damage_message(path, contents))
    return contents.updates


def _damage_message(path: Path, contents: _Contents) -> str:
    damage = contents.damage
    assert damage is not None
    after = f" and {damage.lines_after} more after it" if damage.lines_after else ""
    return (f"journal {path}: line {damage.line} is damaged ({damage.reason}); lines before it "
            f"hold {len(contents.updates)} intact updates{after}. Nothing was changed. To "
            f"serve the {len(contents.updates)} intact updates, start again with "
            "--journal-repair, which moves the damaged line and every line after it to "
            f"{_aside_path(path)} (nothing is deleted); or put back a copy of the journal")


def _aside_path(path: Path) -> Path:
    candidate = path.with_name(path.name + ".damaged")
    n = 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.damaged.{n}")
    return candidate


def _fsync_dir(path: Path) -> None:
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """An append-only journal file; `replay()` then `open()`, and `append` is the store's
    durable log. `repair=True` sets damaged lines aside instead of refusing them (rule 5)."""

    def __init__(self, path: Path, *, repair: bool = False) -> None:
        self.path = path
        self._repair = repair
        self._fd: int | None = None
        self._contents: _Contents | None = None
        self._length = 0  # bytes of whole lines in the file
        self._needs_cut = False  # a failed write may have left bytes after _length (rule 2)

    def _checked_contents(self) -> _Contents:
        if self._contents is None:
            contents = _read(self.path)
            if contents.damage is not None:
                if not self._repair:
                    raise JournalError(_damage_message(self.path, contents))
                self._set_aside(contents)
            self._contents = contents
        return self._contents

    def _set_aside(self, contents: _Contents) -> None:
        """Rule 5: copy the damaged tail beside the journal (durably), then cut it off."""
        damage = contents.damage
        assert damage is not None
        aside = _aside_path(self.path)
        try:
            tail = self.path.read_bytes()[damage.offset:]
            fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, tail)
                os.fsync(fd)
            finally:
                os.close(fd)
            _fsync_dir(aside)
            os.truncate(self.path, damage.offset)
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise JournalError(f"cannot repair journal {self.path} (moving line {damage.line} "
                               f"on to {aside}): {exc.strerror or exc}") from None
        log.warning("journal %s: line %d was damaged (%s); it and the %d lines after it "
                    "(%d bytes) are now in %s, and the journal holds the %d intact updates "
                    "before it", self.path, damage.line, damage.reason, damage.lines_after,
                    len(tail), aside, len(contents.updates))

    def replay(self, store: ZoneStore) -> int:
        """Apply every recorded update to `store`; returns how many. Call before `open()`."""
        contents = self._checked_contents()
        for n, committed in enumerate(contents.updates, 1):
            result = store.apply(Update(committed.zone, (), committed.changes),
                                 committed.key_name)
            if result.committed is None or result.serial != committed.serial:
                raise JournalError(
                    f"journal {self.path}: update {n} recorded serial {committed.serial} for "
                    f"{committed.zone} but replays as {result.rcode.name} serial "
                    f"{result.serial}: the journal was written over other zone data; start "
                    "with the --zone/--zone-file flags it was written with (or give another "
                    "--journal path to start afresh, keeping this one)")
        if contents.updates:
            log.info("journal %s: replayed %d updates", self.path, len(contents.updates))
        return len(contents.updates)

    def open(self) -> None:
        """Open for appending, first cutting off a torn last line (rule 4)."""
        contents = self._checked_contents()
        if contents.torn_bytes:
            log.warning("journal %s: cutting off a torn last line of %d bytes (a write cut "
                        "short by a crash; it was never acknowledged)", self.path,
                        contents.torn_bytes)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
            os.ftruncate(self._fd, contents.good_length)
            os.fsync(self._fd)
        except OSError as exc:
            raise JournalError(f"cannot write journal {self.path}: {exc.strerror or exc}") \
                from None
        self._length = contents.good_length

    def append(self, committed: CommittedUpdate) -> None:
        """Write and fsync one line (rule 1), or leave the file as it was and raise `OSError`
        (rule 2). The store's durable log: called inside `apply()`, before the commit."""
        if self._fd is None:
            raise RuntimeError("Journal.append before Journal.open()")
        if self._needs_cut:
            failure = self._cut_back()
            if failure:
                raise OSError(errno.EIO, f"journal {self.path} ends in a partial line that "
                                         f"cannot be cut off ({failure}); refusing updates "
                                         "until it can")
        line = _encode(committed)
        written = 0
        try:
            while written < len(line):
                # POSIX allows a short write; the next one then reports why (ENOSPC, EFBIG).
                count = os.pwrite(self._fd, line[written:], self._length + written)
                if count == 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                written += count
            os.fsync(self._fd)
        except OSError as exc:
            self._needs_cut = True
            failure = self._cut_back()
            also = f"; cutting it back failed too ({failure})" if failure else ""
            raise OSError(exc.errno, f"cannot write journal {self.path}: "
                                     f"{exc.strerror or exc}{also}") from None
        self._length += len(line)

    def _cut_back(self) -> str:
        """Cut the file to its whole lines (rule 2); returns why that failed, or ''."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._length)
            os.fsync(self._fd)
        except OSError as exc:
            return str(exc.strerror or exc)
        self._needs_cut = False
        return ""

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
