"""The command line and the journal: flags, keys, zone files, clean stops, SIGKILL safety."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fake_dns import (
    Change,
    ConfigError,
    DNSClient,
    DNSClientError,
    Update,
    Zone,
    ZoneStore,
    parse_tsig_key,
)
from fake_dns._config import load_key_file, load_zone_file
from fake_dns._journal import Journal, JournalError, read_journal
from fake_dns.testing import ServerProcess

SECRET = b"0123456789abcdef0123456789abcdef"
KEY_B64 = base64.b64encode(SECRET).decode()
ZONE = "example.test."

ZONE_FILE = """\
$ORIGIN example.test.
$TTL 300
@       IN SOA ns1 hostmaster ( 7 3600 600 86400 60 )
        IN NS  ns1
ns1     IN A   127.0.0.1
www  60 IN A   192.0.2.1
        IN AAAA 2001:db8::1
alias   IN CNAME www
txt     IN TXT "two words" "and more"
"""


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fake_dns", *args], capture_output=True,
                          text=True, timeout=30, env={**os.environ, **(env or {})})


# -- configuration, pure ---------------------------------------------------------------------


def test_a_zone_file_in_master_format_loads_with_relative_names_and_ttls(tmp_path: Path) -> None:
    path = tmp_path / "example.test.zone"
    path.write_text(ZONE_FILE)
    zone = load_zone_file(path)
    assert zone.origin == ZONE and zone.serial == 7
    assert [rr.to_text() for rr in zone.rrset("www.example.test.", "A")] == [
        "www.example.test. 60 IN A 192.0.2.1"]
    assert zone.rrset("alias.example.test.", "CNAME")[0].rdata == "www.example.test."
    assert zone.rrset("txt.example.test.", "TXT")[0].rdata == '"two words" "and more"'


def test_a_zone_file_without_origin_takes_it_from_its_file_name(tmp_path: Path) -> None:
    path = tmp_path / "example.test.zone"
    path.write_text(ZONE_FILE.replace("$ORIGIN example.test.\n", ""))
    assert load_zone_file(path).origin == ZONE


def test_a_zone_file_without_soa_is_rejected_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "bad.zone"
    path.write_text("$ORIGIN bad.\nwww 60 IN A 192.0.2.1\n")
    with pytest.raises(ConfigError, match=r"bad\.zone"):
        load_zone_file(path)


@pytest.mark.parametrize(("spec", "name"), [
    (f"enactor:{KEY_B64}", "enactor."),
    (f"hmac-sha256:Enactor.Example.:{KEY_B64}", "enactor.example."),
])
def test_a_tsig_key_flag_is_name_colon_base64(spec: str, name: str) -> None:
    assert parse_tsig_key(spec) == (name, SECRET)


@pytest.mark.parametrize("spec", ["nocolon", "name:", ":abc", "name:not base64!"])
def test_a_malformed_tsig_key_flag_is_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_tsig_key(spec)


def test_a_bind_key_file_from_tsig_keygen_is_read(tmp_path: Path) -> None:
    path = tmp_path / "enactor.key"
    path.write_text(f'key "enactor" {{\n\talgorithm hmac-sha256;\n\tsecret "{KEY_B64}";\n}};\n')
    assert load_key_file(path) == {"enactor.": SECRET}


def test_a_key_file_with_another_algorithm_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "md5.key"
    path.write_text(f'key "old" {{ algorithm hmac-md5; secret "{KEY_B64}"; }};\n')
    with pytest.raises(ConfigError, match="hmac-md5"):
        load_key_file(path)


# -- the command line ------------------------------------------------------------------------


def test_a_bad_flag_gives_one_line_and_exit_status_2() -> None:
    result = run_cli("--zone", ZONE, "--listen", "nonsense")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "HOST:PORT" in result.stderr


def test_an_unreadable_zone_file_gives_one_line_and_exit_status_2(tmp_path: Path) -> None:
    result = run_cli("--zone-file", str(tmp_path / "missing.zone"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"fake-dns: error: cannot read zone file {tmp_path / 'missing.zone'}: "
        "No such file or directory"]


def test_a_port_in_use_gives_one_line_and_exit_status_2() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = run_cli("--zone", ZONE, "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert lines == [f"fake-dns: error: cannot listen on 127.0.0.1:{port}: "
                     "Address already in use"]


def test_the_server_stops_cleanly_on_sigterm_and_sigint() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        server = ServerProcess(["--zone", ZONE])
        server.start()
        assert server.process is not None
        server.process.send_signal(sig)
        assert server.process.wait(timeout=20) == 0
        server.stop()


@pytest.mark.asyncio
async def test_the_key_in_the_environment_variable_authorises_updates() -> None:
    with ServerProcess(["--zone", ZONE], env={"FAKE_DNS_TSIG_KEY": f"envkey:{KEY_B64}"}) as srv:
        async with DNSClient(srv.host, srv.port, key_name="envkey", secret=SECRET) as c:
            reply = await c.update(Update(ZONE, changes=(
                Change.add("e.example.test.", "A", 60, "192.0.2.5"),)))
            answer = await c.query("e.example.test.", "A")
    assert reply.ok
    assert answer.addresses == ("192.0.2.5",)


# -- the journal -----------------------------------------------------------------------------


def _line(serial: int, name: str) -> str:
    return json.dumps({"zone": ZONE, "serial": serial, "key": "k.",
                       "changes": [["add", name, "A", 60, "192.0.2.1"]]}) + "\n"


def test_replay_ignores_a_torn_last_line_and_appending_cuts_it_off(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    torn = _line(3, "b.example.test.")[:25]
    path.write_text(_line(2, "a.example.test.") + torn)
    store = ZoneStore([Zone.empty(ZONE)])
    journal = Journal(path)
    assert journal.replay(store) == 1
    journal.open()
    try:
        journal.append(store.apply(Update(ZONE, changes=(
            Change.add("c.example.test.", "A", 60, "192.0.2.3"),))).committed)  # type: ignore[arg-type]
    finally:
        journal.close()
    assert [u.serial for u in read_journal(path)] == [2, 3]
    assert path.read_text().count("\n") == 2


def test_a_journal_replayed_onto_other_zone_data_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    path.write_text(_line(42, "a.example.test."))
    with pytest.raises(JournalError, match="serial 42"):
        Journal(path).replay(ZoneStore([Zone.empty(ZONE)]))


def test_a_corrupt_line_before_the_end_is_an_error_not_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "journal"
    path.write_text("{not json\n" + _line(2, "a.example.test."))
    with pytest.raises(JournalError, match="line 1"):
        read_journal(path)


async def _stream_updates(host: str, port: int, acked: list[int], stop_after: int,
                          server: ServerProcess) -> None:
    """Workers send two-change updates; after `stop_after` acks the server is SIGKILLed while
    the others are still in flight."""
    async with DNSClient(host, port, key_name="k", secret=SECRET, timeout_s=0.6) as client:
        counter = iter(range(10**6))

        async def worker() -> None:
            while True:
                n = next(counter)
                update = Update(ZONE, changes=(
                    Change.add(f"n{n}.example.test.", "A", 60, "192.0.2.1"),
                    Change.add(f"n{n}.example.test.", "TXT", 60, f'"update {n}"')))
                try:
                    reply = await client.update(update)
                except DNSClientError:
                    return  # the server is gone
                assert reply.ok
                acked.append(n)
                if len(acked) == stop_after:
                    server.kill()

        await asyncio.gather(*(worker() for _ in range(8)))


@pytest.mark.asyncio
async def test_sigkill_during_a_stream_of_updates_loses_no_acknowledged_one_and_halves_none(
        tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    flags = ["--zone", ZONE, "--tsig-key", f"k:{KEY_B64}", "--journal", str(journal),
             "--log-level", "WARNING"]
    acked: list[int] = []
    with ServerProcess(flags) as first:
        await _stream_updates(first.host, first.port, acked, 200, first)
    assert len(acked) >= 200
    with ServerProcess(flags) as second:
        async with DNSClient(second.host, second.port) as client:
            soa = await client.query(ZONE, "SOA")
            present = {}
            for n in range(max(acked) + 9):  # every acked one, and those in flight at the kill
                a = await client.query(f"n{n}.example.test.", "A")
                txt = await client.query(f"n{n}.example.test.", "TXT")
                present[n] = (bool(a.answer), bool(txt.answer))
    assert all(present[n] == (True, True) for n in acked), "an acknowledged update was lost"
    assert all(both in ((True, True), (False, False)) for both in present.values()), \
        "half an update survived"
    committed = sum(1 for both in present.values() if both == (True, True))
    assert int(soa.answer[0].rdata.split()[2]) == 1 + committed


def test_the_help_ends_with_the_exit_statuses() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    epilog = result.stdout[result.stdout.index("exit status:"):]
    assert [line.split()[0] for line in epilog.splitlines()[1:] if line[:3].strip()] == \
        ["0", "2"]


def test_a_key_file_given_to_tsig_key_points_at_tsig_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "update.key"
    key_file.write_text('key "enactor." { algorithm hmac-sha256; secret "c2VjcmV0"; };\n')
    done = run_cli("--zone", ZONE, "--tsig-key", str(key_file))
    assert done.returncode == 2
    assert done.stderr == (f"fake-dns: error: --tsig-key {key_file}: that is a file; a key file "
                           f"is given with --tsig-key-file {key_file} (--tsig-key takes "
                           "NAME:BASE64SECRET)\n")
