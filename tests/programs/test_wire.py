"""What a program's messages mean, without I/O: the plan store's requests and answers, and a
DNS request as an action."""

from __future__ import annotations

import json
import time

import dns.message
import dns.rcode
import dns.tsig
import dns.update

from fake_dns import DnsRequest, read_request
from reproducer.programs.wire import (
    HttpAnswer,
    dns_action,
    plan_json,
    plan_store_action,
    plan_store_answer,
)
from reproducer.world.config import Config
from reproducer.world.values import (
    DeletePlans,
    Done,
    PlanRead,
    PlansRead,
    Query,
    ReadNewestPlan,
    ReadPlans,
    SendUpdate,
)

CONFIG = Config()


def test_the_plan_store_paths_are_reads_of_every_plan_a_wait_for_a_newer_one_and_a_delete(
) -> None:
    assert plan_store_action("GET", "/plans", {}) == ReadPlans()
    assert plan_store_action("GET", "/plans/newest", {"newer_than": "4"}) == ReadNewestPlan(4)
    assert plan_store_action("GET", "/plans/newest", {}) == ReadNewestPlan(0)
    assert plan_store_action("DELETE", "/plans/3", {}) == DeletePlans((3,))


def test_a_plan_store_request_that_asks_for_nothing_it_serves_is_answered_at_once() -> None:
    for method, path, query, status in (
            ("GET", "/", {}, 404), ("GET", "/plans/3/x", {}, 404), ("POST", "/plans", {}, 405),
            ("PUT", "/plans/newest", {}, 405), ("GET", "/plans/newest", {"newer_than": "-1"}, 400),
            ("GET", "/plans/3", {}, 405), ("DELETE", "/plans/g3", {}, 404)):
        answer = plan_store_action(method, path, query)
        assert isinstance(answer, HttpAnswer) and answer.status == status, (method, path)
        assert json.loads(answer.body)["error"]


def test_a_plan_is_served_as_names_and_addresses_a_program_can_use_as_they_are() -> None:
    plan = CONFIG.plan(4)
    assert plan_json(plan, CONFIG.layout) == {"generation": 4, "endpoints": [{
        "name": "dynamodb.us-east-1.amazonaws.com.",
        "tree": "g0004.dynamodb.plans.us-east-1.amazonaws.com.",
        "addresses": ["127.0.0.11", "127.0.0.12", "127.0.0.13"]}]}
    read = plan_store_answer(PlanRead(plan), CONFIG.layout)
    assert read.status == 200 and json.loads(read.body)["generation"] == 4
    listed = plan_store_answer(PlansRead((CONFIG.plan(1), plan)), CONFIG.layout)
    assert [p["generation"] for p in json.loads(listed.body)] == [1, 4]


def test_no_newer_plan_once_the_planner_stopped_and_a_delete_are_204_with_no_body() -> None:
    for result in (PlanRead(None), Done()):
        assert plan_store_answer(result, CONFIG.layout) == HttpAnswer(204)


def test_a_dns_query_is_a_query_action_and_an_update_a_send_update_action() -> None:
    query = dns.message.make_query("DynamoDB.us-east-1.amazonaws.com.", "CNAME").to_wire()
    request = read_request(query, tcp=False, keys={}, now=0)
    assert isinstance(request, DnsRequest)
    assert dns_action(request) == Query("dynamodb.us-east-1.amazonaws.com.", "CNAME")
    update = dns.update.UpdateMessage("us-east-1.amazonaws.com.")
    update.replace("dynamodb", 3, "CNAME", "g0004.dynamodb.plans")
    key = {"enactor-1.": b"k" * 32}
    update.use_tsig(dns.tsig.Key("enactor-1.", b"k" * 32, "hmac-sha256"))
    request = read_request(update.to_wire(), tcp=False, keys=key, now=int(time.time()))
    assert isinstance(request, DnsRequest) and request.key_name == "enactor-1."
    action = dns_action(request)
    assert isinstance(action, SendUpdate) and action.update.zone == "us-east-1.amazonaws.com."
    assert "add dynamodb.us-east-1.amazonaws.com. CNAME" in action.update.describe()


def test_an_unsigned_update_is_refused_at_once_without_asking_the_zone() -> None:
    update = dns.update.UpdateMessage("us-east-1.amazonaws.com.")
    update.delete("dynamodb")
    answer = read_request(update.to_wire(), tcp=False, keys={}, now=0)
    assert isinstance(answer, bytes)
    assert dns.message.from_wire(answer).rcode() == dns.rcode.REFUSED
