"""The server's answer cache follows every update, through CNAME chains and negative answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_dns import RR, Change, DNSClient, DNSServer, Update, Zone, ZoneStore

KEY = ("cache-key.", b"k" * 32)


def store() -> ZoneStore:
    records = [RR.make("www.example.test", "CNAME", 60, "tree.example.test"),
               RR.make("tree.example.test", "A", 60, "192.0.2.1"),
               RR.make("tree.example.test", "TXT", 60, '"marker"'),
               RR.make("other.example.test", "A", 60, "192.0.2.9")]
    return ZoneStore([Zone.empty("example.test", records=records)])


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


def _question(name: str, rtype: int, *, edns: bool, msg_id: int = 7) -> bytes:
    import struct

    from fake_dns._wire import encode_name

    wire = struct.pack("!HHHHHH", msg_id, 0, 1, 0, 0, 1 if edns else 0)
    wire += encode_name(name) + struct.pack("!HH", rtype, 1)
    if edns:
        wire += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return wire


@given(st.lists(st.sampled_from(["empty", "a1", "a2", "cname", "txt"]), min_size=1,
                max_size=12))
@settings(max_examples=60, deadline=None)
def test_a_long_lived_responder_answers_byte_for_byte_as_a_fresh_one_after_any_updates(
        contents: list[str]) -> None:
    """The memo of built answers (content a name had before is not rebuilt) never serves an
    answer that a responder without any memo would not give."""
    from fake_dns._responder import Responder

    zones = store()
    old = Responder(zones, {}, lambda: 0.0)
    questions = [_question(name, rtype, edns=edns)
                 for name in ("www.example.test", "Tree.Example.TEST", "missing.example.test")
                 for rtype in (1, 5, 16) for edns in (False, True)]
    for content in contents:
        changes = [Change.delete_rrset("tree.example.test", "A"),
                   Change.delete_rrset("www.example.test", "CNAME")]
        if content in ("a1", "a2"):
            changes.append(Change.add("tree.example.test", "A", 60,
                                      "192.0.2.1" if content == "a1" else "192.0.2.2"))
        if content == "cname":
            changes.append(Change.add("www.example.test", "CNAME", 60, "other.example.test"))
        if content == "txt":
            changes.append(Change.add("tree.example.test", "TXT", 60, '"marker"'))
        zones.apply(Update("example.test.", (), tuple(changes)), "test.")
        fresh = Responder(zones, {}, lambda: 0.0)
        try:
            for wire in questions:
                for _ in range(2):  # the second answer comes from the cache
                    assert old.respond(wire, tcp=False) == fresh.respond(wire, tcp=False)
        finally:
            fresh.close()
