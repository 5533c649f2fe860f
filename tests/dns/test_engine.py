"""The zone engine as pure values: RFC 2136 prerequisites, updates and lookups, table-driven.

Each row names the rule it checks (RFC 2136 section) and reads as a sentence in the test id.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dns.rcode import Rcode

from fake_dns import (
    RR,
    Change,
    ChangeKind,
    CommittedUpdate,
    ConfigError,
    Prerequisite,
    Update,
    Zone,
    ZoneStore,
)
from fake_dns._config import load_zone_file

ZONE = "example.test."
P = Prerequisite
C = Change


def store() -> ZoneStore:
    records = [
        RR.make("www.example.test.", "A", 60, "192.0.2.1"),
        RR.make("www.example.test.", "A", 60, "192.0.2.2"),
        RR.make("alias.example.test.", "CNAME", 60, "www.example.test."),
        RR.make("txt.example.test.", "TXT", 60, '"hello"'),
        RR.make("a.b.deep.example.test.", "A", 60, "192.0.2.9"),
    ]
    return ZoneStore([Zone.empty(ZONE, records=records)])


def rrset(s: ZoneStore, name: str, rtype: str) -> set[str]:
    return {rr.rdata for rr in s.zones[ZONE].rrset(name, rtype)}


# -- §2.4 / §3.2: prerequisites --------------------------------------------------------------

PREREQUISITES = [
    ("rrset exists (value-independent) holds for a present RRset",
     P.rrset_exists("www.example.test.", "A"), Rcode.NOERROR),
    ("rrset exists (value-independent) fails NXRRSET for a missing type",
     P.rrset_exists("www.example.test.", "AAAA"), Rcode.NXRRSET),
    ("rrset exists (value-dependent) holds for the exact RRset in any order",
     P.rrset_equals("www.example.test.", "A", ["192.0.2.2", "192.0.2.1"]), Rcode.NOERROR),
    ("rrset exists (value-dependent) fails NXRRSET for a subset",
     P.rrset_equals("www.example.test.", "A", ["192.0.2.1"]), Rcode.NXRRSET),
    ("rrset exists (value-dependent) fails NXRRSET for a superset",
     P.rrset_equals("www.example.test.", "A", ["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
     Rcode.NXRRSET),
    ("rrset exists (value-dependent) fails NXRRSET for a missing RRset",
     P.rrset_equals("nope.example.test.", "A", ["192.0.2.1"]), Rcode.NXRRSET),
    ("rrset does not exist holds for a missing type",
     P.rrset_absent("www.example.test.", "AAAA"), Rcode.NOERROR),
    ("rrset does not exist fails YXRRSET for a present RRset",
     P.rrset_absent("www.example.test.", "A"), Rcode.YXRRSET),
    ("name in use holds for a name with records",
     P.name_in_use("txt.example.test."), Rcode.NOERROR),
    ("name in use fails NXDOMAIN for a missing name",
     P.name_in_use("nope.example.test."), Rcode.NXDOMAIN),
    ("name in use fails NXDOMAIN for an empty non-terminal, which owns no RR",
     P.name_in_use("b.deep.example.test."), Rcode.NXDOMAIN),
    ("name not in use holds for a missing name",
     P.name_not_in_use("nope.example.test."), Rcode.NOERROR),
    ("name not in use fails YXDOMAIN for a name with records",
     P.name_not_in_use("alias.example.test."), Rcode.YXDOMAIN),
    ("a prerequisite outside the zone fails NOTZONE",
     P.name_in_use("www.example.org."), Rcode.NOTZONE),
]


@pytest.mark.parametrize(("prerequisite", "rcode"), [(p, r) for _, p, r in PREREQUISITES],
                         ids=[d for d, _, _ in PREREQUISITES])
def test_each_prerequisite_kind_answers_its_rfc_2136_rcode(prerequisite: Prerequisite,
                                                             rcode: Rcode) -> None:
    s = store()
    before = s.zones[ZONE].records()
    result = s.apply(Update(ZONE, (prerequisite,), (C.add("new.example.test.", "A", 60,
                                                          "192.0.2.50"),)))
    assert result.rcode == rcode
    if rcode != Rcode.NOERROR:
        assert s.zones[ZONE].records() == before  # §3.2: a failed prerequisite changes nothing


def test_value_dependent_prerequisites_are_compared_after_all_the_others() -> None:
    # §3.2.5: the temp RRsets are compared only after every other prerequisite held.
    result = store().apply(Update(ZONE, (
        P.rrset_equals("www.example.test.", "A", ["192.0.2.1"]),  # would fail NXRRSET
        P.name_in_use("nope.example.test."),  # fails NXDOMAIN first
    )))
    assert result.rcode == Rcode.NXDOMAIN


def test_value_dependent_prerequisites_on_one_rrset_are_merged_into_one_set() -> None:
    # §3.2.3: "temp<rr.name, rr.type> += rr": two RRs of one RRset form one expected set.
    result = store().apply(Update(ZONE, (
        P.rrset_equals("www.example.test.", "A", ["192.0.2.1"]),
        P.rrset_equals("www.example.test.", "A", ["192.0.2.2"]),
    )))
    assert result.rcode == Rcode.NOERROR


# -- §3.1: the zone section ------------------------------------------------------------------


def test_an_update_for_a_zone_not_served_is_notauth() -> None:
    assert store().apply(Update("example.org.")).rcode == Rcode.NOTAUTH


def test_a_malformed_update_is_formerr_and_changes_nothing() -> None:
    s = store()
    result = s.apply(Update(ZONE, changes=(C.delete_name("www.example.test."),),
                            formerr="prerequisite TTL is not zero"))
    assert result.rcode == Rcode.FORMERR
    assert rrset(s, "www.example.test.", "A") == {"192.0.2.1", "192.0.2.2"}


# -- §3.4.1: prescan, all or nothing ----------------------------------------------------------


def test_an_update_name_outside_the_zone_is_notzone_and_earlier_changes_do_not_apply() -> None:
    s = store()
    result = s.apply(Update(ZONE, changes=(
        C.delete_name("www.example.test."),
        C.add("www.example.org.", "A", 60, "192.0.2.1"))))
    assert result.rcode == Rcode.NOTZONE
    assert rrset(s, "www.example.test.", "A") == {"192.0.2.1", "192.0.2.2"}


@pytest.mark.parametrize("change", [
    C(ChangeKind.ADD, "x.example.test.", "ANY", 0, "x"),
    C(ChangeKind.DELETE_RR, "x.example.test.", "ANY", 0, "x"),
    C(ChangeKind.DELETE_RRSET, "x.example.test.", "AXFR"),
], ids=["adding type ANY", "deleting one RR of type ANY", "deleting type AXFR"])
def test_meta_types_in_updates_are_formerr(change: Change) -> None:
    assert store().apply(Update(ZONE, changes=(change,))).rcode == Rcode.FORMERR


# -- §3.4.2: the four update kinds ------------------------------------------------------------

UPDATES: list[tuple[str, tuple[Change, ...], str, str, set[str]]] = [
    ("an add joins the existing RRset",
     (C.add("www.example.test.", "A", 60, "192.0.2.3"),), "www.example.test.", "A",
     {"192.0.2.1", "192.0.2.2", "192.0.2.3"}),
    ("a CNAME is not added to a name that has other data (§3.4.2.2)",
     (C.add("www.example.test.", "CNAME", 60, "txt.example.test."),), "www.example.test.",
     "CNAME", set()),
    ("other data is not added to a CNAME name (§3.4.2.2)",
     (C.add("alias.example.test.", "A", 60, "192.0.2.3"),), "alias.example.test.", "A", set()),
    ("a CNAME replaces the CNAME already there (§3.4.2.2)",
     (C.add("alias.example.test.", "CNAME", 60, "txt.example.test."),), "alias.example.test.",
     "CNAME", {"txt.example.test."}),
    ("delete rrset removes that type only (§2.5.2)",
     (C.delete_rrset("www.example.test.", "A"),), "www.example.test.", "A", set()),
    ("delete rrset leaves the apex NS alone (§3.4.2.3)",
     (C.delete_rrset(ZONE, "NS"),), ZONE, "NS", {"ns1.example.test."}),
    ("delete name removes every RRset of the name (§2.5.3)",
     (C.delete_name("txt.example.test."),), "txt.example.test.", "TXT", set()),
    ("delete name at the apex keeps SOA and NS (§3.4.2.3)",
     (C.delete_name(ZONE),), ZONE, "NS", {"ns1.example.test."}),
    ("delete rr removes one RR from its RRset (§2.5.4)",
     (C.delete_rr("www.example.test.", "A", "192.0.2.1"),), "www.example.test.", "A",
     {"192.0.2.2"}),
    ("delete rr never removes the last apex NS (§3.4.2.4)",
     (C.delete_rr(ZONE, "NS", "ns1.example.test."),), ZONE, "NS", {"ns1.example.test."}),
    ("changes apply in message order: delete then add is a replace",
     (C.delete_rrset("www.example.test.", "A"), C.add("www.example.test.", "A", 30,
                                                       "198.51.100.1")),
     "www.example.test.", "A", {"198.51.100.1"}),
]


@pytest.mark.parametrize(("changes", "name", "rtype", "expected"),
                         [row[1:] for row in UPDATES], ids=[row[0] for row in UPDATES])
def test_each_update_kind_follows_rfc_2136(changes: tuple[Change, ...], name: str, rtype: str,
                                           expected: set[str]) -> None:
    s = store()
    assert s.apply(Update(ZONE, changes=changes)).rcode == Rcode.NOERROR
    assert rrset(s, name, rtype) == expected


def test_an_add_sets_the_ttl_of_the_whole_rrset() -> None:
    s = store()
    s.apply(Update(ZONE, changes=(C.add("www.example.test.", "A", 5, "192.0.2.1"),)))
    assert {rr.ttl for rr in s.zones[ZONE].rrset("www.example.test.", "A")} == {5}


def test_an_soa_add_with_a_higher_serial_replaces_it_and_a_lower_one_is_ignored() -> None:
    s = store()
    low = C.add(ZONE, "SOA", 60, "ns1.example.test. h.example.test. 0 1 1 1 1")
    high = C.add(ZONE, "SOA", 60, "ns1.example.test. h.example.test. 100 1 1 1 1")
    s.apply(Update(ZONE, changes=(low,)))
    assert s.zones[ZONE].serial == 1
    s.apply(Update(ZONE, changes=(high,)))
    assert s.zones[ZONE].serial == 100


def test_the_soa_is_never_deleted() -> None:
    s = store()
    soa = s.zones[ZONE].soa
    s.apply(Update(ZONE, changes=(C.delete_rr(ZONE, "SOA", soa.rdata),
                                  C.delete_rrset(ZONE, "SOA"))))
    assert s.zones[ZONE].soa == soa


# -- §3.6 serials and the change log -----------------------------------------------------------


def test_the_serial_goes_up_by_one_per_committed_update_that_changed_the_zone() -> None:
    s = store()
    s.apply(Update(ZONE, changes=(C.add("a.example.test.", "A", 60, "192.0.2.1"),
                                  C.add("b.example.test.", "A", 60, "192.0.2.1"))))
    assert s.zones[ZONE].serial == 2
    s.apply(Update(ZONE, changes=(C.add("a.example.test.", "A", 60, "192.0.2.1"),)))
    assert s.zones[ZONE].serial == 2  # changed nothing: the serial stays (deliberate choice)
    s.apply(Update(ZONE, (P.name_in_use("nope.example.test."),)))
    assert s.zones[ZONE].serial == 2  # failed
    assert [u.serial for u in s.change_log] == [2]


def test_a_subscriber_gets_each_commit_with_serial_key_and_only_effective_changes() -> None:
    s = store()
    seen: list[CommittedUpdate] = []
    s.subscribe(seen.append)
    s.apply(Update(ZONE, changes=(C.add("www.example.test.", "A", 60, "192.0.2.1"),  # dup
                                  C.delete_rr("www.example.test.", "A", "192.0.2.2"))), "k.")
    assert [(u.serial, u.key_name, u.changes) for u in seen] == [
        (2, "k.", (C.delete_rr("www.example.test.", "A", "192.0.2.2"),))]


def test_the_durable_log_sees_each_commit_before_the_zone_and_the_subscribers_do() -> None:
    s = store()
    seen_by_log: list[tuple[int, int, int]] = []
    seen_by_subscriber: list[int] = []

    def durable_log(committed: CommittedUpdate) -> None:
        # What the zone, the change log and the subscribers show while the log is writing.
        seen_by_log.append((committed.serial, s.zones[ZONE].serial, len(seen_by_subscriber)))

    s.set_durable_log(durable_log)
    s.subscribe(lambda committed: seen_by_subscriber.append(committed.serial))
    result = s.apply(Update(ZONE, changes=(C.add("new.example.test.", "A", 60, "192.0.2.3"),)))
    assert result.rcode == Rcode.NOERROR and result.serial == 2
    assert seen_by_log == [(2, 1, 0)]  # serial 2 written while the zone still had serial 1
    assert seen_by_subscriber == [2]


def test_an_update_the_durable_log_cannot_write_is_servfail_and_changes_nothing() -> None:
    s = store()
    seen: list[CommittedUpdate] = []
    s.subscribe(seen.append)

    def full_disk(committed: CommittedUpdate) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    s.set_durable_log(full_disk)
    before = {name: dict(node) for name, node in s.zones[ZONE].nodes.items()}
    result = s.apply(Update(ZONE, changes=(C.add("new.example.test.", "A", 60, "192.0.2.3"),
                                           C.delete_name("www.example.test."),
                                           C.delete_rr("txt.example.test.", "TXT", '"hello"'))))
    assert (result.rcode, result.serial, result.committed) == (Rcode.SERVFAIL, 1, None)
    assert "No space left on device" in result.reason
    assert s.zones[ZONE].nodes == before
    assert s.change_log == [] and seen == []
    s.set_durable_log(None)  # the disk has room again: the same update commits
    assert s.apply(Update(ZONE, changes=(C.delete_name("www.example.test."),))).serial == 2


def test_loading_one_big_rrset_costs_about_as_much_cpu_as_as_many_names(tmp_path: Path) -> None:
    """Linear, not quadratic: 20,000 records at one name took 6-16 s (dnspython's reader
    copied the RRset for every record, and so did Zone). CPU time, measured in-process, not
    wall-clock: the ratio holds on a busy machine."""
    def load(names: Callable[[int], str]) -> float:
        path = tmp_path / "big.test.zone"
        path.write_text("$ORIGIN big.test.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n"
                        "@ NS ns1\nns1 A 127.0.0.1\n" + "".join(
                            f"{names(i)} A 10.{i >> 16}.{i >> 8 & 255}.{i & 255}\n"
                            for i in range(20_000)))
        start = time.process_time()
        zone = load_zone_file(path)
        spent = time.process_time() - start
        assert len(zone.records()) == 20_003
        return spent

    one_name = load(lambda i: "www")
    many_names = load(lambda i: f"w{i}")
    assert one_name < 2.5 * many_names, (one_name, many_names)


def test_a_name_with_a_cname_and_other_data_is_refused(tmp_path: Path) -> None:
    base = Zone.empty(ZONE)
    with pytest.raises(ValueError, match=r"www\.example\.test\. has a CNAME and other data"):
        Zone(ZONE, base.soa, [RR.make("www.example.test.", "CNAME", 60, "x.example.test."),
                              RR.make("www.example.test.", "A", 60, "192.0.2.1")])
    path = tmp_path / "example.test.zone"
    path.write_text("@ 60 SOA ns1 h 1 1 1 1 1\n@ 60 NS ns1\nwww 60 CNAME x\nwww 60 A 192.0.2.1\n")
    with pytest.raises(ConfigError, match="CNAME and other data"):
        load_zone_file(path)


def test_a_zone_file_keeps_each_rrset_in_file_order_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "example.test.zone"
    path.write_text("@ 60 SOA ns1 h 1 1 1 1 1\n@ 60 NS ns1\nwww 60 A 192.0.2.3\n"
                    "www 60 A 192.0.2.1\nwww 30 A 192.0.2.3\nwww 30 A 192.0.2.2\n")
    zone = load_zone_file(path)
    assert [rr.to_text() for rr in zone.rrset("www.example.test.", "A")] == [
        f"www.example.test. 30 IN A 192.0.2.{n}" for n in (3, 1, 2)]


# -- lookups (RFC 1034 §4.3.2, RFC 2308) ------------------------------------------------------

LOOKUPS = [
    ("a present RRset answers NOERROR with its records", "www.example.test.", "A",
     Rcode.NOERROR, 2, 0),
    ("a name without that type is NODATA with the SOA", "www.example.test.", "TXT",
     Rcode.NOERROR, 0, 1),
    ("a missing name is NXDOMAIN with the SOA", "nope.example.test.", "A", Rcode.NXDOMAIN, 0, 1),
    ("an empty non-terminal is NODATA, not NXDOMAIN (RFC 8020)", "b.deep.example.test.", "A",
     Rcode.NOERROR, 0, 1),
    ("a CNAME is followed with the chain in the answer", "alias.example.test.", "A",
     Rcode.NOERROR, 3, 0),
    ("a CNAME query returns the CNAME itself", "alias.example.test.", "CNAME",
     Rcode.NOERROR, 1, 0),
    ("a name outside every zone is REFUSED", "www.example.org.", "A", Rcode.REFUSED, 0, 0),
]


@pytest.mark.parametrize(("qname", "qtype", "rcode", "answers", "authorities"),
                         [row[1:] for row in LOOKUPS], ids=[row[0] for row in LOOKUPS])
def test_lookups_answer_as_an_authoritative_server(qname: str, qtype: str, rcode: Rcode,
                                                   answers: int, authorities: int) -> None:
    result = store().lookup(qname, qtype)
    assert (result.rcode, len(result.answer), len(result.authority)) == (
        rcode, answers, authorities)


def test_a_cname_loop_is_servfail_with_the_chain_so_far() -> None:
    s = store()
    s.apply(Update(ZONE, changes=(C.add("l1.example.test.", "CNAME", 60, "l2.example.test."),
                                  C.add("l2.example.test.", "CNAME", 60, "l1.example.test."))))
    result = s.lookup("l1.example.test.", "A")
    assert result.rcode == Rcode.SERVFAIL and len(result.answer) == 2


def test_an_update_whose_changes_cancel_out_is_no_change_and_keeps_rrset_order() -> None:
    s = store()
    before = s.zones[ZONE].records()
    result = s.apply(Update(ZONE, changes=(
        C.delete_rr("www.example.test.", "A", "192.0.2.1"),
        C.add("www.example.test.", "A", 60, "192.0.2.1"),
        C.add("tmp.example.test.", "A", 60, "192.0.2.7"),
        C.delete_name("tmp.example.test."))))
    assert result.rcode == Rcode.NOERROR and result.committed is None
    assert s.zones[ZONE].records() == before  # serial included
    assert s.change_log == []
