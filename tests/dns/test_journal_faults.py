"""The journal under faults: a full disk (a file-size limit standing in for it) on the real
server process, and damaged lines found at start. Nothing acknowledged may be lost, nothing
refused may appear, no damaged line may be loaded, and no advice may lose updates."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import signal
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import dns.asyncquery
import dns.message
import dns.rcode
import pytest
from dns.rcode import Rcode

from fake_dns import Change, DNSClient, DNSClientError, Update, Zone, ZoneStore, read_journal
from fake_dns._journal import Journal, JournalError
from fake_dns.route53 import hosted_zone_id
from fake_dns.testing import ServerProcess

SECRET = b"0123456789abcdef0123456789abcdef"
KEY_B64 = base64.b64encode(SECRET).decode()
ZONE = "example.test."


def _flags(journal: Path, *extra: str) -> list[str]:
    return ["--zone", ZONE, "--tsig-key", f"k:{KEY_B64}", "--journal", str(journal),
            "--log-level", "WARNING", *extra]


def _update(n: int) -> Update:
    """Two changes, so that half an update would show."""
    return Update(ZONE, changes=(Change.add(f"n{n}.example.test.", "A", 60, "192.0.2.1"),
                                 Change.add(f"n{n}.example.test.", "TXT", 60, f'"update {n}"')))


def _limit_file_size(pid: int, size: int | None) -> None:
    """RLIMIT_FSIZE of the server: writes past `size` fail with EFBIG, as on a full disk,
    because the server ignores SIGXFSZ (Python does at start), so write() raises instead of
    the process being killed."""
    status = Path(f"/proc/{pid}/status").read_text()
    ignored = int(next(line for line in status.splitlines() if line.startswith("SigIgn:"))
                  .split()[1], 16)
    assert ignored & (1 << (signal.SIGXFSZ - 1)), "the server does not ignore SIGXFSZ"
    soft = resource.RLIM_INFINITY if size is None else size
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, resource.RLIM_INFINITY))


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fake_dns", "--listen", "127.0.0.1:0", *args],
                          capture_output=True, text=True, timeout=30)


def _write_journal(path: Path, updates: int) -> list[bytes]:
    """A journal written by the real writer (the store's durable log); returns its lines."""
    store = ZoneStore([Zone.empty(ZONE)])
    journal = Journal(path)
    journal.open()
    store.set_durable_log(journal.append)
    try:
        for n in range(updates):
            assert store.apply(_update(n), "k.").committed is not None
    finally:
        journal.close()
    return path.read_bytes().splitlines(keepends=True)


def _checksummed(payload: bytes) -> bytes:
    """A line in the journal's format (`_journal.py` rule 3): CRC-32 in hex, space, JSON."""
    return b"%08x " % zlib.crc32(payload) + payload + b"\n"


# -- a full disk, on the real server --------------------------------------------------------


@pytest.mark.asyncio
async def test_a_full_disk_answers_servfail_and_changes_neither_the_zone_nor_the_file(
        tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    with ServerProcess(_flags(journal), stderr_path=tmp_path / "log") as server:
        async with DNSClient(server.host, server.port, key_name="k", secret=SECRET,
                             timeout_s=3.0) as client:
            assert (await client.update(_update(0))).ok
            # The answer cache now holds NXDOMAIN for the name the next update adds.
            assert (await client.query("n1.example.test.", "A")).rcode == Rcode.NXDOMAIN
            whole = journal.read_bytes()
            _limit_file_size(server.pid, len(whole) + 40)  # room for less than a line
            reply = await client.update(_update(1))
            udp = await client.query("n1.example.test.", "A")
            tcp = await dns.asyncquery.tcp(dns.message.make_query("n1.example.test.", "A"),
                                           server.host, port=server.port, timeout=5)
            on_disk = journal.read_bytes()
            _limit_file_size(server.pid, None)  # room again: no restart needed
            again = await client.update(_update(1))
            after = await client.query("n1.example.test.", "A")
    assert reply.rcode == Rcode.SERVFAIL
    assert udp.rcode == Rcode.NXDOMAIN and tcp.rcode() == dns.rcode.NXDOMAIN
    assert on_disk == whole  # the partial line was cut back at once
    assert again.ok and after.addresses == ("192.0.2.1",)
    assert [u.serial for u in read_journal(journal)] == [2, 3]


@pytest.mark.asyncio
async def test_every_acknowledged_update_survives_a_full_disk_and_a_restart(
        tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    outcome: dict[int, str] = {}
    with ServerProcess(_flags(journal), stderr_path=tmp_path / "log") as server:
        async with DNSClient(server.host, server.port, key_name="k", secret=SECRET,
                             timeout_s=3.0) as client:
            for n in range(30):
                if n == 10:  # room for about three and a half more lines
                    size = journal.stat().st_size
                    _limit_file_size(server.pid, size + size * 35 // 100)
                if n == 20:
                    _limit_file_size(server.pid, None)
                try:
                    outcome[n] = (await client.update(_update(n))).rcode.name
                except DNSClientError:
                    outcome[n] = "no answer"
        server.kill()  # no clean shutdown
    with ServerProcess(_flags(journal), stderr_path=tmp_path / "log") as second:
        async with DNSClient(second.host, second.port) as client:
            soa = await client.query(ZONE, "SOA")
            present = {n: (bool((await client.query(f"n{n}.example.test.", "A")).answer),
                           bool((await client.query(f"n{n}.example.test.", "TXT")).answer))
                       for n in outcome}
    acked = [n for n, rcode in outcome.items() if rcode == "NOERROR"]
    assert set(outcome.values()) == {"NOERROR", "SERVFAIL"}, outcome
    assert all(present[n] == (True, True) for n in acked), (outcome, present)
    assert all(present[n] == (False, False) for n in outcome if n not in acked), \
        (outcome, present)
    assert int(soa.answer[0].rdata.split()[2]) == 1 + len(acked)


def test_a_route53_batch_the_journal_cannot_write_is_a_500_and_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Route 53 API commits through the same `ZoneStore.apply`, so it gets the journal's
    write-ahead too: InternalFailure (500) while the disk is full, and every batch it
    acknowledged there after a restart."""
    for name, value in {"AWS_ACCESS_KEY_ID": "enactor-1", "AWS_SECRET_ACCESS_KEY": "dummy",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    journal = tmp_path / "journal"

    def create(client: Any, name: str) -> None:
        client.change_resource_record_sets(HostedZoneId=hosted_zone_id(ZONE), ChangeBatch={
            "Changes": [{"Action": "CREATE", "ResourceRecordSet": {
                "Name": name, "Type": "A", "TTL": 60,
                "ResourceRecords": [{"Value": "192.0.2.5"}]}}]})

    def names(client: Any) -> list[str]:
        sets = client.list_resource_record_sets(HostedZoneId=hosted_zone_id(ZONE))
        return [s["Name"] for s in sets["ResourceRecordSets"] if s["Type"] == "A"]

    flags = _flags(journal, "--route53", "127.0.0.1:0")
    no_retries = botocore.config.Config(retries={"total_max_attempts": 1})
    with ServerProcess(flags, stderr_path=tmp_path / "log") as server:
        client = boto3.client("route53", endpoint_url=server.route53_url, config=no_retries)
        create(client, "a.example.test.")
        whole = journal.read_bytes()
        _limit_file_size(server.pid, len(whole) + 40)
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            create(client, "b.example.test.")
        listed_while_full = names(client)
        on_disk = journal.read_bytes()
        _limit_file_size(server.pid, None)
        create(client, "c.example.test.")
        server.kill()
    with ServerProcess(flags, stderr_path=tmp_path / "log") as second:
        client = boto3.client("route53", endpoint_url=second.route53_url, config=no_retries)
        after_restart = names(client)
    error = refused.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == \
        (500, "InternalFailure")
    assert "nothing was changed" in error["Error"]["Message"]
    assert listed_while_full == ["a.example.test."] and on_disk == whole
    assert after_restart == ["a.example.test.", "c.example.test."]


# -- damage found at start -------------------------------------------------------------------


def test_a_bit_flip_in_the_last_complete_line_is_refused_not_dropped(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    lines = _write_journal(journal, 3)
    last = bytearray(lines[2])
    last[last.index(b"update 2") - 1] ^= 0x01  # a quote becomes '#': no longer JSON
    journal.write_bytes(b"".join(lines[:2]) + bytes(last))
    result = _run_cli(*_flags(journal))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line
    assert "line 3 is damaged (its checksum does not match its contents)" in result.stderr
    assert "--journal-repair" in result.stderr and "remove" not in result.stderr
    assert journal.read_bytes() == b"".join(lines[:2]) + bytes(last)  # nothing was changed


def test_a_bit_flip_that_keeps_the_json_valid_is_caught_by_the_checksum(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    lines = _write_journal(journal, 2)
    flipped = lines[1].replace(b"192.0.2.1", b"192.0.2.3")  # '1' ^ 0x02: still valid data
    journal.write_bytes(lines[0] + flipped)
    with pytest.raises(JournalError, match="line 2 is damaged"):
        Journal(journal).replay(ZoneStore([Zone.empty(ZONE)]))


BAD_PAYLOADS = [
    ("nesting 100,000 deep", b"[" * 100_000 + b"]" * 100_000,
     "not a journal record (JSON nested too deeply)"),
    ("a 5,000-digit serial", b'{"zone":"example.test.","serial":' + b"9" * 5000 +
     b',"key":null,"changes":[]}', "not JSON"),
    ("a serial beyond 32 bits", json.dumps({
        "zone": ZONE, "serial": 10**30, "key": None,
        "changes": [["add", "a.example.test.", "A", 60, "192.0.2.1"]]}).encode(),
     "serial '1000000000000000000000000000000' is not an integer"),
    ("bytes that are not UTF-8", b'{"zone":"example.test.\xff"}', "not UTF-8"),
    ("an A record that is no address", json.dumps({
        "zone": ZONE, "serial": 3, "key": "k.",
        "changes": [["add", "a.example.test.", "A", 60, "999.1.1.1"]]}).encode(),
     "invalid A rdata '999.1.1.1'"),
    ("a TTL that is a float", json.dumps({
        "zone": ZONE, "serial": 3, "key": "k.",
        "changes": [["add", "a.example.test.", "A", 60.0, "192.0.2.1"]]}).encode(),
     "TTL '60.0' is not an integer"),
    ("a name that is a number", json.dumps({
        "zone": ZONE, "serial": 3, "key": "k.",
        "changes": [["add", 5, "A", 60, "192.0.2.1"]]}).encode(), "name '5' is not a string"),
    ("an unknown change kind", json.dumps({
        "zone": ZONE, "serial": 3, "key": "k.",
        "changes": [["upsert", "a.example.test.", "A", 60, "192.0.2.1"]]}).encode(),
     "change kind 'upsert' is not one of"),
]


@pytest.mark.parametrize(("what", "payload", "reason"), BAD_PAYLOADS,
                         ids=[case[0] for case in BAD_PAYLOADS])
def test_a_checksummed_line_with_bad_contents_gives_one_line_and_exit_status_2(
        tmp_path: Path, what: str, payload: bytes, reason: str) -> None:
    journal = tmp_path / "journal"
    lines = _write_journal(journal, 1)
    journal.write_bytes(lines[0] + _checksummed(payload))
    result = _run_cli(*_flags(journal))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert f"line 2 is damaged ({reason}" in result.stderr


def test_a_journal_from_before_checksums_is_read_and_bad_record_data_in_it_is_refused(
        tmp_path: Path) -> None:
    def legacy(serial: int, rdata: str) -> str:
        return json.dumps({"zone": ZONE, "serial": serial, "key": "k.",
                           "changes": [["add", f"s{serial}.example.test.", "A", 60, rdata]]})

    journal = tmp_path / "journal"
    journal.write_text(legacy(2, "192.0.2.2") + "\n" + legacy(3, "192.0.2.3") + "\n")
    store = ZoneStore([Zone.empty(ZONE)])
    assert Journal(journal).replay(store) == 2
    journal.write_text(legacy(2, "192.0.2.2") + "\n" + legacy(3, "not-an-address") + "\n")
    with pytest.raises(JournalError, match=r"line 2 is damaged .*invalid A rdata"):
        Journal(journal).replay(ZoneStore([Zone.empty(ZONE)]))


def test_new_lines_after_old_ones_carry_checksums_and_an_old_style_line_after_them_is_refused(
        tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    old_line = json.dumps({"zone": ZONE, "serial": 2, "key": "k.",
                           "changes": [["add", "old.example.test.", "A", 60, "192.0.2.1"]]})
    journal.write_text(old_line + "\n")
    store = ZoneStore([Zone.empty(ZONE)])
    writer = Journal(journal)
    writer.replay(store)
    writer.open()
    store.set_durable_log(writer.append)
    store.apply(_update(0), "k.")
    writer.close()
    assert [u.serial for u in read_journal(journal)] == [2, 3]
    assert journal.read_bytes().splitlines()[1][8:9] == b" "  # the checksum's separator
    with journal.open("a") as out:
        out.write(old_line.replace('"serial": 2', '"serial": 4') + "\n")
    with pytest.raises(JournalError, match=r"line 3 is damaged .*no checksum"):
        read_journal(journal)


def test_a_torn_last_line_without_newline_is_dropped_and_cut_off(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    lines = _write_journal(journal, 3)
    journal.write_bytes(b"".join(lines[:2]) + lines[2][:30])  # a crash mid-write
    store = ZoneStore([Zone.empty(ZONE)])
    reader = Journal(journal)
    assert reader.replay(store) == 2
    reader.open()
    reader.close()
    assert journal.read_bytes() == b"".join(lines[:2])


def test_journal_repair_serves_the_intact_updates_and_keeps_the_rest_beside_the_journal(
        tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    lines = _write_journal(journal, 4)
    damaged = lines[1].replace(b"update 1", b"update X")
    journal.write_bytes(lines[0] + damaged + lines[2] + lines[3])
    log_path = tmp_path / "log"
    with ServerProcess(_flags(journal, "--journal-repair"), stderr_path=log_path) as server:
        async def ask() -> list[bool]:
            async with DNSClient(server.host, server.port) as client:
                return [bool((await client.query(f"n{n}.example.test.", "TXT")).answer)
                        for n in range(4)]

        served = asyncio.run(ask())
    aside = tmp_path / "journal.damaged"
    assert served == [True, False, False, False]
    assert journal.read_bytes() == lines[0]
    assert aside.read_bytes() == damaged + lines[2] + lines[3]  # byte for byte, nothing lost
    assert f"now in {aside}" in log_path.read_text()
    # The repaired journal starts without the flag, and a second repair never overwrites.
    with ServerProcess(_flags(journal), stderr_path=log_path):
        pass
    journal.write_bytes(lines[0] + damaged)
    with ServerProcess(_flags(journal, "--journal-repair"), stderr_path=log_path):
        pass
    assert (tmp_path / "journal.damaged.1").read_bytes() == damaged
    assert aside.read_bytes() == damaged + lines[2] + lines[3]


def test_journal_repair_without_a_journal_is_a_usage_error() -> None:
    result = _run_cli("--zone", ZONE, "--journal-repair")
    assert result.returncode == 2
    assert result.stderr.strip() == ("fake-dns: error: --journal-repair needs --journal PATH "
                                     "(see fake-dns --help)")


def test_a_journal_on_other_zone_data_does_not_advise_removing_it(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    _write_journal(journal, 2)
    result = _run_cli("--zone", "other.test.", "--journal", str(journal))
    assert result.returncode == 2
    assert "another --journal path" in result.stderr and "remove" not in result.stderr
    assert os.path.getsize(journal) > 0
