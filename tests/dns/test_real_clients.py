"""Real DNS tools against the server: dig and kdig (BIND's and Knot's), nsupdate.

A missing tool skips the test on a workstation and fails it under CI (env CI set), where
.ci/run installs them. The server runs in the test's event loop; the tools run as asyncio
subprocesses so the loop keeps serving while they wait for answers.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from fake_dns import RR, DNSServer, Zone, ZoneStore
from fake_dns.testing import require_tool

KEY_NAME = "enactor-key."
SECRET = b"0123456789abcdef0123456789abcdef"
KEY_B64 = base64.b64encode(SECRET).decode()
ZONE = "example.test."


def _store() -> ZoneStore:
    records = [
        RR.make("www.example.test.", "A", 60, "192.0.2.1"),
        RR.make("alias.example.test.", "CNAME", 60, "alias2.example.test."),
        RR.make("alias2.example.test.", "CNAME", 60, "www.example.test."),
        *(RR.make("big.example.test.", "TXT", 60, f'"{i:03d}' + "x" * 200 + '"')
          for i in range(12)),
    ]
    return ZoneStore([Zone.empty(ZONE, records=records)])


@asynccontextmanager
async def serving(store: ZoneStore | None = None) -> AsyncIterator[DNSServer]:
    async with DNSServer(store or _store(), tsig_keys={KEY_NAME: SECRET}) as server:
        yield server


async def run(*argv: str, stdin: str | None = None) -> tuple[int, str]:
    """Run a tool to completion (bounded: the tools' own timeouts are set short)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def dig(server: DNSServer, *args: str) -> str:
    code, out = await run(require_tool("dig", "bind9-dnsutils"), f"@{server.host}",
                          "-p", str(server.port), "+norec", "+time=2", "+tries=1", *args)
    assert code == 0, out
    return out


async def kdig(server: DNSServer, *args: str) -> str:
    code, out = await run(require_tool("kdig", "knot-dnsutils"), f"@{server.host}",
                          "-p", str(server.port), "+norec", "+time=2", "+retry=0", *args)
    assert code == 0, out
    return out


async def nsupdate(server: DNSServer, commands: str, *key_args: str) -> tuple[int, str]:
    script = f"server {server.host} {server.port}\nzone {ZONE}\n{commands}\nsend\n"
    return await run(require_tool("nsupdate", "bind9-dnsutils"), "-t", "3", *key_args, stdin=script)


@pytest.mark.asyncio
async def test_dig_sees_nodata_as_noerror_with_the_soa_and_no_answer() -> None:
    async with serving() as server:
        out = await dig(server, "www.example.test.", "TXT")
    assert "status: NOERROR" in out
    assert "ANSWER: 0, AUTHORITY: 1" in out
    assert "flags: qr aa;" in out  # authoritative, no RA, no AD
    assert "example.test.\t\t60\tIN\tSOA" in out


@pytest.mark.asyncio
async def test_dig_sees_a_missing_name_as_nxdomain_with_the_soa() -> None:
    async with serving() as server:
        out = await dig(server, "missing.example.test.", "A")
    assert "status: NXDOMAIN" in out
    assert "ANSWER: 0, AUTHORITY: 1" in out


@pytest.mark.asyncio
async def test_kdig_tells_nodata_from_nxdomain() -> None:
    async with serving() as server:
        nodata = await kdig(server, "www.example.test.", "TXT")
        nxdomain = await kdig(server, "missing.example.test.", "A")
    assert "status: NOERROR" in nodata and "SOA" in nodata
    assert "status: NXDOMAIN" in nxdomain and "SOA" in nxdomain


@pytest.mark.asyncio
async def test_dig_and_kdig_get_the_whole_cname_chain() -> None:
    async with serving() as server:
        out = await dig(server, "+short", "alias.example.test.", "A")
        kout = await kdig(server, "+short", "alias.example.test.", "A")
    assert out.split() == ["alias2.example.test.", "www.example.test.", "192.0.2.1"]
    assert kout.split() == out.split()


@pytest.mark.asyncio
async def test_dig_retries_a_truncated_answer_over_tcp() -> None:
    async with serving() as server:
        out = await dig(server, "+noedns", "big.example.test.", "TXT")
    assert "Truncated, retrying in TCP mode" in out
    assert "ANSWER: 12," in out


@pytest.mark.asyncio
async def test_kdig_retries_a_truncated_answer_over_tcp() -> None:
    async with serving() as server:
        out = await kdig(server, "+noedns", "big.example.test.", "TXT")
    assert "retrying over TCP" in out
    assert "ANSWER: 12;" in out


@pytest.mark.asyncio
async def test_a_tsig_signed_dig_query_gets_a_signed_answer_dig_accepts() -> None:
    async with serving() as server:
        out = await dig(server, "-y", f"hmac-sha256:{KEY_NAME}:{KEY_B64}", "www.example.test.")
    assert "status: NOERROR" in out
    assert "TSIG PSEUDOSECTION" in out
    assert "tsig verify failure" not in out.lower() and "expected a tsig" not in out.lower()


@pytest.mark.asyncio
async def test_nsupdate_with_the_key_adds_a_record() -> None:
    store = _store()
    async with serving(store) as server:
        code, out = await nsupdate(server, "update add new.example.test. 60 A 198.51.100.1",
                                   "-y", f"hmac-sha256:{KEY_NAME}:{KEY_B64}")
        answer = await dig(server, "+short", "new.example.test.", "A")
    assert code == 0, out
    assert answer.split() == ["198.51.100.1"]
    assert store.change_log[-1].key_name == KEY_NAME


@pytest.mark.asyncio
async def test_nsupdate_prerequisite_failure_reports_the_rcode_and_changes_nothing() -> None:
    store = _store()
    before = store.zones[ZONE].records()
    async with serving(store) as server:
        code, out = await nsupdate(
            server, "prereq nxdomain www.example.test.\nupdate add www.example.test. 60 A 1.1.1.1",
            "-y", f"hmac-sha256:{KEY_NAME}:{KEY_B64}")
    assert code != 0
    assert "YXDOMAIN" in out
    assert store.zones[ZONE].records() == before


@pytest.mark.asyncio
async def test_nsupdate_without_a_key_is_refused_and_changes_nothing() -> None:
    store = _store()
    before = store.zones[ZONE].records()
    async with serving(store) as server:
        code, out = await nsupdate(server, "update delete www.example.test. A")
    assert code != 0
    assert "REFUSED" in out
    assert store.zones[ZONE].records() == before


@pytest.mark.asyncio
async def test_nsupdate_with_a_wrong_secret_gets_notauth_badsig() -> None:
    store = _store()
    before = store.zones[ZONE].records()
    wrong = base64.b64encode(b"x" * 32).decode()
    async with serving(store) as server:
        code, out = await nsupdate(server, "update delete www.example.test. A",
                                   "-y", f"hmac-sha256:{KEY_NAME}:{wrong}")
    assert code != 0
    assert "NOTAUTH(BADSIG)" in out
    assert store.zones[ZONE].records() == before
