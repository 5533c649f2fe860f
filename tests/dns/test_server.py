"""The server over real sockets, driven by our DNSClient and by dnspython (the reference client).

Each test starts its own server on 127.0.0.1 port 0 and closes it; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import dns.asyncquery
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest
from dns.rcode import Rcode

from fake_dns import (
    RR,
    Change,
    CommittedUpdate,
    DNSClient,
    DNSServer,
    Prerequisite,
    Update,
    UpdateReply,
    Zone,
    ZoneStore,
)
from fake_dns._tsig import TsigError

KEY_NAME = "enactor-key."
SECRET = b"0123456789abcdef0123456789abcdef"
KEYRING = dns.tsigkeyring.from_text({KEY_NAME: base64.b64encode(SECRET).decode()})
ZONE = "example.test."


def _store() -> ZoneStore:
    records = [
        RR.make("www.example.test.", "A", 60, "192.0.2.1"),
        RR.make("www.example.test.", "A", 60, "192.0.2.2"),
        RR.make("alias.example.test.", "CNAME", 60, "www.example.test."),
        RR.make("alias2.example.test.", "CNAME", 60, "alias.example.test."),
        RR.make("txt.example.test.", "TXT", 60, '"hello world"'),
        RR.make("v6.example.test.", "AAAA", 60, "2001:db8::1"),
        RR.make("a.b.deep.example.test.", "A", 60, "192.0.2.9"),
    ]
    records += [RR.make("big.example.test.", "TXT", 60, f'"{i:03d}' + "x" * 200 + '"')
                for i in range(12)]
    return ZoneStore([Zone.empty(ZONE, records=records)])


@asynccontextmanager
async def serving(store: ZoneStore | None = None) -> AsyncIterator[DNSServer]:
    async with DNSServer(store or _store(), tsig_keys={KEY_NAME: SECRET}) as server:
        yield server


@asynccontextmanager
async def client(server: DNSServer, *, signed: bool = True) -> AsyncIterator[DNSClient]:
    async with DNSClient(server.host, server.port, key_name=KEY_NAME if signed else None,
                         secret=SECRET if signed else None) as c:
        yield c


@pytest.mark.asyncio
async def test_the_server_reports_one_ephemeral_port_for_udp_and_tcp() -> None:
    async with serving() as server:
        assert server.port != 0
        q = dns.message.make_query("www.example.test.", "A")
        udp = await dns.asyncquery.udp(q, server.host, port=server.port, timeout=2)
        tcp = await dns.asyncquery.tcp(q, server.host, port=server.port, timeout=2)
        assert udp.answer == tcp.answer
        assert len(udp.answer[0]) == 2


@pytest.mark.asyncio
async def test_an_answer_is_authoritative_and_not_recursive() -> None:
    async with serving() as server:
        response = await dns.asyncquery.udp(dns.message.make_query("www.example.test.", "A"),
                                            server.host, port=server.port, timeout=2)
        assert response.flags & dns.flags.AA
        assert not response.flags & dns.flags.RA


@pytest.mark.asyncio
async def test_nodata_and_nxdomain_are_told_apart_and_both_carry_the_soa() -> None:
    async with serving() as server, client(server) as c:
        nodata = await c.query("www.example.test.", "TXT")
        nxdomain = await c.query("missing.example.test.", "A")
        empty_non_terminal = await c.query("b.deep.example.test.", "A")
    assert (nodata.rcode, nodata.answer) == (Rcode.NOERROR, ())
    assert nxdomain.rcode == Rcode.NXDOMAIN
    assert empty_non_terminal.rcode == Rcode.NOERROR  # RFC 8020: it exists, it has no data
    for result in (nodata, nxdomain, empty_non_terminal):
        assert [rr.rtype for rr in result.authority] == ["SOA"]
        assert result.authority[0].name == ZONE


@pytest.mark.asyncio
async def test_a_cname_chain_is_followed_inside_the_zone_with_every_link_in_the_answer() -> None:
    async with serving() as server, client(server) as c:
        result = await c.query("alias2.example.test.", "A")
    assert [(rr.name, rr.rtype) for rr in result.answer] == [
        ("alias2.example.test.", "CNAME"), ("alias.example.test.", "CNAME"),
        ("www.example.test.", "A"), ("www.example.test.", "A")]
    assert result.addresses == ("192.0.2.1", "192.0.2.2")


@pytest.mark.asyncio
async def test_a_name_outside_every_zone_is_refused_without_aa() -> None:
    async with serving() as server, client(server) as c:
        result = await c.query("www.example.org.", "A")
    assert result.rcode == Rcode.REFUSED
    assert not result.authoritative


@pytest.mark.asyncio
async def test_an_answer_too_big_for_udp_is_truncated_and_complete_over_tcp() -> None:
    async with serving() as server:
        q = dns.message.make_query("big.example.test.", "TXT")  # no EDNS: 512 bytes
        udp = await dns.asyncquery.udp(q, server.host, port=server.port, timeout=2)
        tcp = await dns.asyncquery.tcp(q, server.host, port=server.port, timeout=2)
        assert udp.flags & dns.flags.TC and not udp.answer
        assert len(tcp.answer[0]) == 12
        async with client(server) as c:  # our client retries over TCP by itself
            assert len((await c.query("big.example.test.", "TXT")).answer) == 12


@pytest.mark.asyncio
async def test_the_clients_edns_payload_size_decides_when_to_truncate() -> None:
    async with serving() as server:
        small = dns.message.make_query("big.example.test.", "TXT", use_edns=0, payload=1232)
        large = dns.message.make_query("big.example.test.", "TXT", use_edns=0, payload=4096)
        a = await dns.asyncquery.udp(small, server.host, port=server.port, timeout=2)
        b = await dns.asyncquery.udp(large, server.host, port=server.port, timeout=2)
    assert a.flags & dns.flags.TC
    assert b.flags & dns.flags.TC  # we never send more than 1232 bytes over UDP
    assert a.edns == 0 and a.payload == 1232


@pytest.mark.asyncio
async def test_an_edns_version_we_do_not_speak_gets_badvers() -> None:
    async with serving() as server:
        q = dns.message.make_query("www.example.test.", "A", use_edns=1)
        response = await dns.asyncquery.udp(q, server.host, port=server.port, timeout=2)
    assert response.rcode() == dns.rcode.BADVERS


@pytest.mark.asyncio
async def test_several_queries_share_one_tcp_connection() -> None:
    async with serving() as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            names = ["www.example.test.", "missing.example.test.", "txt.example.test."]
            for i, name in enumerate(names):  # pipelined: all sent before any is read
                wire = dns.message.make_query(name, "A", id=i).to_wire()
                writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            rcodes = []
            for i in range(len(names)):
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                response = dns.message.from_wire(await reader.readexactly(length))
                assert response.id == i
                rcodes.append(response.rcode())
        finally:
            writer.close()
            await writer.wait_closed()
    assert rcodes == [dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.NOERROR]


@pytest.mark.asyncio
async def test_other_opcodes_are_answered_notimp() -> None:
    async with serving() as server:
        q = dns.message.make_query("www.example.test.", "A")
        q.set_opcode(dns.opcode.NOTIFY)
        response = await dns.asyncquery.udp(q, server.host, port=server.port, timeout=2)
    assert response.rcode() == dns.rcode.NOTIMP


@pytest.mark.asyncio
async def test_a_signed_update_commits_and_bumps_the_serial_by_one() -> None:
    store = _store()
    before = store.zones[ZONE].serial
    async with serving(store) as server, client(server) as c:
        reply = await c.update(Update(ZONE, changes=(
            Change.add("new.example.test.", "A", 30, "198.51.100.7"),)))
        result = await c.query("new.example.test.", "A")
    assert reply == UpdateReply(Rcode.NOERROR)
    assert result.addresses == ("198.51.100.7",)
    assert store.zones[ZONE].serial == before + 1
    assert store.change_log[-1].key_name == KEY_NAME


@pytest.mark.asyncio
async def test_an_update_that_changes_nothing_leaves_the_serial() -> None:
    store = _store()
    before = store.zones[ZONE].serial
    async with serving(store) as server, client(server) as c:
        reply = await c.update(Update(ZONE, changes=(
            Change.add("www.example.test.", "A", 60, "192.0.2.1"),)))  # already there
    assert reply.ok
    assert store.zones[ZONE].serial == before  # RFC 2136 §3.6: only a changed zone bumps it
    assert store.change_log == []


@pytest.mark.asyncio
async def test_an_unsigned_update_is_refused_and_changes_nothing() -> None:
    store = _store()
    before = store.zones[ZONE].records()
    async with serving(store) as server, client(server, signed=False) as c:
        reply = await c.update(Update(ZONE, changes=(Change.delete_name("www.example.test."),)))
    assert reply.rcode == Rcode.REFUSED
    assert store.zones[ZONE].records() == before


@pytest.mark.asyncio
async def test_an_update_signed_with_the_wrong_secret_is_notauth_badsig() -> None:
    store = _store()
    before = store.zones[ZONE].records()
    async with serving(store) as server, DNSClient(server.host, server.port, key_name=KEY_NAME,
                                                   secret=b"wrong" * 8) as c:
        reply = await c.update(Update(ZONE, changes=(Change.delete_name("www.example.test."),)))
    assert reply == UpdateReply(Rcode.NOTAUTH, TsigError.BADSIG)
    assert store.zones[ZONE].records() == before


@pytest.mark.asyncio
async def test_an_update_signed_with_an_unknown_key_is_notauth_badkey() -> None:
    store = _store()
    async with serving(store) as server, DNSClient(server.host, server.port,
                                                   key_name="stranger.", secret=SECRET) as c:
        reply = await c.update(Update(ZONE, changes=(Change.delete_name("www.example.test."),)))
    assert reply == UpdateReply(Rcode.NOTAUTH, TsigError.BADKEY)


@pytest.mark.asyncio
async def test_an_update_signed_too_long_ago_is_notauth_badtime() -> None:
    async with serving() as server, DNSClient(server.host, server.port, key_name=KEY_NAME,
                                              secret=SECRET, clock=lambda: 1_000_000.0) as c:
        reply = await c.update(Update(ZONE, changes=(Change.delete_name("www.example.test."),)))
    assert reply == UpdateReply(Rcode.NOTAUTH, TsigError.BADTIME)


@pytest.mark.asyncio
async def test_a_dnspython_compare_and_set_succeeds_when_the_value_matches() -> None:
    store = _store()
    async with serving(store) as server:
        update = dns.update.UpdateMessage(ZONE, keyring=KEYRING,
                                          keyalgorithm=dns.tsig.HMAC_SHA256)
        update.present("www", dns.rrset.from_text("www", 0, "IN", "A", "192.0.2.2",
                                                  "192.0.2.1"))
        update.replace("www", 60, "A", "203.0.113.5")
        response = await dns.asyncquery.udp(update, server.host, port=server.port, timeout=2)
    assert response.rcode() == dns.rcode.NOERROR  # dnspython verified the signed answer
    assert store.lookup("www.example.test.", "A").addresses == ("203.0.113.5",)


@pytest.mark.asyncio
async def test_a_dnspython_compare_and_set_fails_on_a_stale_value_and_changes_nothing() -> None:
    store = _store()
    before = store.zones[ZONE].records()
    async with serving(store) as server:
        update = dns.update.UpdateMessage(ZONE, keyring=KEYRING,
                                          keyalgorithm=dns.tsig.HMAC_SHA256)
        update.present("www", dns.rrset.from_text("www", 0, "IN", "A", "192.0.2.1"))  # half
        update.replace("www", 60, "A", "203.0.113.5")
        response = await dns.asyncquery.udp(update, server.host, port=server.port, timeout=2)
    assert response.rcode() == dns.rcode.NXRRSET
    assert store.zones[ZONE].records() == before


@pytest.mark.asyncio
async def test_our_client_compare_and_set_fails_with_nxrrset_on_a_stale_value() -> None:
    async with serving() as server, client(server) as c:
        stale = await c.update(Update(
            ZONE, (Prerequisite.rrset_equals("www.example.test.", "A", ["192.0.2.1"]),),
            (Change.delete_rrset("www.example.test.", "A"),)))
        fresh = await c.update(Update(
            ZONE, (Prerequisite.rrset_equals("www.example.test.", "A",
                                             ["192.0.2.1", "192.0.2.2"]),),
            (Change.delete_rrset("www.example.test.", "A"),)))
        after = await c.query("www.example.test.", "A")
    assert (stale.rcode, fresh.rcode) == (Rcode.NXRRSET, Rcode.NOERROR)
    assert after.answer == ()


@pytest.mark.asyncio
async def test_a_committed_update_invalidates_cached_answers() -> None:
    async with serving() as server, client(server) as c:
        first = await c.query("www.example.test.", "A")
        again = await c.query("www.example.test.", "A")  # from the answer cache
        await c.update(Update(ZONE, changes=(Change.delete_rrset("www.example.test.", "A"),)))
        after = await c.query("www.example.test.", "A")
    assert first == again
    assert after.answer == () and after.rcode == Rcode.NXDOMAIN  # its only RRset went


@pytest.mark.asyncio
async def test_the_change_log_subscriber_sees_serial_key_and_changes() -> None:
    store = _store()
    seen: list[CommittedUpdate] = []
    unsubscribe = store.subscribe(seen.append)
    try:
        async with serving(store) as server, client(server) as c:
            await c.update(Update(ZONE, changes=(
                Change.add("x.example.test.", "A", 5, "192.0.2.77"),)))
    finally:
        unsubscribe()
    assert [(u.serial, u.key_name, u.changes) for u in seen] == [
        (2, KEY_NAME, (Change.add("x.example.test.", "A", 5, "192.0.2.77"),))]
