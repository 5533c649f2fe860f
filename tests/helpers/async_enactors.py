"""Async enactors that break the rules, for the tests of how the tool reports them (importable as
`tests.helpers.async_enactors:NAME` with tests/ on the path, as pytest puts it)."""

from __future__ import annotations

import asyncio

import dns.message
import dns.update

from reproducer import Handle


async def raises_after_reading(h: Handle) -> None:
    await h.newest_plan()
    answer = await h.query(h.layout.endpoint_name(h.layout.endpoints[0]), "CNAME")
    raise ValueError(f"cannot handle {len(answer.answer)} records")


async def sleeps_on_its_own(h: Handle) -> None:
    await h.newest_plan()
    await asyncio.sleep(0.01)  # not through the handle: the scheduler cannot see it


async def flips_with_dnspython(h: Handle) -> None:
    """Production-style code: the UPDATE is a dnspython message, sent through the handle."""
    done = 0
    while (plan := await h.newest_plan(newer_than=done)) is not None:
        for ep in h.layout.endpoints:
            tree = h.layout.tree_name(ep, plan.generation)
            update = dns.update.UpdateMessage(h.layout.zone)
            for rr in h.layout.tree_records(plan, ep):
                update.add(rr.name, rr.ttl, rr.rtype, rr.rdata)
            update.replace(h.layout.endpoint_name(ep), 3, "CNAME", tree)
            rcode = await h.update(update)
            reply = await h.send(dns.message.make_query(h.layout.endpoint_name(ep), "CNAME"))
            h.note(f"UPDATE {rcode}; the alias now answers {reply.answer[0][0]}")
        done = plan.generation


class CountingEnactor:
    """A class with an async `run`: a fresh instance every run."""

    def __init__(self) -> None:
        self.reads = 0

    async def run(self, h: Handle) -> None:
        while (plan := await h.newest_plan(newer_than=self.reads)) is not None:
            self.reads = plan.generation
            h.note(f"read g{plan.generation}")


async def holds_a_lock_of_its_own(h: Handle) -> None:
    """Correct, but a local holds an asyncio.Lock, which is not a value: the exhaustive search
    tells this enactor's states by their history."""
    guard = asyncio.Lock()
    done = 0
    while (plan := await h.newest_plan(newer_than=done)) is not None:
        async with guard:
            await h.query(h.layout.endpoint_name(h.layout.endpoints[0]), "CNAME")
        done = plan.generation
