"""`run`, `replay` and `repair --dns` against a server that cannot be used as given: no server
at that address, a server for another zone, a key it does not know, or the right key name with
another secret. Each is one line saying which, and exit status 2.

The servers are real `fake-dns` processes on 127.0.0.1 port 0. What tells the cases apart is
what the server answers (RFC 8945 §5.2): NOTAUTH carrying TSIG error BADKEY or BADSIG, or
NOTAUTH with no TSIG error (RFC 2136 §3.1.1: not authoritative for the zone)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_dns import Change, ChangeKind, DNSClient, Update
from fake_dns.testing import ServerProcess
from reproducer.cli import main
from reproducer.running.transport import TsigKey

ZONE = "us-east-1.amazonaws.com"
KEY = TsigKey("ops-key.", b"0123456789abcdef0123456789abcdef")


@pytest.fixture(scope="module")
def right_zone() -> Iterator[str]:
    with ServerProcess(["--zone", ZONE, "--tsig-key", KEY.spec]) as server:
        yield f"{server.host}:{server.port}"


@pytest.fixture(scope="module")
def other_zone() -> Iterator[str]:
    with ServerProcess(["--zone", "example.test", "--tsig-key", KEY.spec]) as server:
        yield f"{server.host}:{server.port}"


def nobody_listening() -> str:
    """A UDP port on 127.0.0.1 with nothing bound to it (the kernel answers ICMP unreachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def command(name: str, dns: str, key: TsigKey, tmp_path: Path) -> list[str]:
    dns_flags = ["--dns", dns, "--tsig-key", key.spec]
    files = ["--trace", str(tmp_path / "trace.json"), "--report", str(tmp_path / "run.html")]
    if name == "run":
        return ["run", "--transport", "real", *dns_flags, *files]
    if name == "replay":
        replay = tmp_path / "saved.json"
        assert main(["run", "--transport", "memory", "--save", str(replay), *files],
                    report=lambda line: None) in (0, 1)
        return ["replay", str(replay), "--transport", "real", *dns_flags, *files]
    return ["repair", *dns_flags]


def one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    code = main(argv, report=lambda line: None)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("reproducer: error: ")
    return err.removeprefix("reproducer: error: ").rstrip("\n")


COMMANDS = ["run", "replay", "repair"]


@pytest.mark.parametrize("name", COMMANDS)
def test_no_server_at_the_address_is_one_line_saying_nothing_answers_there(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dns = nobody_listening()
    line = one_error_line(command(name, dns, KEY, tmp_path), capsys)
    assert line.startswith(f"no DNS server answering at {dns} (")
    assert line.endswith("start one (fake-dns --zone ZONE --tsig-key NAME:SECRET) or fix --dns")


@pytest.mark.parametrize("name", COMMANDS)
def test_a_server_for_another_zone_is_one_line_saying_it_is_not_authoritative(
        name: str, other_zone: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error_line(command(name, other_zone, KEY, tmp_path), capsys)
    assert line == (f"the DNS server at {other_zone} is not authoritative for zone {ZONE}. "
                    f"(NOTAUTH); start it with --zone {ZONE}, or point --dns at the server for "
                    f"{ZONE}")


@pytest.mark.parametrize("name", COMMANDS)
def test_a_key_the_server_does_not_know_is_one_line_naming_the_key(
        name: str, right_zone: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stranger = TsigKey("nobody.", KEY.secret)
    line = one_error_line(command(name, right_zone, stranger, tmp_path), capsys)
    assert line == (f"key nobody. unknown to the DNS server at {right_zone} (TSIG BADKEY); give "
                    "--tsig-key the NAME:SECRET the server was started with")


@pytest.mark.parametrize("name", COMMANDS)
def test_the_right_key_name_with_another_secret_is_one_line_saying_the_secret_is_wrong(
        name: str, right_zone: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = TsigKey(KEY.name, b"another secret, 32 bytes long...")
    line = one_error_line(command(name, right_zone, wrong, tmp_path), capsys)
    assert line == (f"signature does not verify — wrong secret for key {KEY.name} (TSIG BADSIG "
                    f"from the DNS server at {right_zone}); give --tsig-key the secret the "
                    "server was started with")


def test_the_update_reply_carries_the_tsig_error_the_server_sent(right_zone: str) -> None:
    host, port = right_zone.rsplit(":", 1)
    update = Update(f"{ZONE}.", (), (Change(ChangeKind.DELETE_NAME, f"x.{ZONE}."),))

    async def reply_to(name: str, secret: bytes) -> tuple[str, str]:
        async with DNSClient(host, int(port), key_name=name, secret=secret) as client:
            reply = await client.update(update)
            return reply.rcode.name, reply.tsig_error.name

    assert asyncio.run(reply_to(KEY.name, KEY.secret)) == ("NOERROR", "NOERROR")
    assert asyncio.run(reply_to("nobody.", KEY.secret)) == ("NOTAUTH", "BADKEY")
    assert asyncio.run(reply_to(KEY.name, b"x" * 32)) == ("NOTAUTH", "BADSIG")
