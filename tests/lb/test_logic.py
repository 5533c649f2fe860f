"""The LB's pure logic: classifying DNS answers, the TTL cache, picking backends, accounting,
the traffic schedule and its per-interval book, and reading /healthz replies."""

from __future__ import annotations

import json

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_lb import DnsFailure, FailureKind, LbStats, Resolution, TrafficPlan
from fake_lb._balance import LbAccounts, RoundRobin
from fake_lb._resolve import AnswerCache, classify_response
from fake_lb._traffic import IntervalBook, IntervalStats, Outcome, classify_reply
from reproducer.running.http_health import health_from_reply
from reproducer.world.health import BackendHealth

NAME = "dynamodb.us-east-1.amazonaws.com."
TREE = "g0007.dynamodb.plans.us-east-1.amazonaws.com."
SOA = "ns1.us-east-1.amazonaws.com. hostmaster.us-east-1.amazonaws.com. 9 3600 600 86400 60"


def response(rcode: int, answer: list[tuple[str, int, str, str]],
             soa_ttl: int | None = None) -> dns.message.Message:
    query = dns.message.make_query(NAME, "A")
    reply = dns.message.make_response(query)
    reply.set_rcode(dns.rcode.Rcode(rcode))
    for owner, ttl, rtype, rdata in answer:
        reply.answer.append(dns.rrset.from_text(owner, ttl, "IN", rtype, *rdata.split(",")))
    if soa_ttl is not None:
        reply.authority.append(
            dns.rrset.from_text("us-east-1.amazonaws.com.", soa_ttl, "IN", "SOA", SOA))
    return reply


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_cname_chain_to_addresses_resolves_for_the_smallest_ttl_in_the_chain() -> None:
    reply = response(0, [(NAME, 60, "CNAME", TREE), (TREE, 5, "A", "127.0.0.11,127.0.0.12")])

    assert classify_response(NAME, dns.rdatatype.A, reply) == (
        Resolution(NAME, ("127.0.0.11", "127.0.0.12"), (TREE,), 5), 5)


def test_noerror_with_only_the_cname_is_an_empty_answer_cached_per_rfc_2308() -> None:
    reply = response(0, [(NAME, 30, "CNAME", TREE)], soa_ttl=120)

    outcome, ttl_s = classify_response(NAME, dns.rdatatype.A, reply)

    assert outcome == DnsFailure(
        FailureKind.EMPTY_ANSWER, NAME, "NOERROR",
        f"{NAME} resolved to no address: rcode NOERROR, the answer held no A record "
        f"-> CNAME {TREE} (empty answer)")
    assert ttl_s == 30  # min(CNAME TTL 30, SOA TTL 120, SOA MINIMUM 60)


def test_nxdomain_is_its_own_reason_and_is_cached_for_the_soa_minimum() -> None:
    outcome, ttl_s = classify_response(NAME, dns.rdatatype.A, response(3, [], soa_ttl=3600))

    assert isinstance(outcome, DnsFailure)
    assert (outcome.kind, outcome.rcode, ttl_s) == (FailureKind.NXDOMAIN, "NXDOMAIN", 60)


def test_servfail_is_reported_with_its_rcode_and_never_cached() -> None:
    outcome, ttl_s = classify_response(NAME, dns.rdatatype.A, response(2, []))

    assert outcome == DnsFailure(FailureKind.RCODE, NAME, "SERVFAIL", f"{NAME} could not be "
                                 "resolved: the DNS server answered rcode SERVFAIL")
    assert ttl_s == 0


def test_a_cname_loop_in_an_answer_ends_as_an_empty_answer_instead_of_hanging() -> None:
    reply = response(0, [(NAME, 5, "CNAME", TREE), (TREE, 5, "CNAME", NAME)])

    outcome, _ = classify_response(NAME, dns.rdatatype.A, reply)

    assert isinstance(outcome, DnsFailure) and outcome.kind is FailureKind.EMPTY_ANSWER


def test_the_answer_cache_forgets_an_entry_exactly_when_its_ttl_has_passed() -> None:
    clock = Clock()
    cache = AnswerCache(clock)
    answer = Resolution(NAME, ("127.0.0.11",), (), 2)
    cache.put(NAME, 1, answer, 2)
    cache.put("zero.", 1, answer, 0)

    clock.now = 1.999
    assert (cache.get(NAME, 1), cache.get("zero.", 1)) == (answer, None)
    clock.now = 2.0
    assert cache.get(NAME, 1) is None


@given(st.lists(st.sampled_from([f"127.0.0.{i}" for i in range(1, 9)]), min_size=1,
                max_size=8, unique=True), st.integers(0, 20), st.integers(1, 5))
def test_round_robin_gives_every_address_the_same_share_from_any_starting_turn(
        addresses: list[str], warmup: int, rounds: int) -> None:
    picker = RoundRobin()
    for _ in range(warmup):
        picker.pick(["127.0.0.200"])

    picks = [picker.pick(addresses) for _ in range(rounds * len(addresses))]

    assert sorted(picks) == sorted(addresses * rounds)


def test_round_robin_refuses_to_pick_from_no_address() -> None:
    with pytest.raises(ValueError, match="empty address list"):
        RoundRobin().pick([])


def test_lb_accounts_count_each_request_once_and_survive_a_json_round_trip() -> None:
    accounts = LbAccounts("127.0.0.101:8080")
    for address in ("127.0.0.11", "127.0.0.12", "127.0.0.11"):
        accounts.request()
        accounts.resolved(("127.0.0.11", "127.0.0.12"))
        accounts.forwarded(address)
    accounts.request()
    accounts.failed("dns-empty-answer", "no address", resolution_failed=True)

    stats = accounts.snapshot()

    assert stats == LbStats("127.0.0.101:8080", 4, 3, (("dns-empty-answer", 1),),
                            (("127.0.0.11", 2), ("127.0.0.12", 1)), (), "no address")
    assert LbStats.from_json(json.loads(json.dumps(stats.to_json()))) == stats


def test_a_traffic_plan_sends_rate_times_duration_requests_over_its_intervals() -> None:
    plan = TrafficPlan(rate_per_s=10, duration_s=2.5, interval_s=1.0)

    assert (plan.total_requests, plan.interval_count) == (25, 3)
    assert [plan.interval_of(i) for i in (0, 9, 10, 19, 20, 24)] == [0, 0, 1, 1, 2, 2]
    assert [plan.request(i) for i in range(3)] == [("PUT", "/items/k0"), ("GET", "/items/k0"),
                                                   ("PUT", "/items/k1")]


@pytest.mark.parametrize("field", ["rate_per_s", "duration_s", "interval_s", "timeout_s"])
@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_a_traffic_plan_rejects_a_non_positive_or_non_finite_number(field: str,
                                                                    bad: float) -> None:
    values = {"rate_per_s": 1.0, "duration_s": 1.0, "interval_s": 1.0, "timeout_s": 1.0}
    with pytest.raises(ValueError, match=f"TrafficPlan.{field} must be a positive number"):
        TrafficPlan(**{**values, field: bad})


def test_a_traffic_plan_beyond_the_request_bound_is_refused_with_the_numbers() -> None:
    with pytest.raises(ValueError, match=r"2000000 requests \(rate 1e\+06/s for 2 s\)"):
        TrafficPlan(rate_per_s=1e6, duration_s=2)


@given(st.permutations(list(range(12))))
def test_intervals_complete_in_order_whatever_order_requests_finish_in(order: list[int]) -> None:
    plan = TrafficPlan(rate_per_s=4, duration_s=3, interval_s=1)
    book = IntervalBook(plan)
    emitted: list[IntervalStats] = []

    for i in order:
        outcome = Outcome(True, None, 0.001) if i % 3 else Outcome(False, "dns-no-answer", 0.002)
        emitted.extend(book.record(i, outcome))

    assert [s.index for s in emitted] == [0, 1, 2]
    assert emitted[0] == IntervalStats(0, 0.0, 1.0, 4, 2, (("dns-no-answer", 2),), 2.0)
    assert json.loads(json.dumps([s.to_json() for s in emitted]))[0]["failed"] == 2


def test_an_interval_that_sends_nothing_is_still_reported_in_order() -> None:
    book = IntervalBook(TrafficPlan(rate_per_s=0.5, duration_s=4, interval_s=1))

    assert [s.index for s in book.completed()] == []
    assert [(s.index, s.sent) for s in book.record(0, Outcome(True, None, 0.0))] == [(0, 1),
                                                                                     (1, 0)]
    assert [(s.index, s.sent) for s in book.record(1, Outcome(True, None, 0.0))] == [(2, 1),
                                                                                     (3, 0)]


def test_an_interval_line_names_every_failure_reason() -> None:
    stats = IntervalStats(3, 3.0, 4.0, 50, 48, (("dns-empty-answer", 2),), 1.5)

    assert stats.line() == "t=  3.0-  4.0s sent    50 ok    48 fail     2 (dns-empty-answer 2)"


def test_a_reply_is_a_success_when_a_backend_served_it_even_with_404() -> None:
    assert classify_reply(404, None) == (True, None)
    assert classify_reply(503, "dns-empty-answer") == (False, "dns-empty-answer")
    assert classify_reply(500, None) == (False, "http-500")


@pytest.mark.parametrize(("status", "payload", "expected"), [
    (200, {"healthy": True, "capacity": 3}, BackendHealth("127.0.0.11", True, 3)),
    (503, {"healthy": False, "capacity": 0}, BackendHealth("127.0.0.11", False, 0)),
    (200, {"healthy": True, "capacity": 0}, BackendHealth("127.0.0.11", False, 0)),
    (200, {"healthy": True, "capacity": True}, BackendHealth("127.0.0.11", False, 0)),
    (200, ["not", "an", "object"], BackendHealth("127.0.0.11", False, 0)),
])
def test_a_healthz_reply_is_healthy_only_when_it_says_so_with_a_positive_capacity(
        status: int, payload: object, expected: BackendHealth) -> None:
    assert health_from_reply("127.0.0.11", status, payload) == expected
