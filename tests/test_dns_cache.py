"""The server's answer cache follows every update, through CNAME chains and negative answers."""

from __future__ import annotations

import pytest

from fake_dns import RR, Change, DNSClient, DNSServer, Update, Zone, ZoneStore

KEY = ("cache-key.", b"k" * 32)


def store() -> ZoneStore:
    zone = Zone.empty("example.test")
    records = [*zone.records()[1:],
               RR.make("www.example.test", "CNAME", 60, "tree.example.test"),
               RR.make("tree.example.test", "A", 60, "192.0.2.1"),
               RR.make("tree.example.test", "TXT", 60, '"marker"'),
               RR.make("other.example.test", "A", 60, "192.0.2.9")]
    return ZoneStore([Zone(zone.origin, zone.soa, records)])


@pytest.mark.asyncio
async def test_a_cached_cname_chain_answer_follows_an_update_of_its_target() -> None:
    async with DNSServer(store(), "127.0.0.1", 0, {KEY[0]: KEY[1]}) as server, \
            DNSClient(server.host, server.port, key_name=KEY[0], secret=KEY[1]) as client:
        before = await client.query("www.example.test", "A")
        assert before.addresses == ("192.0.2.1",)
        assert (await client.query("www.example.test", "A")) == before  # served from cache

        # an update elsewhere leaves it alone
        await client.update(Update("example.test.", (), (
            Change.add("unrelated.example.test", "A", 60, "192.0.2.7"),)))
        assert (await client.query("www.example.test", "A")).addresses == ("192.0.2.1",)

        # deleting the target's addresses empties the chain's answer at once (the outage)
        await client.update(Update("example.test.", (), (
            Change.delete_rrset("tree.example.test", "A"),)))
        emptied = await client.query("www.example.test", "A")
        assert emptied.rcode.name == "NOERROR" and emptied.addresses == ()
        assert [rr.rtype for rr in emptied.answer] == ["CNAME"]

        # and restoring them shows again, as does the new serial in a negative answer
        await client.update(Update("example.test.", (), (
            Change.add("tree.example.test", "A", 60, "192.0.2.2"),)))
        assert (await client.query("www.example.test", "A")).addresses == ("192.0.2.2",)
        serials = []
        for _ in range(2):
            nx = await client.query("missing.example.test", "A")
            serials.append(nx.authority[0].rdata.split()[2])
            await client.update(Update("example.test.", (), (
                Change.add("unrelated.example.test", "TXT", 60, f'"{len(serials)}"'),)))
        assert serials[0] != serials[1]
