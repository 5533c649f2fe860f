"""Random sequences of signed updates and queries, sent to the real server over UDP, agree with
a small reference model of RFC 2136 written here from the RFC's pseudocode (§3.2.5, §3.4.2.7),
independently of the engine: same rcodes, same RRsets, same serial.

Hypothesis has no async rules (hypothesis#4107): the machine owns an asyncio.Runner, made in
__init__ and closed in teardown(), and each sync rule runs one coroutine to completion on it.
"""

from __future__ import annotations

import asyncio

from dns.rcode import Rcode
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from fake_dns import Change, DNSClient, DNSServer, Prerequisite, Update, Zone, ZoneStore

ZONE = "example.test."
KEY = "k."
SECRET = b"0123456789abcdef0123456789abcdef"
NAMES = [f"{n}.{ZONE}" for n in ("a", "b", "c", "x.a")]
VALUES = {"A": ["192.0.2.1", "192.0.2.2", "192.0.2.3"], "TXT": ['"t1"', '"t2"'],
          "CNAME": NAMES}
TTL = {"A": 60, "TXT": 61, "CNAME": 62}  # one TTL per type: the model can ignore TTLs

Model = dict[str, dict[str, set[str]]]  # name -> type -> rdatas

names = st.sampled_from(NAMES)
rtypes = st.sampled_from(sorted(VALUES))


@st.composite
def prerequisites(draw: st.DrawFn) -> Prerequisite:
    name, rtype = draw(names), draw(rtypes)
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return Prerequisite.rrset_exists(name, rtype)
    if kind == 1:
        values = draw(st.lists(st.sampled_from(VALUES[rtype]), min_size=1, max_size=2))
        return Prerequisite.rrset_equals(name, rtype, values)
    if kind == 2:
        return Prerequisite.rrset_absent(name, rtype)
    return Prerequisite.name_in_use(name) if kind == 3 else Prerequisite.name_not_in_use(name)


@st.composite
def changes(draw: st.DrawFn) -> Change:
    name, rtype = draw(names), draw(rtypes)
    value = draw(st.sampled_from(VALUES[rtype]))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return Change.add(name, rtype, TTL[rtype], value)
    if kind == 1:
        return Change.delete_rr(name, rtype, value)
    return Change.delete_rrset(name, rtype) if kind == 2 else Change.delete_name(name)


# -- the reference model, RFC 2136 by its pseudocode -----------------------------------------


def model_prerequisites(zone: Model, prereqs: tuple[Prerequisite, ...]) -> Rcode:
    temp: dict[tuple[str, str], set[str]] = {}
    for p in prereqs:  # §3.2.5, first loop
        node = zone.get(p.name, {})
        kind = p.kind.value
        if kind == "name-in-use" and not node:
            return Rcode.NXDOMAIN
        if kind == "name-not-in-use" and node:
            return Rcode.YXDOMAIN
        if kind == "rrset-exists" and p.rtype not in node:
            return Rcode.NXRRSET
        if kind == "rrset-does-not-exist" and p.rtype in node:
            return Rcode.YXRRSET
        if kind == "rrset-exists-value":
            assert p.rtype is not None
            temp.setdefault((p.name, p.rtype), set()).update(p.rdatas)
    for (name, rtype), rdatas in temp.items():  # §3.2.5, "for rrset in temp"
        if zone.get(name, {}).get(rtype, set()) != rdatas:
            return Rcode.NXRRSET
    return Rcode.NOERROR


def model_apply(zone: Model, change: Change) -> None:
    node = zone.setdefault(change.name, {})
    kind = change.kind.value
    assert change.rtype is not None or kind == "delete-name"
    if kind == "add":
        assert change.rtype is not None and change.rdata is not None
        if change.rtype == "CNAME" and any(t != "CNAME" for t in node):
            pass  # §3.4.2.2
        elif change.rtype != "CNAME" and "CNAME" in node:
            pass
        elif change.rtype == "CNAME":
            node["CNAME"] = {change.rdata}
        else:
            node.setdefault(change.rtype, set()).add(change.rdata)
    elif kind == "delete-rrset":
        node.pop(change.rtype or "", None)
    elif kind == "delete-name":
        node.clear()
    else:
        assert change.rtype is not None
        node.get(change.rtype, set()).discard(change.rdata or "")
        if not node.get(change.rtype, True):
            del node[change.rtype]
    if not node:
        del zone[change.name]


def model_lookup(zone: Model, qname: str, qtype: str) -> tuple[Rcode, set[tuple[str, str, str]]]:
    answer: set[tuple[str, str, str]] = set()
    name, seen = qname, set()
    while True:
        node = zone.get(name)
        if node is None:
            exists = any(n.endswith("." + name) for n in zone)
            return (Rcode.NOERROR if exists else Rcode.NXDOMAIN), answer
        if qtype in node:
            return Rcode.NOERROR, answer | {(name, qtype, r) for r in node[qtype]}
        if "CNAME" not in node:
            return Rcode.NOERROR, answer
        (target,) = node["CNAME"]
        answer.add((name, "CNAME", target))
        seen.add(name)
        if target in seen:
            return Rcode.SERVFAIL, answer
        name = target


class UpdatesAgreeWithTheModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.store = ZoneStore([Zone.empty(ZONE)])
        self.server = DNSServer(self.store, tsig_keys={KEY: SECRET})
        self.runner.run(self.server.start())
        self.client = DNSClient(self.server.host, self.server.port, key_name=KEY, secret=SECRET)
        self.runner.run(self.client.start())
        self.model: Model = {}
        self.commits = 0

    def teardown(self) -> None:
        self.runner.run(self.client.close())
        self.runner.run(self.server.close())
        self.runner.close()

    @rule(prereqs=st.lists(prerequisites(), max_size=3).map(tuple),
          changes=st.lists(changes(), min_size=1, max_size=4).map(tuple))
    def update(self, prereqs: tuple[Prerequisite, ...], changes: tuple[Change, ...]) -> None:
        expected = model_prerequisites(self.model, prereqs)
        reply = self.runner.run(self.client.update(Update(ZONE, prereqs, changes)))
        assert reply.rcode == expected
        if expected == Rcode.NOERROR:
            before = {n: {t: set(v) for t, v in node.items()} for n, node in self.model.items()}
            for change in changes:
                model_apply(self.model, change)
            self.commits += before != self.model

    @rule(qname=names, qtype=rtypes)
    def query(self, qname: str, qtype: str) -> None:
        rcode, answer = model_lookup(self.model, qname, qtype)
        result = self.runner.run(self.client.query(qname, qtype))
        assert result.rcode == rcode
        assert {(rr.name, rr.rtype, rr.rdata) for rr in result.answer} == answer

    @invariant()
    def the_zone_holds_the_models_rrsets_and_serial(self) -> None:
        zone = self.store.zones[ZONE]
        have: Model = {}
        for rr in zone.records():
            if rr.name != ZONE:
                have.setdefault(rr.name, {}).setdefault(rr.rtype, set()).add(rr.rdata)
        assert have == self.model
        assert zone.serial == 1 + self.commits  # one per committed update that changed it


UpdatesAgreeWithTheModel.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None)
test_updates_and_queries_over_udp_agree_with_an_rfc_2136_model = (
    UpdatesAgreeWithTheModel.TestCase)
